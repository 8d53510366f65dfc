/**
 * The embedded storage: a SQLite file, through `@effect/sql-sqlite-node`
 * (better-sqlite3), in WAL mode.
 *
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import Database from "better-sqlite3"
import { Effect, Layer } from "effect"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import type { ExecutionStorage } from "../internal/executionStorage.js"
import { StorageError } from "../internal/executionStorage.js"
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

/** Fails clearly on a file that is not a SQLite database, before the client opens it. */
const check = (filename: string) =>
  Effect.try({
    try: () => {
      mkdirSync(dirname(filename), { recursive: true })
      const db = new Database(filename)
      try {
        db.pragma("schema_version")
        const [result] = db.pragma("quick_check") as Array<{ quick_check: string }>
        if (result?.quick_check !== "ok") throw new Error(`integrity check failed: ${result?.quick_check}`)
      } finally {
        db.close()
      }
    },
    catch: (cause) =>
      new StorageError({
        operation: "open",
        reason: `"${filename}" cannot be used as a SQLite database: ${(cause as Error).message}`,
        cause
      })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: SqliteOptions): Layer.Layer<ExecutionStorage, StorageError> => {
  const pragmas = Layer.effectDiscard(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(`pragma busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`)
      yield* sql.unsafe(`pragma synchronous = ${options.synchronous === "FULL" ? "FULL" : "NORMAL"}`)
    }).pipe(Effect.mapError((cause) => new StorageError({ operation: "open", reason: cause.message, cause })))
  )
  const client = SqliteClient.layer({ filename: options.filename }).pipe(
    Layer.mapError((cause) => new StorageError({ operation: "open", reason: cause.message, cause }))
  )
  return SqlStorage.layer.pipe(
    Layer.provide(pragmas),
    Layer.provide(client),
    Layer.provide(Layer.effectDiscard(check(options.filename)))
  )
}
