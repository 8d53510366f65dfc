/**
 * The embedded storage: a SQLite file through better-sqlite3, in WAL mode.
 *
 * One connection serves everything. Reads and administration go through an
 * `@effect/sql` `SqlClient` built on it, shared with the PostgreSQL storage;
 * commits, the hot path of every step, are made synchronously on the
 * connection (`commitSync`), because better-sqlite3 is synchronous and a
 * commit through the client costs several times the SQLite work itself.
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import Database from "better-sqlite3"
import { Effect, Layer, Scope, Stream } from "effect"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import type { Commit, CommitSyncOptions, ExecutionStorageService } from "../internal/executionStorage.js"
import { commitFromSync, ExecutionStorage, StorageError } from "../internal/executionStorage.js"
import type { Query, Rows } from "./sqlCommit.js"
import { commitProgram, runSync } from "./sqlCommit.js"
import * as SqlStorage from "./SqlStorage.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface SqliteOptions {
  /** The database file; its directory is created if needed. */
  readonly filename: string
  /**
   * `NORMAL` (default): a commit is durable once the WAL is checkpointed or
   * the OS flushes it; a power loss may lose the last commits, never corrupt
   * the file. `FULL`: every commit is fsynced before it returns.
   */
  readonly synchronous?: "NORMAL" | "FULL"
  /** How long a writer waits for another process's lock before failing (default 5 seconds). */
  readonly busyTimeoutMs?: number
}

const openFailed = (filename: string) => (cause: unknown) =>
  new StorageError({
    operation: "open",
    reason: `"${filename}" cannot be used as a SQLite database: ${(cause as Error).message}`,
    cause
  })

/** Opens the file, refusing one that is not a sound SQLite database before writing to it. */
const open = (options: SqliteOptions) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        mkdirSync(dirname(options.filename), { recursive: true })
        const db = new Database(options.filename)
        try {
          // First, so that everything after it waits for another process's lock instead of failing.
          db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`)
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
      catch: openFailed(options.filename)
    }),
    (db) => Effect.sync(() => db.close())
  )

/** An `@effect/sql` client over the connection: one statement at a time, statements prepared once. */
const client = (db: Database.Database) =>
  Effect.gen(function*() {
    const prepared = new Map<string, Database.Statement>()
    const prepare = (sql: string) => {
      let statement = prepared.get(sql)
      if (statement === undefined) prepared.set(sql, statement = db.prepare(sql))
      return statement
    }
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

/**
 * The commit of `SqlStorage`, as synchronous statements on the connection,
 * in one immediate transaction.
 */
const committer = (db: Database.Database, now: () => number) => {
  const prepared = new Map<string, Database.Statement>()
  const execute = ({ params, text }: Query): Rows => {
    let statement = prepared.get(text)
    if (statement === undefined) prepared.set(text, statement = db.prepare(text))
    return statement.reader ? statement.all(...params) as Rows : (statement.run(...params), [])
  }
  const write = db.transaction((id: string, commit: Commit, encoded: SqlStorage.EncodedCommit): number =>
    runSync(commitProgram(id, commit, encoded, now()), execute)
  )
  const writeNow = (id: string, commit: Commit, encoded: SqlStorage.EncodedCommit): number => {
    try {
      return write.immediate(id, commit, encoded)
    } catch (error) {
      if (error instanceof Database.SqliteError) {
        throw new StorageError({ operation: "commit", reason: error.message, cause: error })
      }
      throw error
    }
  }

  // A step's start held back per execution, encoded already: stored with the step's end when that comes
  // first (one transaction instead of two), else on its own a microtask later.
  interface Held {
    readonly commit: Commit
    readonly encoded: SqlStorage.EncodedCommit
  }
  const held = new Map<string, Held>()
  const heldFailures = new Map<string, unknown>()
  const writeHeld = (id: string) => {
    const start = held.get(id)
    if (start === undefined) return
    held.delete(id)
    writeNow(id, start.commit, start.encoded)
  }

  return (id: string, commit: Commit, options?: CommitSyncOptions): number => {
    let encoded: SqlStorage.EncodedCommit
    try {
      encoded = SqlStorage.encodeCommit(id, commit)
    } catch (error) {
      writeHeld(id) // what came before stays stored, in order
      throw error
    }
    const failure = heldFailures.get(id)
    if (failure !== undefined) {
      heldFailures.delete(id)
      throw failure
    }
    const start = held.get(id)
    if (options?.stepStart === true) {
      writeHeld(id)
      const entry: Held = { commit, encoded }
      held.set(id, entry)
      queueMicrotask(() => {
        if (held.get(id) !== entry) return
        try {
          writeHeld(id)
          options.written?.()
        } catch (error) {
          heldFailures.set(id, error)
        }
      })
      return -1
    }
    if (start !== undefined && commit.journal !== undefined && start.commit.journal?.key === commit.journal.key) {
      held.delete(id)
      return writeNow(
        id,
        { ...commit, events: [...start.commit.events ?? [], ...commit.events ?? []] },
        { ...encoded, events: [...start.encoded.events, ...encoded.events] }
      )
    }
    writeHeld(id)
    return writeNow(id, commit, encoded)
  }
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: SqliteOptions
): Effect.Effect<ExecutionStorageService, StorageError, Scope.Scope> =>
  Effect.gen(function*() {
    const db = yield* open(options)
    const sql = yield* Effect.provide(client(db), Reactivity.layer)
    const clock = yield* Effect.clock
    const shared = yield* Effect.provideService(SqlStorage.makeMigrated, SqlClient.SqlClient, sql)
    const commitSync = committer(db, () => clock.unsafeCurrentTimeMillis())
    return {
      ...shared,
      commitSync,
      commit: commitFromSync(commitSync)
    }
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: SqliteOptions): Layer.Layer<ExecutionStorage, StorageError> =>
  Layer.scoped(ExecutionStorage, make(options))
