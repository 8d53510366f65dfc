/**
 * A run's telemetry: its span (`workflow.run`) and the spans of its steps,
 * waits and commits, the trace ids stamped on the events it stores, and its
 * metric updates (see `metrics.ts`).
 *
 * Spans are Effect spans, made by whatever tracer the run's fiber has
 * (`@effect/opentelemetry`'s, for one). With none installed (Effect's native
 * tracer, which hands spans to nobody) or with tracing disabled, a run makes
 * no span and stamps no ids: a step then costs what it did without
 * telemetry, but for its metric updates.
 */
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type { Commit, ExecutionRecord, ExecutionStorageService } from "../ExecutionStorage.js"
import * as Metrics from "./metrics.js"
import { onClose } from "./scopeFinalizer.js"

/** The ids of a run's span, stamped on every event the run stores. */
export interface TraceIds {
  readonly traceId: string
  readonly spanId: string
}

/** What a wait waits for, as its span says (`workflow.wait.kind`). */
export type WaitKind = "approval" | "signal" | "sleep" | "child"

/** Effect's default tracer: its spans reach no exporter, so a run under it makes none. */
const nativeTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

const quiet = { captureStackTrace: false } as const

/**
 * `effect` in a span called `name` where a tracer that exports is installed; as it is under Effect's default
 * tracer, whose spans nobody reads (on the path of every start, making one cost about a tenth of the rest).
 */
export const traced = (name: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.tracer, (tracer) => tracer === nativeTracer ? effect : Effect.withSpan(effect, name, quiet))

/** How many events of a resumed execution are read, at most, to find the first run's span. */
const FIRST_EVENTS = 8

/** A step's span, made only when the run is traced: counts the tries of its body for `retries`. */
export interface StepSpan {
  /** The step's body, counted each time it starts (a retry starts it again). */
  readonly tried: <A, E, R>(body: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** The step (its body and its end's commit) under the span. */
  readonly around: <A, E, R>(step: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export class RunTelemetry {
  readonly labels: Metrics.Labels
  /** Undefined when the run is not traced: its events carry no ids. */
  readonly ids: TraceIds | undefined

  constructor(
    workflow: string,
    private readonly clock: Clock.Clock,
    private readonly traced?: { readonly span: Tracer.Span; readonly tracer: Tracer.Tracer }
  ) {
    this.labels = Metrics.labels(workflow)
    this.ids = traced === undefined ? undefined : { traceId: traced.span.traceId, spanId: traced.span.spanId }
  }

  /** Counts the run among those active (`workflow_runs_active`) until the scope closes. */
  get active(): Effect.Effect<void, never, Scope.Scope> {
    return Effect.uninterruptible(Effect.zipRight(
      Effect.sync(() => Metrics.runsActive.unsafeModify(1, this.labels)),
      onClose(Effect.sync(() => Metrics.runsActive.unsafeModify(-1, this.labels)))
    ))
  }

  /** The run's body, under its span: the spans it makes are children of the run's. */
  within<A, E, R>(body: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return this.traced === undefined ? body : Effect.withParentSpan(body, this.traced.span)
  }

  /** What the run stores when it ends (`Outcome`'s tag), on its span. */
  outcome(tag: string): void {
    this.traced?.span.attribute("workflow.outcome", tag)
  }

  stepEnded(durationMs: number): void {
    Metrics.stepDuration.unsafeUpdate(durationMs, this.labels)
  }

  /**
   * The span of a step whose body runs in this run; `attempt` is 2 when a previous run stopped inside it
   * (the journal records that it started, not how often).
   */
  step(name: string, key: string, attempt: number): StepSpan | undefined {
    if (this.traced === undefined) return undefined
    let tries = 0
    const attributes = { "workflow.step.name": name, "workflow.step.key": key, "workflow.step.attempt": attempt }
    return {
      tried: (body) =>
        Effect.suspend(() => {
          tries++
          return body
        }),
      around: (step) =>
        Effect.useSpan("workflow.step", { attributes, ...quiet }, (span) =>
          Effect.withParentSpan(
            Effect.ensuring(step, Effect.sync(() => span.attribute("workflow.step.retries", Math.max(0, tries - 1)))),
            span
          ))
    }
  }

  /** A wait this run meets unfinished: the span ends when it passes, or when the run suspends on it. */
  wait<A, E, R>(kind: WaitKind, name: string, wait: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    if (this.traced === undefined) return wait
    return Effect.withSpan(wait, "workflow.wait", {
      attributes: { "workflow.wait.kind": kind, "workflow.wait.name": name },
      ...quiet
    })
  }

  /**
   * Told by the run's writer when a write starts (outside any fiber, possibly): counts it, times it, and
   * makes its span, a child of the run's (a write may carry several commits of the run, merged).
   */
  readonly onWrite = (commit: Commit): (failure: unknown) => void => {
    // Latency in real time (storage I/O does not follow a TestClock); the span on the run's clock, as Effect's.
    const started = performance.now()
    const span = this.traced === undefined ? undefined : this.commitSpan(commit)
    return (failure) => {
      Metrics.commits.unsafeUpdate(1, this.labels)
      Metrics.commitLatency.unsafeUpdate(performance.now() - started, this.labels)
      span?.end(this.clock.unsafeCurrentTimeNanos(), failure === undefined ? Exit.void : Exit.die(failure))
    }
  }

  private commitSpan(commit: Commit): Tracer.Span {
    const { span: run, tracer } = this.traced!
    const now = this.clock.unsafeCurrentTimeNanos()
    const span = tracer.span("workflow.commit", Option.some(run), Context.empty(), [], now, "internal", quiet)
    if (commit.status !== undefined) span.attribute("workflow.commit.status", commit.status)
    return span
  }
}

/** The first run's span, from the first events that carry one; undefined if none does (or on a failed read). */
const firstRun = (storage: ExecutionStorageService, id: string): Effect.Effect<TraceIds | undefined> =>
  storage.events(id, { fromSeq: 1, limit: FIRST_EVENTS }).pipe(
    Effect.map((events) => {
      const first = events.find((event) => event.traceId !== undefined && event.spanId !== undefined)
      return first === undefined ? undefined : { traceId: first.traceId!, spanId: first.spanId! }
    }),
    Effect.orElseSucceed(() => undefined)
  )

/**
 * The telemetry of a run of `record`, its span open until the scope closes. A run of an execution that has
 * stored events before (resumed, recovered, forked) links to the span of the run its first events came from.
 */
export const forRun = (
  storage: ExecutionStorageService,
  record: ExecutionRecord,
  clock: Clock.Clock
): Effect.Effect<RunTelemetry, never, Scope.Scope> =>
  Effect.gen(function*() {
    const tracer = yield* Effect.tracer
    if (tracer === nativeTracer || !(yield* FiberRef.get(FiberRef.currentTracerEnabled))) {
      return new RunTelemetry(record.workflow, clock)
    }
    const resumed = record.lastSeq > 0
    const first = resumed ? yield* firstRun(storage, record.id) : undefined
    const span = yield* Effect.makeSpanScoped("workflow.run", {
      attributes: { "workflow.name": record.workflow, "workflow.execution_id": record.id, "workflow.resumed": resumed },
      links: first === undefined ? [] : [{
        _tag: "SpanLink",
        span: Tracer.externalSpan(first),
        attributes: { "workflow.link": "first run" }
      }],
      ...quiet
    })
    return new RunTelemetry(record.workflow, clock, { span, tracer })
  })
