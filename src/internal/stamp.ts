/**
 * Events as the engine stores them: stamped with their execution and time.
 */
import type { Clock } from "effect"
import type { EventDraft, WorkflowEvent } from "../WorkflowEvent.js"

/** An event of the execution: its timestamp (now, unless given) and execution id stamped. */
export const stamp = (executionId: string, draft: EventDraft, clock: Clock.Clock): WorkflowEvent =>
  ({
    ...draft,
    timestamp: draft.timestamp ?? clock.unsafeCurrentTimeMillis(),
    workflowInstanceId: executionId
  }) as WorkflowEvent
