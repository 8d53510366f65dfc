/**
 * The storage service: executions, their event logs, the step journal and
 * approvals. Every operation is an Effect with tagged errors; `commit` applies
 * one step's events, journal entry and status change atomically.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import type { ExecutionStorage, StorageError as StorageErrorType } from "./internal/executionStorage.js"
import { StorageError } from "./internal/executionStorage.js"

export {
  /**
   * @since 0.1.0
   * @category errors
   */
  ApprovalNotPending,
  /**
   * @since 0.1.0
   * @category models
   */
  type Commit,
  /**
   * @since 0.1.0
   * @category errors
   */
  ExecutionFinished,
  /**
   * @since 0.1.0
   * @category errors
   */
  ExecutionNotFound,
  /**
   * @since 0.1.0
   * @category errors
   */
  ExecutionNotOwned,
  /**
   * @since 0.1.0
   * @category models
   */
  type ExecutionPage,
  /**
   * @since 0.1.0
   * @category models
   */
  type ExecutionRecord,
  /**
   * @since 0.1.0
   * @category models
   */
  ExecutionStatus,
  /**
   * @since 0.1.0
   * @category tags
   */
  ExecutionStorage,
  /**
   * @since 0.1.0
   * @category models
   */
  type ExecutionStorageService,
  /**
   * @since 0.1.0
   * @category errors
   */
  InvalidCursor,
  /**
   * @since 0.1.0
   * @category errors
   */
  InvalidPayload,
  /**
   * @since 0.1.0
   * @category predicates
   */
  isTerminal,
  /**
   * @since 0.1.0
   * @category models
   */
  type JournalEntry,
  /**
   * @since 0.1.0
   * @category models
   */
  type JournalResult,
  /**
   * @since 0.1.0
   * @category models
   */
  type ListFilter,
  /**
   * @since 0.1.0
   * @category models
   */
  type NewExecution,
  /**
   * @since 0.1.0
   * @category errors
   */
  StorageError
} from "./internal/executionStorage.js"

export {
  /**
   * The ephemeral in-process storage, the default.
   *
   * @since 0.1.0
   * @category layers
   */
  layer as layerMemory,
  /**
   * @since 0.1.0
   * @category constructors
   */
  make as makeMemory
} from "./layers/MemoryStorage.js"

export {
  /**
   * The embedded storage: a SQLite file (WAL; `synchronous` NORMAL by default, FULL as an option).
   *
   * @since 0.1.0
   * @category layers
   */
  layer as layerSqlite,
  /**
   * @since 0.1.0
   * @category models
   */
  type SqliteOptions
} from "./layers/SqliteStorage.js"

export {
  /**
   * The SQL storage over any `SqlClient` in context, after running its migrations.
   *
   * @since 0.1.0
   * @category layers
   */
  layer as layerSql,
  /**
   * The largest JSON payload a SQL storage accepts, in characters.
   *
   * @since 0.1.0
   * @category constants
   */
  MAX_PAYLOAD_CHARS
} from "./layers/SqlStorage.js"

/**
 * The PostgreSQL storage. `@effect/sql-pg` is an optional peer dependency,
 * loaded only when this layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPg = (
  options: import("./layers/PgStorage.js").PgOptions
): Layer.Layer<ExecutionStorage, StorageErrorType> =>
  Layer.unwrapEffect(
    Effect.tryPromise({
      try: () => import("./layers/PgStorage.js"),
      catch: (cause) =>
        new StorageError({
          operation: "connect",
          reason: "the PostgreSQL storage needs the optional dependency @effect/sql-pg: npm install @effect/sql-pg",
          cause
        })
    }).pipe(Effect.map((pg) => pg.layer(options)))
  )
