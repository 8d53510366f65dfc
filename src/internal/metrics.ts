/**
 * The engine's metrics, as Effect `Metric`s in Effect's global registry:
 * whatever reads that registry (`@effect/opentelemetry`'s metric reader,
 * `Metric.value`) sees them; nothing here depends on OpenTelemetry.
 *
 * Each is tagged with the workflow's name. The engine updates them with
 * `unsafeUpdate` and one label array per workflow, reused: Effect caches a
 * metric's hook by the identity of that array, so an update on a step's path
 * is a map lookup and an addition, not an Effect.
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"
import type { ExecutionStatus } from "../ExecutionStorage.js"

export const executionsStarted = Metric.counter("workflow_executions_started_total", {
  description: "Executions created (started, queued, forked) by this process",
  incremental: true
})

export const executionsCompleted = Metric.counter("workflow_executions_completed_total", {
  description: "Executions this process stored as completed",
  incremental: true
})

export const executionsFailed = Metric.counter("workflow_executions_failed_total", {
  description: "Executions this process stored as failed",
  incremental: true
})

export const executionsCancelled = Metric.counter("workflow_executions_cancelled_total", {
  description: "Executions this process stored as cancelled",
  incremental: true
})

/** 1 ms to about 9 hours, doubling: a step may be a lookup or a model call. */
const durations = MetricBoundaries.exponential({ start: 1, factor: 2, count: 16 })

export const stepDuration = Metric.histogram(
  "workflow_step_duration_ms",
  durations,
  "Duration of the step bodies run by this process (each retry included), in ms"
)

/** Moved up and down (`unsafeModify`): the runs going on in this process. */
export const runsActive = Metric.gauge("workflow_runs_active", {
  description: "Runs of executions going on in this process"
})

export const commits = Metric.counter("workflow_commits_total", {
  description: "Writes of runs' commits to storage (held-back commits merged into one write count once)",
  incremental: true
})

export const commitLatency = Metric.histogram(
  "workflow_commit_latency_ms",
  MetricBoundaries.exponential({ start: 0.0625, factor: 2, count: 16 }),
  "Time from the start of a run's write to its end (a group commit's wait included), in ms"
)

export type Labels = ReadonlyArray<MetricLabel.MetricLabel>

const byWorkflow = new Map<string, Labels>()

/** The labels of a workflow's metrics: the same array every time (see the module's comment). */
export const labels = (workflow: string): Labels => {
  let found = byWorkflow.get(workflow)
  if (found === undefined) {
    found = [MetricLabel.make("workflow", workflow)]
    byWorkflow.set(workflow, found)
  }
  return found
}

export const started = (workflow: string): void => executionsStarted.unsafeUpdate(1, labels(workflow))

/** An execution this process stored with a terminal status. */
export const ended = (workflow: string, status: ExecutionStatus): void => {
  const counter = status === "completed"
    ? executionsCompleted
    : status === "failed"
    ? executionsFailed
    : status === "cancelled"
    ? executionsCancelled
    : undefined
  counter?.unsafeUpdate(1, labels(workflow))
}
