/**
 * Events as the engine stores them: stamped with their execution and time.
 */
import type * as Clock from "effect/Clock"
import type { EventDraft, WorkflowEvent } from "../WorkflowEvent.js"
import type { TraceIds } from "./telemetry.js"

/**
 * An event of the execution: its timestamp (now, unless given) and execution id stamped, and the ids of the
 * span of the run that stores it, if the run is traced.
 */
export const stamp = (executionId: string, draft: EventDraft, clock: Clock.Clock, trace?: TraceIds): WorkflowEvent =>
  ({
    ...draft,
    timestamp: draft.timestamp ?? clock.unsafeCurrentTimeMillis(),
    workflowInstanceId: executionId,
    ...trace
  }) as WorkflowEvent
