/**
 * A step's `step_start` and `step_end` as the interpreter stores them, with
 * the ids of the run's span when it is traced. Built whole, without the
 * spreads of `stamp`: they are on every step's path.
 */
import type { JournalResult } from "../ExecutionStorage.js"
import type { WorkflowEvent } from "../WorkflowEvent.js"
import { errorInfo } from "./errorInfo.js"
import type { TraceIds } from "./telemetry.js"

const traced = (event: WorkflowEvent, trace: TraceIds | undefined): WorkflowEvent =>
  trace === undefined ? event : { ...event, ...trace }

export const stepStart = (
  executionId: string,
  name: string,
  timestamp: number,
  input: unknown,
  trace: TraceIds | undefined
): WorkflowEvent =>
  traced(
    input === undefined
      ? { type: "step_start", timestamp, runnableName: name, workflowInstanceId: executionId }
      : { type: "step_start", timestamp, runnableName: name, input, workflowInstanceId: executionId },
    trace
  )

export const stepEnd = (
  executionId: string,
  name: string,
  started: number,
  timestamp: number,
  result: JournalResult,
  trace: TraceIds | undefined
): WorkflowEvent =>
  traced(
    result._tag === "Success"
      ? {
        type: "step_end",
        timestamp,
        runnableName: name,
        durationMs: timestamp - started,
        output: result.value,
        workflowInstanceId: executionId
      }
      : {
        type: "step_end",
        timestamp,
        runnableName: name,
        durationMs: timestamp - started,
        error: result._tag === "Failure" ? errorInfo(result.error) : result.defect,
        workflowInstanceId: executionId
      },
    trace
  )
