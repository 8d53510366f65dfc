/**
 * The scale-out storage: PostgreSQL through `@effect/sql-pg` (an optional
 * peer dependency: install it to use this layer).
 *
 * Reads and administration go through the shared SQL storage over
 * `SqlClient`. Commits, the hot path of every step, go straight to the `pg`
 * driver on a pool of their own: through the client each statement costs
 * more than a loopback round trip.
 */
import { PgClient } from "@effect/sql-pg"
import { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer } from "effect"
import pg from "pg"
import type { Commit, ExecutionStorageService, PgOptions } from "../../ExecutionStorage.js"
import { commitProgram, numbered, runAsync } from "./commitProgram.js"
import { encodeCommit } from "./payload.js"
import type { InvalidPayload } from "./service.js"
import { ExecutionStorage, isCommitError, StorageError } from "./service.js"
import * as SqlStorage from "./sql.js"
import * as Writer from "./writer.js"

const failed = (operation: string) => (cause: unknown) =>
  new StorageError({ operation, reason: cause instanceof Error ? cause.message : String(cause), cause })

/**
 * The commit program of the SQL storages, on a driver connection. A connection that failed (lost, or
 * terminated by the server) is a `StorageError` of the commit that used it, and goes back to the pool as
 * broken, so that the pool drops it.
 */
const commit = (pool: pg.Pool, now: () => number) => (id: string, commit: Commit, owner: string | undefined) =>
  Effect.gen(function*() {
    const encoded = yield* Effect.try({
      try: () => encodeCommit(id, commit),
      catch: (error) => error as InvalidPayload
    })
    return yield* Effect.tryPromise({
      try: async () => {
        const client = await pool.connect()
        let broken: Error | undefined
        try {
          await client.query("begin")
          try {
            const seq = await runAsync(
              commitProgram("pg", id, commit, encoded, now(), owner),
              async ({ params, text }) => (await client.query(numbered(text), [...params])).rows
            )
            await client.query("commit")
            return seq
          } catch (error) {
            await client.query("rollback").catch((lost: Error) => (broken = lost))
            throw error
          }
        } catch (error) {
          // A refusal leaves the connection as good as it was; anything else may have broken it.
          if (!isCommitError(error)) broken ??= error instanceof Error ? error : new Error(String(error))
          throw error
        } finally {
          client.release(broken)
        }
      },
      catch: (error) => isCommitError(error) ? error : failed("commit")(error)
    })
  })

/**
 * A pool whose connections never throw: `pg` emits `'error'` on a client whose connection is lost or
 * terminated, and an `EventEmitter` with no listener for it ends the process. The pool listens while a
 * client is idle (and drops it); this listener covers the time it is checked out, when the error reaches
 * the operation using it as a failed query instead.
 */
const makePool = (options: PgOptions) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const pool = new pg.Pool({
        connectionString: options.url,
        max: options.maxConnections ?? 10,
        // TCP keepalive, probing after 10 s of silence: a peer that vanished without closing is noticed
        // eventually, rather than waited on for ever.
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        // Idle connections do not keep Node alive: a process ends once nothing is left to do, however
        // often the engine's background work used the pool before.
        allowExitOnIdle: true,
        connectionTimeoutMillis: 5_000
      })
      pool.on("error", () => undefined)
      pool.on("connect", (client) => client.on("error", () => undefined))
      return pool
    }),
    (pool) => Effect.promise(() => pool.end())
  )

export const make = (options: PgOptions) =>
  Effect.gen(function*() {
    const shared = yield* SqlStorage.makeMigrated
    const clock = yield* Effect.clock
    const pool = yield* makePool(options)
    const commitAs = commit(pool, () => clock.unsafeCurrentTimeMillis())
    const service: ExecutionStorageService = {
      ...shared,
      commit: (id, c) => commitAs(id, c, c.owner),
      writer: Writer.direct(commitAs)
    }
    return service
  })

export const layer = (options: PgOptions): Layer.Layer<ExecutionStorage, StorageError> =>
  Layer.scoped(ExecutionStorage, make(options)).pipe(
    Layer.provide(
      PgClient.layerFromPool({
        // Connected before anything else, as `PgClient.layer` does, so that a bad URL fails here.
        acquire: Effect.tap(makePool(options), (pool) =>
          Effect.tryPromise({
            try: () => pool.query("SELECT 1"),
            catch: (cause) => new SqlError({ cause, message: "PgClient: Failed to connect" })
          }))
      }).pipe(Layer.mapError(failed("connect")))
    )
  )
