/**
 * What the engine tells a tracer and a metric reader. The engine makes Effect
 * spans and updates Effect `Metric`s; it depends on no telemetry library.
 * Install a tracer and a metric reader (for example `@effect/opentelemetry`'s
 * `NodeSdk.layer`, or its `Otlp.layer` for an OTLP collector) where the engine
 * runs, and they receive them.
 *
 * Spans (only when a tracer other than Effect's default is installed):
 * `workflow.run` per run of an execution, `workflow.step` per step body run,
 * `workflow.wait` per wait met unfinished, `workflow.commit` per write. A run
 * of an execution that ran before links to the span of its first run, whose
 * ids its stored events carry (`traceId`, `spanId`).
 *
 * Metrics are tagged with `workflow` (the workflow's name) and updated
 * whether or not a tracer is installed.
 *
 * @since 0.2.0
 */
import * as Metrics from "./internal/metrics.js"

/**
 * `workflow_executions_started_total`: executions created by this process (started, queued, forked).
 *
 * @since 0.2.0
 * @category metrics
 */
export const executionsStarted = Metrics.executionsStarted

/**
 * `workflow_executions_completed_total`: executions this process stored as completed.
 *
 * @since 0.2.0
 * @category metrics
 */
export const executionsCompleted = Metrics.executionsCompleted

/**
 * `workflow_executions_failed_total`: executions this process stored as failed.
 *
 * @since 0.2.0
 * @category metrics
 */
export const executionsFailed = Metrics.executionsFailed

/**
 * `workflow_executions_cancelled_total`: executions this process stored as cancelled.
 *
 * @since 0.2.0
 * @category metrics
 */
export const executionsCancelled = Metrics.executionsCancelled

/**
 * `workflow_step_duration_ms`: a histogram of the step bodies this process ran (retries included), in ms.
 *
 * @since 0.2.0
 * @category metrics
 */
export const stepDuration = Metrics.stepDuration

/**
 * `workflow_runs_active`: a gauge of the runs going on in this process.
 *
 * @since 0.2.0
 * @category metrics
 */
export const runsActive = Metrics.runsActive

/**
 * `workflow_commits_total`: writes of runs' commits to storage.
 *
 * @since 0.2.0
 * @category metrics
 */
export const commits = Metrics.commits

/**
 * `workflow_commit_latency_ms`: a histogram of the time each of those writes took, in ms.
 *
 * @since 0.2.0
 * @category metrics
 */
export const commitLatency = Metrics.commitLatency
