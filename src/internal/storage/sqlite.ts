/**
 * The embedded storage: a SQLite file through better-sqlite3, in WAL mode.
 *
 * One connection serves everything. Reads and administration go through an
 * `@effect/sql` `SqlClient` built on it, shared with the PostgreSQL storage;
 * commits, the hot path of every step, are made synchronously on the
 * connection, because better-sqlite3 is synchronous and a commit through the
 * client costs several times the SQLite work itself.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import Database from "better-sqlite3"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs"
import { dirname } from "node:path"
import type { Commit, CommitError, ExecutionStorageService, SqliteOptions } from "../../ExecutionStorage.js"
import * as Checkpointer from "./checkpointer.js"
import type { Query, Rows } from "./commitProgram.js"
import { commitProgram, guardedStepEnd, runSync } from "./commitProgram.js"
import type { Creation } from "./creating.js"
import { creating, creationQuery } from "./creating.js"
import type { EncodedCommit } from "./payload.js"
import type { InvalidPayload } from "./service.js"
import { ExecutionStorage, isCommitError, StorageError } from "./service.js"
import * as SqlStorage from "./sql.js"
import * as Writer from "./writer.js"

/**
 * Whether SQLite refused for another connection's lock. Turning a file to WAL upgrades a read lock to a
 * write lock, and there SQLite fails at once instead of waiting (a wait could deadlock): so two processes
 * opening one new file together, or one opening a file another is writing in rollback mode, meet it.
 */
const isBusy = (cause: unknown): boolean =>
  typeof (cause as { code?: unknown })?.code === "string" && (cause as { code: string }).code.startsWith("SQLITE_BUSY")

const openFailed = (filename: string, busyTimeoutMs: number) => (cause: unknown) =>
  new StorageError({
    operation: "open",
    reason: `"${filename}" cannot be used as a SQLite database: ${
      isBusy(cause)
        ? `another process held its lock for longer than busyTimeoutMs (${busyTimeoutMs} ms)`
        : fileSystemProblem(filename) ?? (cause as Error).message
    }`,
    cause
  })

/**
 * What in the file system keeps the file from being opened, if anything: SQLite says "unable to open
 * database file" for all of it, and `mkdir` "EEXIST" for a file in the way.
 */
const fileSystemProblem = (filename: string): string | undefined => {
  // The file, else its nearest ancestor that exists: what would have to be written.
  let path = filename
  while (!existsSync(path) && dirname(path) !== path) path = dirname(path)
  if (path !== filename && !statSync(path).isDirectory()) return `"${path}" is a file, not a directory`
  try {
    accessSync(path, constants.W_OK)
    return undefined
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return code === "EROFS"
      ? `the file system of "${path}" is read-only`
      : code === "EACCES" || code === "EPERM"
      ? `no permission to write "${path}"`
      : undefined
  }
}

/** Opens the file, refusing one that is not a sound SQLite database before writing to it. */
const open = (options: SqliteOptions) => {
  const busyTimeoutMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))
  const attempt = Effect.try({
    try: () => {
      mkdirSync(dirname(options.filename), { recursive: true })
      const db = new Database(options.filename)
      try {
        // First, so that everything after it waits for another process's lock instead of failing.
        db.pragma(`busy_timeout = ${busyTimeoutMs}`)
        const [check] = db.pragma("quick_check") as Array<{ quick_check: string }>
        if (check?.quick_check !== "ok") throw new Error(`integrity check failed: ${check?.quick_check}`)
        db.pragma("journal_mode = WAL")
        db.pragma(`synchronous = ${options.synchronous === "FULL" ? "FULL" : "NORMAL"}`)
        return db
      } catch (cause) {
        db.close()
        throw cause
      }
    },
    catch: identity
  })
  return Effect.acquireRelease(
    attempt.pipe(
      // Where SQLite did not wait for the lock, wait here, as long as it would have.
      Effect.retry({
        while: isBusy,
        schedule: Schedule.exponential("2 millis").pipe(
          Schedule.union(Schedule.spaced("100 millis")),
          Schedule.upTo(Duration.millis(busyTimeoutMs))
        )
      }),
      Effect.mapError(openFailed(options.filename, busyTimeoutMs))
    ),
    (db) => Effect.sync(() => db.close())
  )
}

/** Prepares each statement text once. */
const preparedOnce = (db: Database.Database) => {
  const prepared = new Map<string, Database.Statement>()
  return (text: string): Database.Statement => {
    let statement = prepared.get(text)
    if (statement === undefined) prepared.set(text, statement = db.prepare(text))
    return statement
  }
}

/** An `@effect/sql` client over the connection: one statement at a time, statements prepared once. */
const client = (db: Database.Database) =>
  Effect.gen(function*() {
    const prepare = preparedOnce(db)
    const attempt = <A>(f: () => A) =>
      Effect.try({ try: f, catch: (cause) => new SqlError({ cause, message: "Failed to execute statement" }) })
    const rows = (statement: () => Database.Statement, params: ReadonlyArray<unknown>) =>
      attempt(() => {
        const s = statement()
        return s.reader ? s.all(...params) as ReadonlyArray<any> : (s.run(...params), [])
      })
    const connection: Connection = {
      execute: (sql, params, transformRows) =>
        transformRows === undefined
          ? rows(() => prepare(sql), params)
          : Effect.map(rows(() => prepare(sql), params), transformRows),
      executeRaw: (sql, params) => attempt(() => prepare(sql).run(...params)),
      executeValues: (sql, params) =>
        attempt(() => {
          const statement = prepare(sql)
          if (!statement.reader) return (statement.run(...params), [])
          try {
            return statement.raw(true).all(...params) as ReadonlyArray<ReadonlyArray<unknown>>
          } finally {
            statement.raw(false)
          }
        }),
      executeUnprepared: (sql, params, transformRows) =>
        transformRows === undefined
          ? rows(() => db.prepare(sql), params ?? [])
          : Effect.map(rows(() => db.prepare(sql), params ?? []), transformRows),
      executeStream: () => Stream.die(new Error("streaming queries are not used by this storage"))
    }
    const permits = yield* Effect.makeSemaphore(1)
    const transactionAcquirer = Effect.uninterruptibleMask((restore) =>
      Effect.as(
        Effect.zipRight(
          restore(permits.take(1)),
          Effect.flatMap(Effect.scope, (scope) => Scope.addFinalizer(scope, permits.release(1)))
        ),
        connection
      )
    )
    return yield* SqlClient.make({
      acquirer: permits.withPermits(1)(Effect.succeed(connection)),
      transactionAcquirer,
      compiler: Statement.makeCompilerSqlite(),
      spanAttributes: [["db.system.name", "sqlite"]],
      beginTransaction: "BEGIN IMMEDIATE"
    })
  })

type Statements = ReturnType<typeof statements>

/**
 * Statements on the connection outside the client: each text prepared once, and transactions, each of
 * which, once committed, is told to the checkpointer.
 */
const statements = (db: Database.Database, checkpointer: Checkpointer.Checkpointer) => {
  const statement = preparedOnce(db)
  const execute = ({ params, text }: Query): Rows => {
    const s = statement(text)
    return s.reader ? s.all(...params) as Rows : (s.run(...params), [])
  }
  const begin = db.prepare("begin immediate")
  const commitStatement = db.prepare("commit")
  const commitTransaction = () => {
    commitStatement.run()
    checkpointer.committed()
  }
  const rollback = db.prepare("rollback")
  /** Runs a program of statements in a transaction of its own, now (queues, see queueProgram.ts). */
  const transactionSync = <A>(program: Generator<Query, A, Rows>): A => {
    begin.run()
    try {
      const value = runSync(program, execute)
      commitTransaction()
      return value
    } catch (error) {
      if (db.open && db.inTransaction) rollback.run()
      throw error
    }
  }
  /**
   * Runs a statement that writes as a transaction of its own: how many rows it changed; undefined, not run,
   * while a transaction is open on the connection (the statement would join it).
   */
  const autocommit = ({ params, text }: Query): number | undefined => {
    if (db.inTransaction) return undefined
    const changed = statement(text).run(...params).changes
    if (changed > 0) checkpointer.committed()
    return changed
  }
  return { execute, autocommit, begin, commitTransaction, rollback, transactionSync }
}

/** A commit waiting for its transaction; `done` hears how it went, once the transaction has ended. */
interface Pending {
  readonly id: string
  /** The execution and the run (owner) committing: a failure stops the run's later commits in the batch. */
  readonly writer: string
  readonly owner: string | undefined
  readonly commit: Commit
  readonly encoded: EncodedCommit
  /** The execution's creation, written first (a run's first write; see `WriterOptions.create`). */
  readonly create: Creation | undefined
  /** Where the run's previous write left the log, when it is a run's write that knows (`guardedStepEnd`). */
  readonly last?: number | undefined
  readonly done: (outcome: Outcome) => void
}

type Outcome = { readonly ok: true; readonly seq: number } | { readonly ok: false; readonly error: unknown }

let anonymous = 0

/**
 * Who commits, for a batch: a run (its execution and owner), whose later commits follow a failed one; or,
 * for a commit on behalf of anyone (approve, cancel), that commit alone.
 */
const writerOf = (id: string, owner: string | undefined): string =>
  owner === undefined ? `\u0000${anonymous++}` : `${id}\u0000${owner}`

const asCommitError = (error: unknown): unknown =>
  error instanceof Database.SqliteError || error instanceof TypeError // TypeError: the connection is closed
    ? new StorageError({ operation: "commit", reason: error.message, cause: error })
    : error

/**
 * A step's end alone, of a run that knows where its log ended, as one statement that is its own
 * transaction (`guardedStepEnd`): its outcome, or undefined when it stored nothing (refused, or the log
 * grew since) and the commit is to be written as a program, which says why or counts from the log.
 */
const stepEndAlone = (autocommit: Statements["autocommit"], item: Pending): Outcome | undefined => {
  if (item.last === undefined || item.create !== undefined) return undefined
  const guarded = guardedStepEnd(item.id, item.commit, item.encoded, item.owner, item.last)
  if (guarded === undefined) return undefined
  let inserted: number | undefined
  try {
    inserted = autocommit(guarded)
  } catch (error) {
    if (error instanceof Database.SqliteError && error.code === "SQLITE_CONSTRAINT_PRIMARYKEY") return undefined
    return { ok: false, error: asCommitError(error) }
  }
  if (inserted === undefined || inserted === 0) return undefined
  return { ok: true, seq: item.last + item.encoded.events.length }
}

/**
 * The commits of `SqlStorage`, as synchronous statements on the connection.
 *
 * Commits wait in `pending` and are written together, in order, in one
 * immediate transaction: with group commit, every commit made before the
 * next microtask. Each commit of a batch runs in a savepoint of its own, so
 * one that fails is rolled back alone and its caller alone gets the error.
 * Callers hear of their commit once the transaction's COMMIT has returned.
 */
const committer = (db: Database.Database, now: () => number, on: Statements) => {
  const { autocommit, begin, commitTransaction, execute, rollback } = on
  const savepoint = db.prepare("savepoint batched")
  const release = db.prepare("release batched")
  const rollbackTo = db.prepare("rollback to batched")

  let pending: Array<Pending> = []
  let scheduled = false

  /** Runs the batch in one transaction; returns each commit's outcome, in order. */
  const write = (batch: ReadonlyArray<Pending>): Array<Outcome> => {
    if (batch.length === 1) {
      const alone = stepEndAlone(autocommit, batch[0]!)
      if (alone !== undefined) return [alone]
    }
    const lost = (error: unknown): Array<Outcome> => {
      if (db.open && db.inTransaction) rollback.run()
      return batch.map(() => ({ ok: false, error: asCommitError(error) }))
    }
    try {
      begin.run()
    } catch (error) {
      return lost(error)
    }
    // Savepoints only where there is someone else's commit to protect.
    const alone = batch.length === 1
    const outcomes: Array<Outcome> = []
    // A commit after a failed one of the same run is not written: it would follow a gap.
    let failed: Map<string, unknown> | undefined
    for (const item of batch) {
      const earlier = failed?.get(item.writer)
      if (earlier !== undefined) {
        outcomes.push({ ok: false, error: earlier })
        continue
      }
      try {
        if (!alone) savepoint.run()
        const create = item.create === undefined ? undefined : creationQuery("sqlite", item.create)
        outcomes.push({
          ok: true,
          seq: runSync(
            commitProgram("sqlite", item.id, item.commit, item.encoded, now(), item.owner, {
              create,
              stepEndInLog: true
            }),
            execute
          )
        })
        if (!alone) release.run()
      } catch (error) {
        // Some errors (a full disk, I/O) end the whole transaction: then every commit of it is lost.
        if (alone || !db.inTransaction) return lost(error)
        rollbackTo.run()
        release.run()
        const refused = asCommitError(error)
        outcomes.push({ ok: false, error: refused })
        ;(failed ??= new Map()).set(item.writer, refused)
      }
    }
    try {
      commitTransaction()
    } catch (error) {
      return lost(error)
    }
    return outcomes
  }

  const flush = () => {
    scheduled = false
    if (pending.length === 0) return
    const batch = pending
    pending = []
    const outcomes = write(batch)
    for (let i = 0; i < batch.length; i++) batch[i]!.done(outcomes[i]!)
  }

  const schedule = () => {
    if (scheduled) return
    scheduled = true
    queueMicrotask(flush)
  }

  const enqueue = (
    id: string,
    prepared: Writer.Encoded,
    owner: string | undefined,
    done: (outcome: Outcome) => void,
    last?: number
  ) => {
    const { commit, create, encoded } = prepared
    pending.push({ id, writer: writerOf(id, owner), owner, commit, encoded, create, last, done })
  }

  /** Writes the commit (and whatever else is pending) now. */
  const commitSync = (id: string, prepared: Writer.Encoded, owner: string | undefined, last?: number): number => {
    let outcome: Outcome | undefined
    enqueue(id, prepared, owner, (result) => (outcome = result), last)
    flush()
    if (outcome!.ok) return outcome!.seq
    throw outcome!.error
  }

  /** Commits with whatever else is pending at the next microtask, from outside any fiber. */
  const commitLater = (
    id: string,
    prepared: Writer.Encoded,
    owner: string | undefined,
    done: (failure: unknown) => void
  ) => {
    enqueue(id, prepared, owner, (outcome) => done(outcome.ok ? undefined : outcome.error))
    schedule()
  }

  /** Commits with whatever else is pending at the next microtask: one transaction, one sync to disk. */
  const commitGrouped = (
    id: string,
    prepared: Writer.Encoded,
    owner: string | undefined
  ): Effect.Effect<number, CommitError> =>
    Effect.async<number, CommitError>((resume) => {
      enqueue(id, prepared, owner, (outcome) =>
        resume(
          outcome.ok
            ? Effect.succeed(outcome.seq)
            : isCommitError(outcome.error)
            ? Effect.fail(outcome.error)
            : Effect.die(outcome.error)
        ))
      schedule()
    })

  return { commitSync, commitGrouped, commitLater, flush }
}

export const make = (
  options: SqliteOptions
): Effect.Effect<ExecutionStorageService, StorageError, Scope.Scope> =>
  Effect.gen(function*() {
    const db = yield* open(options)
    const sql = yield* Effect.provide(client(db), Reactivity.layer)
    const clock = yield* Effect.clock
    const shared = yield* Effect.provideService(SqlStorage.makeMigrated, SqlClient.SqlClient, sql)
    // Under FULL, where each commit syncs anyway, a worker's syncs beside them cost more than they save.
    const checkpointer = (options.backgroundCheckpoints ?? options.synchronous !== "FULL")
      ? yield* Checkpointer.make(db)
      : Checkpointer.none
    const on = statements(db, checkpointer)
    const commits = committer(db, () => clock.unsafeCurrentTimeMillis(), on)
    // Before the connection closes: nothing queued is left unwritten.
    yield* Effect.addFinalizer(() => Effect.sync(commits.flush))
    // A run's step start is held back (encoded at once) until the step's end, so that a fast step is one
    // transaction; with group commit, every commit waits for the batch of its microtask.
    const grouped = options.groupCommit ?? options.synchronous === "FULL"
    const commitNow = (id: string, prepared: Writer.Encoded, owner: string | undefined) =>
      Effect.suspend(() => {
        try {
          return Effect.succeed(commits.commitSync(id, prepared, owner))
        } catch (error) {
          return isCommitError(error) ? Effect.fail(error) : Effect.die(error)
        }
      })
    const write = grouped ? commits.commitGrouped : commitNow
    // On the connection, as commits are: through the client, a start's insert (or a read) cost more than the
    // SQLite work.
    const statement = (query: Query) => Effect.try({ try: () => on.execute(query), catch: identity })
    const reads = SqlStorage.reading("sqlite", statement)
    const service: ExecutionStorageService = {
      ...shared,
      ...reads,
      create: creating("sqlite", clock, statement, reads.get),
      // On the connection, synchronously: a transaction through the client could let a commit in between.
      ...SqlStorage.transactional(
        "sqlite",
        clock,
        (program) => Effect.try({ try: () => on.transactionSync(program), catch: identity })
      ),
      commit: (id, commit) =>
        Effect.flatMap(
          Effect.try({ try: () => Writer.encode(id, commit), catch: (error) => error as InvalidPayload }),
          (prepared) => write(id, prepared, commit.owner)
        ),
      writer: Writer.make<Writer.Encoded>({
        ...Writer.encoding,
        // Where each transaction syncs to disk (FULL): a start that runs what it creates then syncs once, not
        // twice. Under NORMAL a transaction costs less than the start's wait for its run's first write.
        ...(options.synchronous === "FULL"
          ? { prepareCreate: Writer.encodingCreation(() => clock.unsafeCurrentTimeMillis()) }
          : {}),
        write,
        holds: true,
        ...(grouped ? { writeLater: commits.commitLater } : { writeSync: commits.commitSync })
      })
    }
    return service
  })

export const layer = (options: SqliteOptions): Layer.Layer<ExecutionStorage, StorageError> =>
  Layer.scoped(ExecutionStorage, make(options))
