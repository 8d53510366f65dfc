/**
 * The one commit of the SQL storages, written once as a program of
 * statements and run by three drivers: synchronously on better-sqlite3,
 * asynchronously on `pg`, and through any `SqlClient`.
 */
import type { Commit, ExecutionStatus } from "../../ExecutionStorage.js"
import type { Dialect } from "./dialect.js"
import { dbNow } from "./dialect.js"
import type { EncodedCommit } from "./payload.js"
import type { Notice } from "./pgNotices.js"
import { channelParams, channelsOf } from "./pgNotices.js"
import {
  ApprovalNotPending,
  conditional,
  ExecutionFinished,
  ExecutionNotFound,
  ExecutionNotOwned,
  isTerminal,
  SignalPending,
  StorageError
} from "./service.js"
import * as SqliteLog from "./sqliteLog.js"

/**
 * A statement with `?` placeholders, and its parameters. Every statement
 * answers with rows (an empty array when it returns none).
 */
export interface Query {
  readonly text: string
  readonly params: ReadonlyArray<unknown>
}

export type Rows = ReadonlyArray<Record<string, unknown>>

export type CommitProgram = Generator<Query, number, Rows>

const query = (text: string, params: ReadonlyArray<unknown>): Query => ({ text, params })

export { dbNow, type Dialect }

/**
 * The condition that an execution has not finished, on its `status` column. Three comparisons, not
 * `not in (...)`: SQLite builds a temporary b-tree for an `in` list on each run, and in a step's commit (an
 * update with `returning`, which builds one of its own) that cost the statement about a third more.
 */
export const unfinished = "status <> 'completed' and status <> 'failed' and status <> 'cancelled'"

/** The last seq in PostgreSQL's log of the execution `id` (an expression), 0 for none (SQLite's: sqliteLog.ts). */
export const loggedSeq = (id: string): string =>
  `(select coalesce(max(seq), 0) from workflow_events where execution_id = ${id})`

/** `recordColumns` of a dialect: the last seq of the log, and the last event of it as `from` and `where`. */
const loggedColumns = (lastSeq: string, lastEvent: string, timestamp: string): string =>
  `*,
    case when status = 'running' then ${lastSeq} end as logged_seq,
    case when status = 'running' then (select ${timestamp} from ${lastEvent}) end as logged_at`

/**
 * The last seq of the execution whose row a statement updates. A step's end is stored in the log alone
 * (`stepEndRows`, `guardedStepEnd`, `foldedStepEnd`), so the row's `last_seq` may lag the log until the
 * next commit that updates it, which counts from the log. On PostgreSQL the row's own `last_seq` is kept
 * too: a statement that waited for another's lock on the row re-reads the row it updates, but not a
 * subquery, so two commits that update the row number after each other through it.
 */
const lastSeqOf: Record<Dialect, string> = {
  pg: `greatest(last_seq, ${loggedSeq("workflow_executions.id")})`,
  sqlite: SqliteLog.loggedSeqOfKey("workflow_executions.log_key")
}

/**
 * The columns a read of an execution's row selects. A step's end is stored in the log alone, so while an
 * execution runs its row's `last_seq` and `updated_at` may lag its log: the read takes the log's last
 * seq, and the time of its last event (stamped on the engine's clock, as `updated_at` is), too. Any other
 * commit updates the row, counting from the log.
 */
export const recordColumns: Record<Dialect, string> = {
  pg: loggedColumns(
    loggedSeq("workflow_executions.id"),
    "workflow_events where execution_id = workflow_executions.id order by seq desc limit 1",
    "(payload::json ->> 'timestamp')::float8"
  ),
  sqlite: loggedColumns(
    SqliteLog.loggedSeqOfKey("workflow_executions.log_key"),
    SqliteLog.lastEventOf("workflow_executions.log_key"),
    "json_extract(payload, '$.timestamp')"
  )
}

// The first statement sets only the columns a commit changes (a step's commit leaves the status, and so its
// index, alone), and is guarded by the owner when there is one: one text per dialect and shape, built once.
const STATUS = 1
const OUTPUT = 2
const ERROR = 4
const OWNER = 8
const RELEASE = 16
const advanceTexts: Record<Dialect, Array<string>> = { pg: [], sqlite: [] }
const advanceText = (dialect: Dialect, shape: number): string =>
  advanceTexts[dialect][shape] ??= `update workflow_executions
     set last_seq = ${lastSeqOf[dialect]} + ?, updated_at = ?${
    shape & STATUS ? ", status = ?, waiting_for = ?, wake_at = ?" : ""
  }${shape & OUTPUT ? ", output = ?" : ""}${shape & ERROR ? ", error = ?" : ""}${
    shape & RELEASE ? ", owner = null, lease_until = null" : ""
  }
     where id = ? and ${unfinished}${shape & OWNER ? ` and owner = ? and lease_until > ${dbNow[dialect]}` : ""}
     returning last_seq${dialect === "pg" ? ", queue, followed_until" : ""}`

const advance = (
  dialect: Dialect,
  id: string,
  commit: Commit,
  encoded: EncodedCommit,
  now: number,
  owner: string | undefined
): Query => {
  const set: Array<unknown> = []
  let shape = 0
  const column = (flag: number, value: unknown) => {
    shape |= flag
    set.push(value)
  }
  if (commit.status !== undefined) {
    // A status clears what a wait set, unless it is that wait.
    column(STATUS, commit.status)
    set.push(commit.wait?.for ?? null, commit.wait?.wakeAt ?? null)
  }
  // A finished execution is held by nobody: its end releases the lease.
  if (commit.status !== undefined && isTerminal(commit.status)) shape |= RELEASE
  if (encoded.output !== null) column(OUTPUT, encoded.output)
  if (encoded.error !== null) column(ERROR, encoded.error)
  if (owner !== undefined) shape |= OWNER
  const params = [encoded.events.length, now, ...set, id]
  if (owner !== undefined) params.push(owner)
  return query(advanceText(dialect, shape), params)
}

export interface CommitOptions {
  /** The statement notifying a commit to an execution with the status it leaves it in, if any (pgChanges.ts). */
  readonly notice?: (id: string, status: ExecutionStatus | undefined) => Query | undefined
  /** The insert creating the execution, first (its run's first write; see `WriterOptions.create`). */
  readonly create?: Query | undefined
  /**
   * A step's end alone goes in the log alone (`stepEndRows`): on SQLite, in a transaction that took the
   * write lock as it began (`BEGIN IMMEDIATE`), so that its first statement, a read, guards as an update
   * would. A `SqlClient`'s transaction may begin deferred: there a read first could meet a commit of
   * another connection before its write, and fail.
   */
  readonly stepEndInLog?: boolean
}

/**
 * The statements of one commit, to run inside one transaction: advance the
 * execution (status, `last_seq`; also locks its row, and refuses a run that
 * no longer holds it), answer an approval, check the inbox before a signal
 * wait, insert the events, upsert the journal entry, take a received signal
 * out of the inbox, put a sent one in (and wake the execution if it waits
 * for it). The inbox is read after the row is locked, in a statement of its
 * own: on PostgreSQL that statement sees a signal whose sender held the lock
 * before, and a sender that comes after sees the execution waiting. Throws the commit's errors (the transaction, or the
 * commit's savepoint, is then rolled back). Returns the new `last_seq`.
 * `owner` (the run committing, if any) guards the commit: it must still own
 * the execution, and its lease must not have expired on the database's
 * clock. `now` (the caller's) only stamps `updated_at`.
 */
export function* commitProgram(
  dialect: Dialect,
  id: string,
  commit: Commit,
  encoded: EncodedCommit,
  now: number,
  owner: string | undefined,
  options: CommitOptions = {}
): CommitProgram {
  const { create, notice } = options
  if (create !== undefined && (yield create).length === 0) throw alreadyExists(id)
  const events = encoded.events
  if (options.stepEndInLog === true && create === undefined && endsAStepAlone(commit, encoded)) {
    return yield* stepEndRows(id, commit.journal!, encoded, owner)
  }
  if (dialect === "pg" && create === undefined) yield lockRow(id)
  const advanced = yield advance(dialect, id, commit, encoded, now, owner)
  if (advanced.length === 0) throw refusal(id, owner, (yield statusQuery(id))[0])
  if (commit.waitingFor !== undefined) {
    const [entry] = yield query("select state from workflow_journal where execution_id = ? and key = ?", [
      id,
      commit.waitingFor.key
    ])
    if (entry?.state !== "waiting") {
      throw new ApprovalNotPending({ executionId: id, taskId: commit.waitingFor.taskId })
    }
  }
  if (commit.answer !== undefined) {
    const answered = yield query(
      `update workflow_journal set state = 'completed', result = ?
       where execution_id = ? and kind = 'approval' and task_id = ? and state = 'waiting'
       returning key`,
      [encoded.answer, id, commit.answer.taskId]
    )
    if (answered.length === 0) throw new ApprovalNotPending({ executionId: id, taskId: commit.answer.taskId })
  }
  const unless = commit.wait?.unlessSignal
  if (unless !== undefined) {
    const pending = yield query(
      "select seq from workflow_signals where execution_id = ? and name = ? and received_by is null limit 1",
      [id, unless]
    )
    if (pending.length > 0) throw new SignalPending({ executionId: id, name: unless })
  }
  const first = Number(advanced[0]!.last_seq) - events.length + 1
  if (events.length > 0) {
    yield insertEvents(dialect, id, events.map(({ payload, type }, i) => [first + i, type, payload]))
  }
  const entry = commit.journal
  if (entry !== undefined) {
    yield query(
      journalUpsert("values (?, ?, ?, ?, ?, ?, ?, ?)"),
      journalRow(id, entry, encoded)
    )
  }
  if (commit.consume !== undefined) {
    yield query("update workflow_signals set received_by = ? where execution_id = ? and seq = ?", [
      entry?.key ?? "",
      id,
      commit.consume
    ])
  }
  let status = commit.status
  if (commit.signal !== undefined) {
    yield query("insert into workflow_signals (execution_id, seq, name, payload) values (?, ?, ?, ?)", [
      id,
      first,
      commit.signal.name,
      encoded.signal
    ])
    if ((yield wakeFor(id, commit.signal.name)).length > 0) status = "running"
  }
  const toParent = commit.signalParent
  const parentSignal = encoded.parentSignal
  let parentNotice: Query | undefined
  if (toParent !== undefined && parentSignal !== null) {
    // The parent's row is locked (after the child's), then numbered from: its seq, unless it has finished.
    if (dialect === "pg") yield lockRow(toParent.parent)
    const [parent] = yield query(
      `update workflow_executions set last_seq = ${lastSeqOf[dialect]} + 1, updated_at = ?
       where id = ? and ${unfinished} returning last_seq`,
      [now, toParent.parent]
    )
    if (parent !== undefined) {
      const seq = Number(parent.last_seq)
      yield insertEvents(dialect, toParent.parent, [[seq, parentSignal.type, parentSignal.event]])
      yield query("insert into workflow_signals (execution_id, seq, name, payload) values (?, ?, ?, ?)", [
        toParent.parent,
        seq,
        toParent.name,
        parentSignal.payload
      ])
      const woken = (yield wakeFor(toParent.parent, toParent.name)).length > 0
      parentNotice = notice?.(toParent.parent, woken ? "running" : undefined)
    }
  }
  // Last, so that they are sent only if everything before was stored (NOTIFY is delivered on commit).
  const notified = notice?.(id, status)
  if (notified !== undefined) yield notified
  if (parentNotice !== undefined) yield parentNotice
  return first + events.length - 1
}

/** An event's row in the log: its seq, type and payload, and the journal entry a step's end carries, if any. */
export type EventRow =
  | readonly [seq: number, type: string, payload: string]
  | readonly [seq: number, type: string, payload: string, key: unknown, name: unknown, result: unknown]

/**
 * Inserts events (seqs ascending) into the log of the execution `id`, in either dialect's layout; with
 * `journaled`, every row has the journal columns.
 */
export const insertEvents = (
  dialect: Dialect,
  id: string,
  rows: ReadonlyArray<EventRow>,
  journaled = false
): Query => {
  if (dialect === "pg") {
    const columns = journaled ? "(?, ?, ?, ?, ?, ?, ?)" : "(?, ?, ?, ?)"
    return query(
      `insert into workflow_events (execution_id, seq, type, payload${
        journaled ? ", journal_key, journal_name, journal_result" : ""
      }) values ${rows.map(() => columns).join(", ")}`,
      rows.flatMap((row) => [id, ...row])
    )
  }
  SqliteLog.checkRoom(id, rows[rows.length - 1]![0])
  return query(SqliteLog.insertEvents(rows.length, journaled), [...rows.flat(), id])
}

/**
 * Locks an execution's row on PostgreSQL, in a statement of its own, before a program's statements number
 * events after its log's last seq. A step's end stored in the log alone (`foldedStepEnd`) locks the row
 * only to share, without updating it: a statement that waited for it would number from what its own
 * snapshot, taken before the wait, saw of the log, and collide with the end's rows; and the run's next
 * end would be in flight by the time it tried again. The statements after this one (read committed: a
 * snapshot each) see every end stored before the lock, and no end is stored while it is held.
 */
const lockRow = (id: string): Query => query("select 1 from workflow_executions where id = ? for no key update", [id])

/**
 * Whether a commit only stores a step's end (its events, the last its `step_end`, and the step's entry
 * journaled completed): nothing else about the execution changes.
 */
export const endsAStepAlone = (commit: Commit, encoded: EncodedCommit): boolean => {
  const entry = commit.journal
  const events = encoded.events
  return entry !== undefined && entry.kind === "step" && entry.state === "completed" &&
    events.length > 0 && events[events.length - 1]!.type === "step_end" &&
    commit.status === undefined && encoded.output === null && encoded.error === null &&
    commit.answer === undefined && commit.waitingFor === undefined && commit.wait === undefined &&
    commit.consume === undefined && commit.signal === undefined && commit.signalParent === undefined
}

const ownedTexts: Partial<Record<"owned" | "anyone", string>> = {}

/**
 * A step's end on SQLite, in the log alone: its events, the step's journal entry in the `step_end` row (see
 * the `9_step_rows` migration), seqs after the log's last. The execution's row is read, not updated: the
 * transaction holds the database's write lock, so the read guards as the update would (unfinished, and
 * held by `owner` with a lease not yet expired on the database's clock), and a step's commit writes one
 * b-tree page where it wrote three. Reads take the execution's `lastSeq` and `updatedAt` from the log.
 */
function* stepEndRows(
  id: string,
  entry: NonNullable<Commit["journal"]>,
  encoded: EncodedCommit,
  owner: string | undefined
): CommitProgram {
  const text = ownedTexts[owner === undefined ? "anyone" : "owned"] ??= `select ${
    SqliteLog.loggedSeqOfKey("workflow_executions.log_key")
  } as last_seq
     from workflow_executions where id = ? and ${unfinished}${
    owner === undefined ? "" : ` and owner = ? and lease_until > ${dbNow.sqlite}`
  }`
  const [held] = yield query(text, owner === undefined ? [id] : [id, owner])
  if (held === undefined) throw refusal(id, owner, (yield statusQuery(id))[0])
  const last = Number(held.last_seq)
  SqliteLog.checkRoom(id, last + encoded.events.length)
  yield query(SqliteLog.insertEvents(encoded.events.length, true), [...stepRowParams(entry, encoded, last), id])
  return last + encoded.events.length
}

/** The rows of a step's end in SQLite's log (`stepEndRows`), with seqs after `last`: `SqliteLog.insertEvents`'. */
const stepRowParams = (
  entry: NonNullable<Commit["journal"]>,
  encoded: EncodedCommit,
  last: number
): Array<unknown> => {
  const params: Array<unknown> = []
  for (let i = 0; i < encoded.events.length; i++) params.push(last + 1 + i, ...stepRow(entry, encoded, i))
  return params
}

/**
 * The columns of a step's end's `i`th row in the log, after its execution and seq: the event's type and
 * payload, and the step's journal entry (key, name, result) in the last row, its `step_end`, only.
 */
export const stepRow = (
  entry: NonNullable<Commit["journal"]>,
  encoded: EncodedCommit,
  i: number
): [string, string, string | null, string | null, string | null] => {
  const event = encoded.events[i]!
  return i === encoded.events.length - 1
    ? [event.type, event.payload, entry.key, entry.name, encoded.journalResult]
    : [event.type, event.payload, null, null, null]
}

const guardedRowsTexts: Array<string> = []

/**
 * A step's end on SQLite as one statement, its own transaction, for a run that knows where its log ended
 * (`last`, from its previous write): the rows of `stepEndRows`, inserted only if the run still holds the
 * execution, unfinished. A statement that writes takes the write lock before it reads, so the guard holds
 * as the transaction's read does. Undefined for a commit that is not a step's end alone, or has no owner.
 * It inserts no row when the run was refused, and fails on the log's key when anyone else wrote after
 * `last` (a signal, a cancel): either way, nothing is stored and the commit is written as a program
 * (`commitProgram`), which counts from the log and says why it was refused.
 */
export const guardedStepEnd = (
  id: string,
  commit: Commit,
  encoded: EncodedCommit,
  owner: string | undefined,
  last: number
): Query | undefined => {
  // Past the log's room, the program says so.
  if (owner === undefined || !endsAStepAlone(commit, encoded) || last + encoded.events.length > SqliteLog.LAST_SEQ) {
    return undefined
  }
  const count = encoded.events.length
  const text = guardedRowsTexts[count] ??= SqliteLog.insertEvents(
    count,
    true,
    ` and ${unfinished} and owner = ? and lease_until > ${dbNow.sqlite}`
  )
  return query(text, [...stepRowParams(commit.journal!, encoded, last), id, owner])
}

/** Sets an execution waiting for the signal `name` running, held by no one, for an engine to launch. */
const wakeFor = (id: string, name: string): Query =>
  query(
    `update workflow_executions set status = 'running', waiting_for = null, wake_at = null, owner = null,
       lease_until = null
     where id = ? and status = 'waiting' and waiting_for = ? returning id`,
    [id, `signal:${name}`]
  )

/** A creation refused: its id is taken (an id the engine made, so never in practice). */
export const alreadyExists = (id: string) =>
  new StorageError({ operation: "create", reason: `execution "${id}" already exists` })

/** Reads the status of an execution whose commit advanced nothing, to say why (`refusal`). */
export const statusQuery = (id: string): Query => query("select status from workflow_executions where id = ?", [id])

/** Why a commit advanced nothing, from the execution's row (`statusQuery`), if there is one. */
export const refusal = (id: string, owner: string | undefined, row: Record<string, unknown> | undefined) => {
  if (row === undefined) return new ExecutionNotFound({ executionId: id })
  const status = row.status as ExecutionStatus
  // A finished execution says so whoever asks; otherwise only the owner guard (owner or lease) can have refused it.
  return isTerminal(status) || owner === undefined
    ? new ExecutionFinished({ executionId: id, status })
    : new ExecutionNotOwned({ executionId: id, owner })
}

/**
 * A commit as one PostgreSQL statement, its own transaction: one round trip. Each part acts on the row
 * the first one advanced, so a refused commit (no row) writes nothing and answers no row; `refusal` then
 * says why. Undefined for a commit that answers or checks an approval: those run `commitProgram`.
 * `notice`, if given, is notified once the commit is stored, on its channels (see pgChanges.ts).
 */
export const singleStatement = (
  id: string,
  commit: Commit,
  encoded: EncodedCommit,
  now: number,
  owner: string | undefined,
  notice?: Notice,
  /** In place of the commit's update: the insert creating the execution as the commit leaves it. */
  created?: Query
): Query | undefined => {
  if (conditional(commit)) return undefined
  const advanced = created ?? advance("pg", id, commit, encoded, now, owner)
  const params = [...advanced.params]
  let text = `with advanced as (${advanced.text})`
  const events = encoded.events
  if (events.length > 0) {
    text += `, events as (
      insert into workflow_events (execution_id, seq, type, payload)
      select ?, (advanced.last_seq - ?::integer + e.ord)::integer, e.type, e.payload
      from advanced, unnest(?::text[], ?::text[]) with ordinality as e(type, payload, ord))`
    params.push(id, events.length, events.map((event) => event.type), events.map((event) => event.payload))
  }
  const entry = commit.journal
  if (entry !== undefined) {
    text += `, journal as (${journalUpsert("select ?, ?, ?, ?, ?, ?, ?, ? from advanced")})`
    params.push(...journalRow(id, entry, encoded))
  }
  if (notice !== undefined) {
    // Referenced below, or it would not run; from the advanced row.
    text += `, notified as (select pg_notify(channels.name, ?) from advanced, ${channelsOf("advanced")})`
    params.push(notice.payload, ...channelParams(notice))
    return query(`${text} select last_seq from advanced, (select count(*) from notified) as sent`, params)
  }
  return query(`${text} select last_seq from advanced`, params)
}

/** Upserts a journal entry from `rows` (its eight columns, `journalRow`). */
const journalUpsert = (rows: string) =>
  `insert into workflow_journal (execution_id, key, name, kind, state, task_id, result, wake_at)
   ${rows}
   on conflict (execution_id, key) do update
     set name = excluded.name, kind = excluded.kind, state = excluded.state,
         task_id = excluded.task_id, result = excluded.result, wake_at = excluded.wake_at`

const journalRow = (id: string, entry: NonNullable<Commit["journal"]>, encoded: EncodedCommit) => [
  id,
  entry.key,
  entry.name,
  entry.kind,
  entry.state,
  entry.taskId ?? null,
  encoded.journalResult,
  entry.wakeAt ?? null
]

/**
 * Runs a program whose statements answer synchronously.
 */
export const runSync = <A>(program: Generator<Query, A, Rows>, execute: (query: Query) => Rows): A => {
  let step = program.next()
  while (step.done !== true) step = program.next(execute(step.value))
  return step.value
}

/**
 * Runs a program whose statements answer asynchronously.
 */
export const runAsync = async <A>(
  program: Generator<Query, A, Rows>,
  execute: (query: Query) => Promise<Rows>
): Promise<A> => {
  let step = program.next()
  while (step.done !== true) step = program.next(await execute(step.value))
  return step.value
}

/**
 * `?` placeholders as PostgreSQL's `$1`, `$2`...
 */
export const numbered = (text: string): string => {
  let n = 0
  return text.replace(/\?/g, () => `$${++n}`)
}
