/**
 * The event types under the names Promise code uses.
 *
 * @since 0.1.0
 */
import type * as WorkflowEvent from "../WorkflowEvent.js"

/** @since 0.1.0 */
export type { WorkflowEventInput } from "./Runnable.js"
/** @since 0.1.0 */
export type WorkflowEventType = WorkflowEvent.EventType
/** @since 0.1.0 */
export type AnyWorkflowEvent = WorkflowEvent.WorkflowEvent
/** @since 0.1.0 */
export type StoredWorkflowEvent = WorkflowEvent.StoredEvent
/** @since 0.1.0 */
export type WorkflowStepStartEvent = WorkflowEvent.EventOf<"step_start">
/** @since 0.1.0 */
export type WorkflowStepEndEvent = WorkflowEvent.EventOf<"step_end">
/** @since 0.1.0 */
export type WorkflowLogEvent = WorkflowEvent.EventOf<"log">
/** @since 0.1.0 */
export type WorkflowOutputChunkEvent = WorkflowEvent.EventOf<"output_chunk">
/** @since 0.1.0 */
export type WorkflowFinalOutputEvent = WorkflowEvent.EventOf<"final_output">
/** @since 0.1.0 */
export type WorkflowSchemaEvent = WorkflowEvent.EventOf<"schema_definition">
/** @since 0.1.0 */
export type WorkflowErrorEvent = WorkflowEvent.EventOf<"workflow_error">
/** @since 0.1.0 */
export type HumanApprovalRequiredEvent = WorkflowEvent.EventOf<"human_approval_required">
/** @since 0.1.0 */
export type HumanApprovalCompletedEvent = WorkflowEvent.EventOf<"human_approval_completed">
