/**
 * `@token-ring/workflow`: durable, observable workflows on Effect.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as ExecutionStorage from "./ExecutionStorage.js"

/**
 * @since 0.1.0
 */
export * as Flow from "./Flow.js"

/**
 * @since 0.1.0
 */
export * as Workflow from "./Workflow.js"

/**
 * @since 0.1.0
 */
export * as WorkflowEngine from "./WorkflowEngine.js"

/**
 * @since 0.1.0
 */
export * as WorkflowEvent from "./WorkflowEvent.js"
