/**
 * Where an execution's events are on SQLite. The log (`workflow_events`) is
 * keyed by one integer, `position`: the execution's `log_key` (a number
 * given when it is created, see `nextLogKey`) times 2^24, plus the event's
 * seq; its `seq` and `log_key` columns are computed from it. An execution's
 * events are together and in order, as they were under the clustered key
 * (execution_id, seq), but the table is now a rowid table: SQLite appends to
 * one without rebalancing pages, where the clustered b-tree moved rows
 * between siblings whenever an execution's page filled (see docs/design.md,
 * "The log keyed by position"). PostgreSQL keeps (execution_id, seq).
 *
 * Positions stay in SQL, in integer arithmetic: a position past 2^53 is no
 * JavaScript number, and a number bound from JavaScript is a REAL to SQLite
 * (better-sqlite3 binds doubles), which would make the sum a double too. The
 * statements take ids and seqs, cast every bound seq to an integer, and
 * compute positions themselves.
 */
import { StorageError } from "./service.js"

/** 2^24: an execution's positions are its log key times this, plus each seq. */
const SPAN = "16777216"

/** The highest seq an execution's log can hold (2^24 - 1): one more would be the next execution's first. */
export const LAST_SEQ = 16777215

/** The highest log key (2^39 - 1): its last position is 2^63 - 1, SQLite's largest integer. */
export const LAST_KEY = 549755813887

/** Throws, before anything is written, when a commit would take the log of `id` past `LAST_SEQ`. */
export const checkRoom = (id: string, lastSeq: number): void => {
  if (lastSeq > LAST_SEQ) {
    throw new StorageError({
      operation: "commit",
      reason: `the log of execution "${id}" is full: it holds at most ${LAST_SEQ} events on SQLite`
    })
  }
}

/**
 * The log key of an execution being inserted: one more than the highest given (the unique index on
 * `log_key` finds it), so that a key is not reused while its execution exists. Null past `LAST_KEY`, which
 * the column refuses (`NOT NULL constraint failed: workflow_executions.log_key`): keys are not reclaimed,
 * so a database takes 2^39 executions over its life.
 */
export const nextLogKey = `(select case when max(log_key) >= ${LAST_KEY} then null
  else coalesce(max(log_key), -1) + 1 end from workflow_executions)`

/**
 * The positions of the log keyed `logKey` from seq `fromSeq` on (SQL expressions), as a `between`. A seq
 * below 0 counts as 0: the positions before a log's first are the end of the previous execution's.
 */
const range = (logKey: string, fromSeq: string) =>
  `between ${logKey} * ${SPAN} + max(cast(${fromSeq} as integer), 0) and ${logKey} * ${SPAN} + ${LAST_SEQ}`

/**
 * The events of the execution whose id is `id` (an SQL expression, typically `?`), from the seq `fromSeq`
 * on: a `from` clause and its conditions, the execution as `x`, its events as `e`.
 */
export const eventsOf = (id: string, fromSeq = "1"): string =>
  `workflow_executions x, workflow_events e where x.id = ${id} and e.position ${range("x.log_key", fromSeq)}`

/**
 * The last seq in the log keyed `logKey` (an SQL expression, such as the `log_key` column of the
 * execution's row a statement reads or updates), 0 for none.
 */
export const loggedSeqOfKey = (logKey: string): string =>
  `(select coalesce(max(position) - ${logKey} * ${SPAN}, 0) from workflow_events where position ${range(logKey, "1")})`

/** The last event of the log keyed `logKey`, as a `from` clause and its conditions. */
export const lastEventOf = (logKey: string): string =>
  `workflow_events where position ${range(logKey, "1")} order by position desc limit 1`

/** Deletes the log of the execution `?` (before its row, whose log key it reads). */
export const deleteLog = `with x as (select log_key from workflow_executions where id = ?)
  delete from workflow_events where position ${range("(select log_key from x)", "0")}`

const insertTexts: Array<Array<string>> = [[], []]

/**
 * Inserts `count` events into the log of the execution `?` (the last parameter but those of `guard`):
 * each row's parameters are its seq, type and payload, and with `journaled` the step's journal entry
 * (key, name, result) as well. No row is inserted when the execution does not exist, nor when `guard`,
 * conditions on its row, does not hold; a seq already in the log fails on the log's key.
 */
export const insertEvents = (count: number, journaled: boolean, guard = ""): string => {
  const texts = insertTexts[journaled ? 1 : 0]!
  const cached = guard === "" ? texts[count] : undefined
  if (cached !== undefined) return cached
  const width = journaled ? 6 : 3
  const row = `(${Array.from({ length: width }, () => "?").join(", ")})`
  const text = `insert into workflow_events (position, type, payload${
    journaled ? ", journal_key, journal_name, journal_result" : ""
  })
    select x.log_key * ${SPAN} + cast(v.column1 as integer), v.column2, v.column3${
    journaled ? ", v.column4, v.column5, v.column6" : ""
  }
      from (values ${Array.from({ length: count }, () => row).join(", ")}) as v, workflow_executions x
     where x.id = ?${guard}`
  if (guard === "") texts[count] = text
  return text
}
