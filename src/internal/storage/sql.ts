/**
 * The SQL storage, one implementation over `@effect/sql`'s `SqlClient` for
 * SQLite and PostgreSQL alike. Every payload is stored as JSON text; a
 * commit is one transaction.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError as SqlErrorClass } from "@effect/sql/SqlError"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type {
  Commit,
  CommitError,
  ExecutionRecord,
  ExecutionStorageService,
  JournalEntry,
  QueueClaim
} from "../../ExecutionStorage.js"
import type { Dialect, Query, Rows } from "./commitProgram.js"
import { commitProgram, dbNow, numbered, recordColumns, unfinished } from "./commitProgram.js"
import { creating, leaseLength } from "./creating.js"
import * as Forking from "./forking.js"
import { decodeCursor, statusesOf } from "./listing.js"
import { migrations, SCHEMA_VERSION } from "./migrations.js"
import { decodeWith, encodeCommit, parseStored } from "./payload.js"
import * as QueueProgram from "./queueProgram.js"
import type { ExecutionRow, JournalRow } from "./rows.js"
import { eventOf, recordOf, toJournalEntry, toRecord } from "./rows.js"
import { scheduleStore } from "./scheduleProgram.js"
import type { InvalidPayload } from "./service.js"
import { ExecutionNotFound, ExecutionStorage, StorageError } from "./service.js"
import * as SqliteLog from "./sqliteLog.js"
import * as WaitProgram from "./waitProgram.js"
import * as Writer from "./writer.js"

/**
 * `withTransaction` turns a failed COMMIT or ROLLBACK (a lost connection) into a defect; it is a storage
 * failure like any other.
 */
const asFailure = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
  Effect.catchSomeDefect(
    effect,
    (defect) => defect instanceof SqlErrorClass ? Option.some(Effect.fail(defect)) : Option.none()
  )

/**
 * Whether a statement failed because another process created the same thing at the same moment:
 * PostgreSQL's `create table if not exists` (the migrations' own table) is not safe against a concurrent
 * one, and fails with "already exists" (42P07 for the table, 42710 for its key's index) or a duplicate of
 * its row type (23505). Once the other has committed, trying again finds it.
 */
const createdByAnother = (error: SqlError): boolean => {
  const code = (error.cause as { readonly code?: unknown } | undefined)?.code
  return code === "42P07" || code === "42710" || code === "23505"
}

/**
 * Runs the migrations (retrying while another process holds the migration
 * lock, or created the migrations' table at the same moment) and refuses a
 * database whose schema is newer than this library's.
 */
export const migrate: Effect.Effect<void, StorageError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: "workflow_migrations" }).pipe(
    asFailure,
    Effect.retry({
      while: (error) => error._tag === "MigrationError" ? error.reason === "locked" : createdByAnother(error),
      schedule: Schedule.spaced("50 millis").pipe(Schedule.intersect(Schedule.recurs(100)))
    }),
    // A migration that refuses the database says why with a `StorageError`, as a defect (see migrations.ts).
    Effect.catchSomeDefect((defect) =>
      defect instanceof StorageError ? Option.some(Effect.fail(defect)) : Option.none()
    )
  )
  const [latest] = yield* sql<{ readonly id: number | string }>`
    select max(migration_id) as id from workflow_migrations`
  if (Number(latest?.id) > SCHEMA_VERSION) {
    return yield* new StorageError({
      operation: "migrate",
      reason: `the database has schema version ${latest!.id}, newer than the ${SCHEMA_VERSION} this library knows; ` +
        `upgrade @token-ring/workflow to open it`
    })
  }
}).pipe(
  Effect.catchTags({
    SqlError: (cause: SqlError) => new StorageError({ operation: "migrate", reason: cause.message, cause }),
    MigrationError: (cause) => new StorageError({ operation: "migrate", reason: cause.message, cause })
  })
)

/** The dialect of the client: PostgreSQL, or SQLite (the other dialect the statements are written for). */
const dialectOf = (sql: SqlClient.SqlClient): Dialect => sql.onDialectOrElse({ pg: () => "pg", orElse: () => "sqlite" })

/** One commit in one transaction, guarded by `owner` when there is one. */
const commitWith =
  (sql: SqlClient.SqlClient, clock: Clock.Clock) =>
  (id: string, commit: Commit, owner: string | undefined): Effect.Effect<number, CommitError> =>
    Effect.gen(function*() {
      // Encoded before the transaction: a value that is not JSON fails the commit and writes nothing.
      const encoded = yield* Effect.try({
        try: () => encodeCommit(id, commit),
        catch: (error) => error as InvalidPayload
      })
      return yield* transaction<number, CommitError>(
        sql,
        (dialect) => commitProgram(dialect, id, commit, encoded, clock.unsafeCurrentTimeMillis(), owner)
      )
    }).pipe(
      Effect.catchTag("SqlError", (cause) => new StorageError({ operation: "commit", reason: cause.message, cause }))
    )

/**
 * Runs a program of statements (see commitProgram.ts) in one transaction of the client; what the program
 * throws fails the transaction (`E`), and it is rolled back.
 */
const transaction = <A, E>(
  sql: SqlClient.SqlClient,
  program: (dialect: Dialect) => Generator<Query, A, Rows>
): Effect.Effect<A, E | SqlError> => {
  const dialect = dialectOf(sql)
  const placeholders = dialect === "pg" ? numbered : (text: string) => text
  return sql.withTransaction(Effect.gen(function*() {
    const statements = program(dialect)
    let rows: Rows = []
    while (true) {
      let step: IteratorResult<Query, A>
      try {
        step = statements.next(rows)
      } catch (error) {
        return yield* Effect.fail(error as E)
      }
      if (step.done === true) return step.value
      rows = yield* sql.unsafe<Record<string, unknown>>(placeholders(step.value.text), step.value.params)
    }
  })).pipe(asFailure)
}

/** The rows a claim took, as records, with what else it answered. */
const claimedRows = <X extends object>(rows: Rows, answered: X) =>
  Effect.map(
    decodeWith(() => rows.map((row) => recordOf(row as unknown as ExecutionRow))),
    (claimed) => ({ claimed, ...answered })
  )

/** A storage failure of `operation` from whatever the driver threw. */
const failed = (operation: string) => (cause: unknown) =>
  new StorageError({ operation, reason: cause instanceof Error ? cause.message : String(cause), cause })

/**
 * The queue operations over a way to run a program in one transaction, shared by the storages (each runs
 * it on its own driver).
 */
const queues = (
  dialect: Dialect,
  clock: Clock.Clock,
  run: <A>(program: Generator<Query, A, Rows>) => Effect.Effect<A, unknown>,
  single: ((query: Query) => Effect.Effect<Rows, unknown>) | undefined
): Pick<ExecutionStorageService, "defineQueue" | "claimQueued"> => {
  const inTransaction = (request: QueueClaim, now: number) => run(QueueProgram.claimProgram(dialect, request, now))
  // Where a statement costs a round trip, a queue with no limit is claimed from in one (see claimUnlimited).
  const claim = single === undefined ?
    inTransaction :
    (request: QueueClaim, now: number) =>
      // Nothing registered to claim for: no statement (it would name no workflow).
      request.workflows.length === 0 ? inTransaction(request, now) : Effect.flatMap(
        single(QueueProgram.claimUnlimited(request, now)),
        (rows) => {
          const claimed = QueueProgram.unlimitedClaimed(rows)
          return claimed === undefined
            ? inTransaction(request, now)
            : Effect.succeed<{ readonly rows: Rows; readonly retryInMs?: number }>({ rows: claimed })
        }
      )
  return {
    defineQueue: (limits) => Effect.mapError(run(QueueProgram.defineProgram(limits)), failed("defineQueue")),
    claimQueued: (request) =>
      claim(request, clock.unsafeCurrentTimeMillis()).pipe(
        Effect.mapError(failed("claimQueued")),
        Effect.flatMap(({ retryInMs, rows }) => claimedRows(rows, retryInMs === undefined ? {} : { retryInMs }))
      )
  }
}

/**
 * Durable sleep and the inbox of signals over a way to run a program in one transaction, shared by the
 * storages (each runs it on its own driver).
 */
const waits = (
  dialect: Dialect,
  clock: Clock.Clock,
  run: <A>(program: Generator<Query, A, Rows>) => Effect.Effect<A, unknown>
): Pick<ExecutionStorageService, "wakeDue" | "inbox" | "purge"> => ({
  wakeDue: (request) =>
    run(WaitProgram.wakeProgram(dialect, request, clock.unsafeCurrentTimeMillis())).pipe(
      Effect.mapError(failed("wakeDue")),
      Effect.flatMap(({ next, rows }) => claimedRows(rows, next === undefined ? {} : { next }))
    ),
  purge: (request) => Effect.mapError(run(WaitProgram.purgeProgram(dialect, request)), failed("purge")),
  inbox: (id, name) =>
    run(WaitProgram.inboxProgram(id, name)).pipe(
      Effect.mapError(failed("inbox")),
      Effect.flatMap((rows) =>
        decodeWith(() =>
          rows.map((row) => {
            const seq = Number(row.seq)
            const payload = parseStored(() => `signal ${seq} of execution "${id}"`, row.payload as string)
            return { seq, name: String(row.name), payload }
          })
        )
      )
    )
})

/**
 * The journal entries of an execution: those of steps whose end was stored in the log alone come from
 * their `step_end` rows, and are read after the table's (where the step's start, journaled on its own, may
 * still be), so that they are the ones kept.
 */
const journalText = (stepEnds: string) =>
  `select key, name, kind, state, task_id, result, wake_at, 0 as logged from workflow_journal
     where execution_id = ?
   union all
   select journal_key, journal_name, 'step', 'completed', null, journal_result, null, 1 from ${stepEnds}
   order by logged`

const journalTexts: Record<Dialect, string> = {
  pg: journalText("workflow_events where execution_id = ? and journal_key is not null"),
  sqlite: journalText(`${SqliteLog.eventsOf("?")} and e.journal_key is not null`)
}

/** A page of an execution's events from a seq on, in a dialect: `?` for the id, the seq and the limit. */
const eventsTexts: Record<Dialect, string> = {
  pg: "select seq, payload from workflow_events where execution_id = ? and seq >= ? order by seq limit ?",
  sqlite: `select e.seq, e.payload from ${SqliteLog.eventsOf("?", "?")} order by e.position limit ?`
}

/** One entry per key, the last read (`journalText`), where it was first. */
const latestByKey = (entries: ReadonlyArray<JournalEntry>): ReadonlyArray<JournalEntry> => {
  const byKey = new Map<string, JournalEntry>()
  for (const entry of entries) byKey.set(entry.key, entry)
  return byKey.size === entries.length ? entries : [...byKey.values()]
}

/**
 * An execution, its events and its journal, read over a way to run one statement (`?` placeholders). The
 * SQLite storage runs them on its connection: through the client, each read paid more for the client's
 * machinery than for the query. PostgreSQL's go through the client, whose connections are not the
 * commits' (see pg.ts).
 */
export const reading = (
  dialect: Dialect,
  run: (query: Query) => Effect.Effect<Rows, unknown>
): Pick<ExecutionStorageService, "get" | "events" | "journal"> => ({
  get: (id) =>
    Effect.flatMap(
      Effect.mapError(
        run({ text: `select ${recordColumns[dialect]} from workflow_executions where id = ?`, params: [id] }),
        failed("get")
      ),
      ([row]): Effect.Effect<ExecutionRecord, ExecutionNotFound | StorageError> =>
        row === undefined ? new ExecutionNotFound({ executionId: id }) : toRecord(row as unknown as ExecutionRow)
    ),
  events: (id, { fromSeq, limit }) =>
    Effect.flatMap(
      Effect.mapError(
        run({ text: eventsTexts[dialect], params: [id, fromSeq, limit] }),
        failed("events")
      ),
      (rows) => decodeWith(() => rows.map((row) => eventOf(id, row)))
    ),
  journal: (id) =>
    Effect.flatMap(
      Effect.mapError(
        run({ text: journalTexts[dialect], params: [id, id] }),
        failed("journal")
      ),
      (rows) => decodeWith(() => latestByKey(rows.map((row) => toJournalEntry(id, row as unknown as JournalRow))))
    )
})

/**
 * What the storages run as programs in one transaction of their own driver: queues, wake-ups, the inbox,
 * forks.
 */
export const transactional = (
  dialect: Dialect,
  clock: Clock.Clock,
  run: <A>(program: Generator<Query, A, Rows>) => Effect.Effect<A, unknown>,
  /** Runs one statement as its own transaction, where that saves round trips (PostgreSQL). */
  single?: (query: Query) => Effect.Effect<Rows, unknown>
): Pick<
  ExecutionStorageService,
  "defineQueue" | "claimQueued" | "wakeDue" | "inbox" | "purge" | "schedules" | "fork"
> => ({
  ...queues(dialect, clock, run, single),
  ...waits(dialect, clock, run),
  schedules: scheduleStore(run),
  fork: (request) =>
    run(Forking.forkProgram(dialect, request, clock.unsafeCurrentTimeMillis())).pipe(
      Effect.mapError((error) => error instanceof ExecutionNotFound ? error : failed("fork")(error)),
      Effect.flatMap(({ created, row }) =>
        Effect.map(toRecord(row as unknown as ExecutionRow), (record) => ({ record, created }))
      )
    )
})

/**
 * The storage over the `SqlClient` in context. Run `migrate` first (the
 * layers do).
 */
export const make: Effect.Effect<ExecutionStorageService, never, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const clock = yield* Effect.clock
  const failed = (operation: string) => (cause: SqlError) =>
    new StorageError({ operation, reason: cause.message, cause })

  const commitAs = commitWith(sql, clock)
  /** The database's now, in ms since the epoch. */
  const dialect = dialectOf(sql)
  const now = sql.literal(dbNow[dialect])
  const notFinished = sql.literal(unfinished)
  const statement = (query: Query) =>
    sql.unsafe<Record<string, unknown>>(dialect === "pg" ? numbered(query.text) : query.text, query.params)
  const reads = reading(dialect, statement)

  const service: ExecutionStorageService = {
    ...transactional(dialect, clock, (program) => transaction(sql, () => program)),
    ...reads,
    create: creating(dialect, clock, statement, reads.get),

    list: (filter = {}) =>
      Effect.gen(function*() {
        const limit = Math.max(1, Math.floor(filter.limit ?? 100))
        const after = filter.cursor === undefined ? undefined : yield* decodeCursor(filter.cursor)
        const wanted = statusesOf(filter.status)
        const conditions = [
          ...(wanted !== undefined ? [sql.in("status", [...wanted])] : []),
          ...(filter.workflow !== undefined ? [sql`workflow = ${filter.workflow}`] : []),
          ...(filter.parent !== undefined ? [sql`parent = ${filter.parent}`] : []),
          // In characters on both databases (as `substr` counts), not UTF-16 units.
          ...(filter.idPrefix !== undefined
            ? [sql`substr(id, 1, ${[...filter.idPrefix].length}) = ${filter.idPrefix}`]
            : []),
          ...(after !== undefined
            ? [sql`(created_at < ${after.createdAt} or (created_at = ${after.createdAt} and id < ${after.id}))`]
            : [])
        ]
        const rows = yield* sql<ExecutionRow>`
          select ${sql.literal(recordColumns[dialect])} from workflow_executions
          ${conditions.length > 0 ? sql`where ${sql.and(conditions)}` : sql``}
          order by created_at desc, id desc
          limit ${limit + 1}`
        // A row that no longer decodes is reported and left out, so it cannot hide every other execution.
        const decoded = yield* Effect.forEach(rows.slice(0, limit), (row) =>
          toRecord(row).pipe(
            Effect.map(Option.some),
            Effect.catchAll((error) =>
              Effect.as(Effect.logWarning(`Skipping execution "${row.id}": ${error.message}`), Option.none())
            )
          ))
        const executions = decoded.flatMap((record) => Option.isSome(record) ? [record.value] : [])
        const lastRow = rows[Math.min(rows.length, limit) - 1]
        const last = lastRow === undefined ? undefined : { createdAt: Number(lastRow.created_at), id: lastRow.id }
        return rows.length > limit && last !== undefined
          ? { executions, cursor: `${last.createdAt}:${last.id}` }
          : { executions }
      }).pipe(Effect.catchTag("SqlError", failed("list"))),

    commit: (id, commit) => commitAs(id, commit, commit.owner),

    writer: Writer.direct(commitAs),

    // Leases are set and compared on the database's clock, as the statement runs: a caller's clock may be
    // off, and may have been read before the statement waited for the row's lock. A lease is held while
    // the database's now is before `lease_until`.
    claim: (id, owner, leaseMs) =>
      sql<{ readonly id: string }>`
        update workflow_executions set owner = ${owner}, lease_until = ${now} + ${leaseLength(leaseMs)}
        where id = ${id} and ${notFinished}
          and (owner is null or owner = ${owner} or lease_until <= ${now})
        returning id`.pipe(Effect.map((rows) => rows.length > 0), Effect.catchTag("SqlError", failed("claim"))),

    // On PostgreSQL the rows are locked in id order first, as a group commit locks its rows: two statements
    // that lock several rows then never wait on each other in a cycle.
    renew: (owner, ids, leaseMs) =>
      ids.length === 0 ? Effect.succeed([]) : sql<{ readonly id: string }>`
        update workflow_executions set lease_until = ${now} + ${leaseLength(leaseMs)}
        where owner = ${owner} and ${sql.in("id", ids)} and ${notFinished}
        ${
        dialect === "pg"
          ? sql`and id in (select id from workflow_executions where ${sql.in("id", ids)} order by id for update)`
          : sql``
      }
        returning id`.pipe(
        Effect.map((rows) => rows.map((row) => row.id)),
        Effect.catchTag("SqlError", failed("renew"))
      ),

    release: (id, owner) =>
      sql`update workflow_executions set owner = null, lease_until = null where id = ${id} and owner = ${owner}`.pipe(
        Effect.asVoid,
        Effect.catchTag("SqlError", failed("release"))
      )
  }
  return service
})

/**
 * The storage over the `SqlClient` in context, after migrating it.
 */
export const layer: Layer.Layer<ExecutionStorage, StorageError, SqlClient.SqlClient> = Layer.effect(
  ExecutionStorage,
  Effect.suspend(() => makeMigrated)
)

/** `make`, after migrating. */
export const makeMigrated: Effect.Effect<ExecutionStorageService, StorageError, SqlClient.SqlClient> = Effect.zipRight(
  migrate,
  make
)
