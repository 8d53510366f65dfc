/**
 * The storage service: executions, their event logs, the step journal and
 * approvals. Every operation is an Effect with tagged errors; `commit` applies
 * one step's events, journal entry and status change atomically.
 *
 * @since 0.1.0
 */
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
