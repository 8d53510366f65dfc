/**
 * The scale-out storage: PostgreSQL through `@effect/sql-pg` (an optional
 * peer dependency: install it to use this layer).
 *
 * Reads and administration go through the shared SQL storage over
 * `SqlClient`. Commits, the hot path of every step, go straight to the `pg`
 * driver on a pool of their own: through the client each statement costs
 * more than a loopback round trip.
 *
 * @since 0.1.0
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import pg from "pg"
import type { Commit, ExecutionStatus, ExecutionStorageService } from "../internal/executionStorage.js"
import {
  ApprovalNotPending,
  ExecutionFinished,
  ExecutionNotFound,
  ExecutionStorage,
  InvalidPayload,
  StorageError
} from "../internal/executionStorage.js"
import * as SqlStorage from "./SqlStorage.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface PgOptions {
  /** A `postgres://` connection URL. */
  readonly url: string
  readonly maxConnections?: number
}

const failed = (operation: string) => (cause: unknown) =>
  new StorageError({ operation, reason: cause instanceof Error ? cause.message : String(cause), cause })

/** `SqlStorage.commit`, statement for statement, on a driver connection. */
const commit = (pool: pg.Pool, now: () => number) => (id: string, commit: Commit) =>
  Effect.gen(function*() {
    const encoded = yield* Effect.try({
      try: () => SqlStorage.encodeCommit(id, commit),
      catch: (error) => error as InvalidPayload
    })
    return yield* Effect.tryPromise({
      try: async () => {
        const client = await pool.connect()
        try {
          await client.query("begin")
          try {
            const events = encoded.events
            // Claims the next seqs and applies the status change, locking the row; no row: missing or finished.
            const advanced = await client.query<{ last_seq: number }>(
              `update workflow_executions
               set status = coalesce($1, status), last_seq = last_seq + $2, output = coalesce($3, output),
                   error = coalesce($4, error), updated_at = $5
               where id = $6 and status not in ('completed', 'failed', 'cancelled')
               returning last_seq`,
              [commit.status ?? null, events.length, encoded.output, encoded.error, now(), id]
            )
            if (advanced.rows.length === 0) {
              const current = await client.query<{ status: string }>(
                "select status from workflow_executions where id = $1",
                [id]
              )
              const status = current.rows[0]?.status
              throw status === undefined
                ? new ExecutionNotFound({ executionId: id })
                : new ExecutionFinished({ executionId: id, status: status as ExecutionStatus })
            }
            if (commit.answer !== undefined) {
              const answered = await client.query(
                `update workflow_journal set state = 'completed', result = $1
                 where execution_id = $2 and kind = 'approval' and task_id = $3 and state = 'waiting'`,
                [encoded.answer, id, commit.answer.taskId]
              )
              if (answered.rowCount === 0) {
                throw new ApprovalNotPending({ executionId: id, taskId: commit.answer.taskId })
              }
            }
            const first = Number(advanced.rows[0]!.last_seq) - events.length + 1
            if (events.length > 0) {
              await client.query(
                `insert into workflow_events (execution_id, seq, type, payload) values ${
                  events.map((_, i) => `($1, $${2 + 3 * i}, $${3 + 3 * i}, $${4 + 3 * i})`).join(", ")
                }`,
                [id, ...events.flatMap(({ payload, type }, i) => [first + i, type, payload])]
              )
            }
            const entry = commit.journal
            if (entry !== undefined) {
              await client.query(
                `insert into workflow_journal (execution_id, key, name, kind, state, task_id, result)
                 values ($1, $2, $3, $4, $5, $6, $7)
                 on conflict (execution_id, key) do update
                   set name = excluded.name, kind = excluded.kind, state = excluded.state,
                       task_id = excluded.task_id, result = excluded.result`,
                [id, entry.key, entry.name, entry.kind, entry.state, entry.taskId ?? null, encoded.journalResult]
              )
            }
            await client.query("commit")
            return first + events.length - 1
          } catch (error) {
            await client.query("rollback").catch(() => undefined)
            throw error
          }
        } finally {
          client.release()
        }
      },
      catch: (error) =>
        error instanceof ExecutionNotFound || error instanceof ExecutionFinished || error instanceof ApprovalNotPending
          ? error
          : failed("commit")(error)
    })
  })

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: PgOptions) =>
  Effect.gen(function*() {
    const shared = yield* SqlStorage.makeMigrated
    const clock = yield* Effect.clock
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool = new pg.Pool({ connectionString: options.url, max: options.maxConnections ?? 10 })
        // A broken idle connection is dropped by the pool; the next commit takes another.
        pool.on("error", () => undefined)
        return pool
      }),
      (pool) => Effect.promise(() => pool.end())
    )
    const service: ExecutionStorageService = { ...shared, commit: commit(pool, () => clock.unsafeCurrentTimeMillis()) }
    return service
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: PgOptions): Layer.Layer<ExecutionStorage, StorageError> =>
  Layer.scoped(ExecutionStorage, make(options)).pipe(
    Layer.provide(
      PgClient.layer({
        url: Redacted.make(options.url),
        ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {})
      }).pipe(Layer.mapError(failed("connect")))
    )
  )
