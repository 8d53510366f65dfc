/**
 * The scale-out storage: PostgreSQL through `@effect/sql-pg` (an optional
 * peer dependency: install it to use this layer).
 *
 * @since 0.1.0
 */
import { PgClient } from "@effect/sql-pg"
import { Layer, Redacted } from "effect"
import type { ExecutionStorage } from "../internal/executionStorage.js"
import { StorageError } from "../internal/executionStorage.js"
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

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: PgOptions): Layer.Layer<ExecutionStorage, StorageError> =>
  SqlStorage.layer.pipe(
    Layer.provide(
      PgClient.layer({
        url: Redacted.make(options.url),
        ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {})
      }).pipe(Layer.mapError((cause) => new StorageError({ operation: "connect", reason: cause.message, cause })))
    )
  )
