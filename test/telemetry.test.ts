/**
 * Spans and metrics of runs, with `@effect/opentelemetry` and in-memory
 * exporters: the span tree of an execution that runs four times (a retried
 * step, an approval, a sleep on the TestClock, a signal), the links of its
 * resumed runs to its first one, the trace ids on its stored events, and the
 * metrics by workflow, read from Effect's registry and from an OpenTelemetry
 * metric reader. Without a tracer, nothing breaks and events carry no ids.
 */
import { NodeSdk } from "@effect/opentelemetry"
import { describe, expect, it } from "@effect/vitest"
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader
} from "@opentelemetry/sdk-metrics"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Metric, Schedule, Schema, TestClock } from "effect"
import { ExecutionStorage, Telemetry, Workflow } from "../src/index.js"
import { startEngine, stored, until, waiting } from "./helpers.js"

const HOUR = 60 * 60 * 1000
/** The workflow's sleep: short, as `TestClock.adjust` runs every timer of the engine due before it. */
const MINUTE = 60 * 1000

const eventsOf = (id: string) =>
  Effect.flatMap(ExecutionStorage.ExecutionStorage, (storage) => storage.events(id, { fromSeq: 1, limit: 1_000 }))

/** A tracer and a metric reader over in-memory exporters, as a user's `NodeSdk.layer` would install them. */
const otel = () => {
  const spans = new InMemorySpanExporter()
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    // Read with `collect()` when the test asks, never on a timer.
    exportIntervalMillis: 24 * HOUR
  })
  const layer = NodeSdk.layer(() => ({
    resource: { serviceName: "telemetry-test" },
    spanProcessor: new SimpleSpanProcessor(spans),
    metricReader: reader
  }))
  return { spans, reader, layer }
}

const waitingFor = (id: string, what: string) => Effect.map(stored(id), (record) => record.waitingFor === what)

const valueOf = <In, Out>(metric: Metric.Metric<any, In, Out>, workflow: string) =>
  Metric.value(Metric.tagged(metric, "workflow", workflow))

/** A unique workflow name: metrics live in Effect's global registry, shared by every test of the process. */
const named = (name: string) => `${name}-${crypto.randomUUID().slice(0, 8)}`

/** A step retried once, an approval, a minute's sleep, a signal, a step; `active` sees the runs gauge inside. */
const journey = (name: string) => {
  let tries = 0
  const active: Array<number> = []
  const workflow = Workflow.make({
    name,
    run: (input: number) =>
      Effect.gen(function*() {
        const charged = yield* Workflow.step(
          "charge",
          Effect.suspend(() => ++tries === 1 ? Effect.fail("flaky") : Effect.succeed(input)),
          { retry: Schedule.recurs(1) }
        )
        yield* Workflow.approval({ taskId: "ship-it", dataForApproval: charged })
        yield* Workflow.sleep(MINUTE)
        const tip = yield* Workflow.signal("tip", Schema.Number)
        return yield* Workflow.step(
          "ship",
          Effect.map(
            Metric.value(Metric.tagged(Telemetry.runsActive, "workflow", name)),
            (gauge) => (active.push(gauge.value), charged + tip)
          )
        )
      })
  })
  return { workflow, active }
}

/** Runs `journey` to its end: four runs (the start, the answer, the clock, the signal). */
const runJourney = (name: string) =>
  Effect.gen(function*() {
    const { active, workflow } = journey(name)
    const { engine } = yield* startEngine({ lease: "10 minutes" })
    const handle = yield* engine.start(workflow, 40)
    yield* until("it waits for the approval", waiting(handle.id))
    yield* engine.approve(handle.id, "ship-it", { status: "approved" })
    yield* until("it sleeps", waitingFor(handle.id, "sleep"))
    yield* TestClock.adjust(MINUTE)
    yield* until("it waits for the signal", waitingFor(handle.id, "signal:tip"))
    yield* engine.signal(handle.id, "tip", 2)
    expect(yield* handle.result).toBe(42)
    return { id: handle.id, active }
  })

const attribute = (span: ReadableSpan, key: string) => span.attributes[key]
const ids = (span: ReadableSpan) => ({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId })

describe("telemetry", () => {
  it.effect("makes a span per run, step, wait and commit; later runs link to the first; events carry its ids", () => {
    const { layer, reader, spans } = otel()
    const name = named("journey")
    return Effect.gen(function*() {
      const { active, id } = yield* runJourney(name)
      const runsOf = () =>
        spans.getFinishedSpans().filter((span) =>
          span.name === "workflow.run" && attribute(span, "workflow.execution_id") === id
        )
      yield* until("the four runs' spans end", Effect.sync(() => runsOf().length === 4))
      const runs = runsOf().sort((a, b) =>
        Number(attribute(a, "workflow.resumed")) - Number(attribute(b, "workflow.resumed"))
      )
      const [first, ...later] = runs
      expect(attribute(first!, "workflow.name")).toBe(name)
      expect(attribute(first!, "workflow.resumed")).toBe(false)
      expect(first!.links).toEqual([])
      for (const run of later) {
        expect(attribute(run, "workflow.resumed")).toBe(true)
        expect(run.links.map((link) => ({ traceId: link.context.traceId, spanId: link.context.spanId }))).toEqual([
          ids(first!)
        ])
      }
      expect(runs.map((run) => attribute(run, "workflow.outcome")).sort()).toEqual([
        "Complete",
        "Leave",
        "Leave",
        "Leave"
      ])

      const finished = spans.getFinishedSpans()
      const runIds = new Set(runs.map((run) => run.spanContext().spanId))
      const childrenOfRuns = finished.filter((span) => runIds.has(span.parentSpanContext?.spanId ?? ""))
      const steps = childrenOfRuns.filter((span) => span.name === "workflow.step")
      expect(steps.map((span) => span.attributes)).toEqual([
        {
          "workflow.step.name": "charge",
          "workflow.step.key": expect.any(String),
          "workflow.step.attempt": 1,
          "workflow.step.retries": 1
        },
        {
          "workflow.step.name": "ship",
          "workflow.step.key": expect.any(String),
          "workflow.step.attempt": 1,
          "workflow.step.retries": 0
        }
      ])
      // Each wait: where the run met it unfinished (suspending, or passing it after a wake-up).
      const waits = childrenOfRuns.filter((span) => span.name === "workflow.wait")
      expect(waits.map((span) => `${attribute(span, "workflow.wait.kind")}:${attribute(span, "workflow.wait.name")}`))
        .toEqual(["approval:ship-it", "sleep:2", "sleep:2", "signal:tip", "signal:tip"])
      // Commits: children of the run that wrote them; every run wrote.
      const commits = finished.filter((span) => span.name === "workflow.commit")
      expect(commits.every((span) => runIds.has(span.parentSpanContext?.spanId ?? ""))).toBe(true)
      expect(new Set(commits.map((span) => span.parentSpanContext?.spanId)).size).toBe(4)

      // Every event a run stored carries that run's ids; those stored by engine calls (the answer, the
      // signal's receipt) carry none.
      const events = yield* eventsOf(id)
      const byRun = new Map(runs.map((run) => [run.spanContext().spanId, run.spanContext().traceId]))
      for (const event of events) {
        if (event.type === "human_approval_completed" || event.type === "signal_received") {
          expect(event.traceId).toBeUndefined()
        } else {
          expect(byRun.get(event.spanId!)).toBe(event.traceId)
        }
      }
      expect(events[0]).toMatchObject(ids(first!))

      // Metrics, from Effect's registry.
      expect((yield* valueOf(Telemetry.executionsStarted, name)).count).toBe(1)
      expect((yield* valueOf(Telemetry.executionsCompleted, name)).count).toBe(1)
      expect((yield* valueOf(Telemetry.executionsFailed, name)).count).toBe(0)
      expect((yield* valueOf(Telemetry.executionsCancelled, name)).count).toBe(0)
      expect((yield* valueOf(Telemetry.stepDuration, name)).count).toBe(2)
      const written = (yield* valueOf(Telemetry.commits, name)).count
      expect(written).toBeGreaterThanOrEqual(4)
      expect((yield* valueOf(Telemetry.commitLatency, name)).count).toBe(written)
      expect(active).toEqual([1])
      yield* until("no run is active", Effect.map(valueOf(Telemetry.runsActive, name), (gauge) => gauge.value === 0))

      // And as an OpenTelemetry reader exports them, by the workflow's name.
      const { resourceMetrics } = yield* Effect.promise(() => reader.collect())
      const exported = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics)
      const points = (metric: string) =>
        exported.find((m) => m.descriptor.name === metric)?.dataPoints.filter((point) =>
          point.attributes.workflow === name
        ) ?? []
      expect(points("workflow_executions_started_total").map((point) => point.value)).toEqual([1])
      expect(points("workflow_executions_completed_total").map((point) => point.value)).toEqual([1])
      expect(points("workflow_step_duration_ms")).toHaveLength(1)
      expect(points("workflow_runs_active").map((point) => point.value)).toEqual([0])
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory), Effect.provide(layer))
  })

  it.effect("counts failed and cancelled executions by workflow", () => {
    const { layer } = otel()
    const failing = named("failing")
    const cancelled = named("cancelled")
    return Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const fails = Workflow.make({ name: failing, run: () => Workflow.step("boom", Effect.fail("no")) })
      const waits = Workflow.make({
        name: cancelled,
        run: () => Workflow.approval({ taskId: "never", dataForApproval: null })
      })
      const failed = yield* engine.start(fails, undefined)
      yield* Effect.either(failed.result)
      const waiter = yield* engine.start(waits, undefined)
      yield* until("it waits", waiting(waiter.id))
      yield* engine.cancel(waiter.id)
      expect((yield* valueOf(Telemetry.executionsFailed, failing)).count).toBe(1)
      expect((yield* valueOf(Telemetry.executionsCompleted, failing)).count).toBe(0)
      expect((yield* valueOf(Telemetry.executionsCancelled, cancelled)).count).toBe(1)
      expect((yield* valueOf(Telemetry.executionsStarted, cancelled)).count).toBe(1)
      expect((yield* valueOf(Telemetry.stepDuration, failing)).count).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory), Effect.provide(layer))
  })

  it.effect("without a tracer, runs as before: events carry no trace ids, metrics are still counted", () => {
    const name = named("untraced")
    return Effect.gen(function*() {
      const { id } = yield* runJourney(name)
      const events = yield* eventsOf(id)
      expect(events.length).toBeGreaterThan(0)
      expect(events.filter((event) => "traceId" in event || "spanId" in event)).toEqual([])
      expect((yield* valueOf(Telemetry.executionsCompleted, name)).count).toBe(1)
      expect((yield* valueOf(Telemetry.stepDuration, name)).count).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory))
  })
})
