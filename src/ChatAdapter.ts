/**
 * Where chat commands write: the `ChatAdapter` service (the shape of Token
 * Ring's ChatService: `systemLine`, `warningLine`, `errorLine`, plus an
 * optional live `progress` line for terminals); the chat's `Debug` flag; and
 * `render`, which shows a run's event stream there as it happens.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ChatRender from "./ChatRender.js"
import type * as ExecutionStorage from "./ExecutionStorage.js"
import * as Message from "./internal/message.js"
import type * as WorkflowEngine from "./WorkflowEngine.js"
import type * as WorkflowEvent from "./WorkflowEvent.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface ChatAdapterService {
  readonly systemLine: (line: string) => Effect.Effect<void>
  readonly warningLine: (line: string) => Effect.Effect<void>
  readonly errorLine: (line: string) => Effect.Effect<void>
  /**
   * Shows (or, given `undefined`, clears) a transient status line that the
   * next line replaces: a spinner with elapsed time in a terminal. Adapters
   * that only append lines leave it out.
   */
  readonly progress?: ((status: string | undefined) => Effect.Effect<void>) | undefined
  /** Runs are shown as one JSON event per line instead of prose. */
  readonly json?: boolean | undefined
  /**
   * The reader types one-shot commands (a CLI), not chat commands: hints name those.
   *
   * @since 0.2.0
   */
  readonly commandLine?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category tags
 */
export class ChatAdapter extends Context.Tag("@token-ring/workflow/ChatAdapter")<ChatAdapter, ChatAdapterService>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Line {
  readonly kind: "system" | "warning" | "error"
  readonly text: string
}

/**
 * An adapter that keeps every line, for tests and for callers that render
 * the lines themselves.
 *
 * @since 0.1.0
 * @category constructors
 */
export const capture = (): { readonly lines: Array<Line>; readonly adapter: ChatAdapterService } => {
  const lines: Array<Line> = []
  const push = (kind: Line["kind"]) => (text: string) => Effect.sync(() => void lines.push({ kind, text }))
  return { lines, adapter: { systemLine: push("system"), warningLine: push("warning"), errorLine: push("error") } }
}

/**
 * @since 0.2.0
 * @category models
 */
export interface DebugService {
  /** Whether runs are shown with `debug` logs, step inputs and outputs, schemas and whole outputs. */
  readonly debug: Effect.Effect<boolean>
  readonly setDebug: (on: boolean) => Effect.Effect<void>
}

/**
 * The debug flag of a chat (`/workflow debug on|off`). It is presentation
 * only: it changes what is shown, never what is stored or run, so turning it
 * on or off cannot make a replay diverge.
 *
 * @since 0.2.0
 * @category tags
 */
export class Debug extends Context.Tag("@token-ring/workflow/ChatAdapter/Debug")<Debug, DebugService>() {}

/**
 * A debug flag of its own, off unless `initial` is true.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeDebug = (initial = false): Effect.Effect<DebugService> =>
  Effect.map(Ref.make(initial), (flag) => ({ debug: Ref.get(flag), setDebug: (on) => Ref.set(flag, on) }))

/**
 * A debug flag, off at first.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerDebug: Layer.Layer<Debug> = Layer.effect(Debug, makeDebug())

/**
 * How a rendered run ended (or stopped being followed).
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome =
  | { readonly _tag: "Completed"; readonly output: unknown }
  | { readonly _tag: "Failed"; readonly error: WorkflowEvent.ErrorInfo }
  /** Waiting for the approval `taskId` of `executionId` (the run itself, or a child it waits on). */
  | { readonly _tag: "Waiting"; readonly executionId: string; readonly taskId: string }
  /**
   * Waiting durably for a signal (`name`), or asleep until `wakeAt` for longer than a chat follows a run
   * (the run itself, or a child it waits on): nothing more happens here until then.
   *
   * @since 0.2.0
   */
  | {
    readonly _tag: "Suspended"
    readonly executionId: string
    readonly wait: "signal" | "sleep"
    readonly name?: string
    readonly wakeAt?: number
  }
  | { readonly _tag: "Following"; readonly lastSeq: number }

/**
 * What can stop `render`: the execution is unknown, or storage failed.
 *
 * @since 0.1.0
 * @category models
 */
export type RenderError =
  | ExecutionStorage.ExecutionNotFound
  | WorkflowEngine.StorageFailure
  | WorkflowEngine.InvalidOption

/**
 * @since 0.1.0
 * @category models
 */
export interface RenderOptions {
  /** Show `debug` logs and step inputs and outputs. */
  readonly debug?: boolean
  /** Print each event as one JSON line instead of prose. */
  readonly json?: boolean
  /** Stop after this `seq` instead of following the run (for a log that is already stored). */
  readonly untilSeq?: number
  /** Prefixes every line (e.g. to indent a child execution). */
  readonly indent?: string
  /** Print the final output (default true); off when the caller shows it its own way. */
  readonly output?: boolean
  /**
   * Follow the run through its waits (approvals, signals, sleeps) until it ends, as a watcher does,
   * instead of stopping at the first that someone else must end.
   *
   * @since 0.2.0
   */
  readonly untilEnd?: boolean
}

/**
 * Formats a value for one chat line: strings as they are, anything else as JSON.
 *
 * @since 0.1.0
 * @category formatting
 */
export const show: (value: unknown) => string = Message.show

/**
 * What failed, in one line: an Error's (or a tagged error's) message, else the value as text.
 *
 * @since 0.2.0
 * @category formatting
 */
export const messageOf: (error: unknown) => string = Message.messageOf

const spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

/**
 * Shows a run's events as lines as they arrive: steps starting and ending
 * with their durations, logs, output chunks, approvals it waits for, and the
 * final output or error (each event as `ChatRender.eventLines` reads it).
 * While steps run, an adapter with `progress` shows each running step with
 * its elapsed time. A step whose `input` names a `child` execution (as the
 * planning workflows' steps that wait on one do) has that execution shown
 * inside it, indented. Returns when the run ends, or when it (or a child it
 * waits on) waits for an approval: what a chat can do next is answer it.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (
  engine: WorkflowEngine.WorkflowEngineService,
  executionId: string,
  options: RenderOptions & { readonly fromSeq?: number } = {}
): Effect.Effect<Outcome, RenderError, ChatAdapter> =>
  Effect.scoped(Effect.gen(function*() {
    const chat = yield* ChatAdapter
    const record = yield* Effect.option(engine.status(executionId))
    // A waiting run stores nothing more until answered: show its question again rather than wait for nothing.
    const fromSeq = Option.isSome(record) && record.value.status === "waiting" &&
        (options.fromSeq ?? 1) > record.value.lastSeq
      ? record.value.lastSeq
      : options.fromSeq
    const run: Following = {
      engine,
      executionId,
      options,
      chat,
      indent: options.indent ?? "",
      running: yield* Ref.make<ReadonlyMap<string, number>>(new Map()),
      children: new Map(),
      childWaiting: yield* Deferred.make<Outcome>(),
      outcome: { _tag: "Following", lastSeq: fromSeq ?? 0 }
    }
    if (chat.progress !== undefined && run.indent === "") yield* Effect.forkScoped(showProgress(chat, run.running))
    yield* engine.events(executionId, fromSeq !== undefined ? { fromSeq } : {}).pipe(
      Stream.mapEffect((event) => onEvent(run, event)),
      Stream.takeUntil((done) => done),
      Stream.interruptWhen(Deferred.await(run.childWaiting)),
      Stream.runDrain
    )
    const waiting = yield* Deferred.poll(run.childWaiting)
    return Option.isSome(waiting) ? yield* waiting.value : run.outcome
  }))

/** A run being rendered: what `render` knows of it while its events go by (one event at a time). */
interface Following {
  readonly engine: WorkflowEngine.WorkflowEngineService
  readonly executionId: string
  readonly options: RenderOptions
  readonly chat: ChatAdapterService
  readonly indent: string
  /** The steps running now, with the time each started, for the progress line. */
  readonly running: Ref.Ref<ReadonlyMap<string, number>>
  /** The child executions being shown, by the step that waits on each. */
  readonly children: Map<string, { readonly ended: Deferred.Deferred<void>; readonly fiber: Fiber.Fiber<void> }>
  /** Completed when a child shown inside a step waits for an approval or a signal: the chat stops there. */
  readonly childWaiting: Deferred.Deferred<Outcome>
  outcome: Outcome
}

/** Redraws the progress line every 100 ms: each running step with its elapsed time. */
const showProgress = (chat: ChatAdapterService, running: Following["running"]) =>
  Ref.get(running).pipe(
    Effect.flatMap((steps) => {
      const now = Date.now()
      const status = [...steps].map(([name, started]) => `${name} ${((now - started) / 1000).toFixed(1)}s`)
      const frame = spinner[Math.floor(now / 100) % spinner.length]
      return chat.progress!(status.length === 0 ? undefined : `${frame} ${status.join(" · ")}`)
    }),
    Effect.repeat(Schedule.spaced(Duration.millis(100))),
    Effect.ensuring(chat.progress!(undefined))
  )

/** Writes lines at the run's indentation; the progress line, if any, is cleared first. */
const write = (run: Following, lines: ReadonlyArray<Line>) =>
  Effect.forEach(lines, ({ kind, text }) => {
    const { chat } = run
    const method = kind === "error" ? chat.errorLine : kind === "warning" ? chat.warningLine : chat.systemLine
    return Effect.zipRight(
      chat.progress !== undefined ? chat.progress(undefined) : Effect.void,
      method(`${run.indent}${text}`)
    )
  }, { discard: true })

/** Shows one event and keeps track of the run; true when the rendering is over. */
const onEvent = (
  run: Following,
  event: WorkflowEvent.StoredEvent
): Effect.Effect<boolean, never, Scope.Scope | ChatAdapter> =>
  Effect.gen(function*() {
    const { executionId, options } = run
    run.outcome = { _tag: "Following", lastSeq: event.seq }
    const name = event.runnableName ?? "step"
    if (event.type === "step_start") {
      yield* Ref.update(run.running, (steps) => new Map(steps).set(name, event.timestamp))
    } else if (event.type === "step_end") {
      yield* Ref.update(run.running, (steps) => {
        const next = new Map(steps)
        next.delete(name)
        return next
      })
      // The child ended before its step did: show all of it before the step's end.
      yield* endChild(run, name)
    }
    yield* write(run, ChatRender.eventLines(event, { ...options, executionId, commandLine: run.chat.commandLine }))
    switch (event.type) {
      case "step_start": {
        const child = childOf(event.input)
        if (child !== undefined) yield* startChild(run, name, child)
        break
      }
      case "final_output":
        run.outcome = { _tag: "Completed", output: event.data }
        return true
      case "workflow_error":
        run.outcome = { _tag: "Failed", error: event.error }
        return true
      case "human_approval_required":
        // The request and the `waiting` status are one commit: if the run waits, this is where it stopped.
        if (options.untilEnd !== true && (yield* stoppedAt(run, event.seq))) {
          run.outcome = { _tag: "Waiting", executionId, taskId: event.taskId }
          return true
        }
        break
      case "wait_started":
        // Followed through a child's run and a short sleep (this process wakes it); not through what only
        // someone else, or a long time, can end.
        if (
          options.untilEnd !== true &&
          (event.wait === "signal" ||
            (event.wait === "sleep" && (event.wakeAt ?? 0) - Date.now() > FOLLOWED_SLEEP_MS)) &&
          (yield* stoppedAt(run, event.seq))
        ) {
          run.outcome = {
            _tag: "Suspended",
            executionId,
            wait: event.wait,
            ...(event.name !== undefined ? { name: event.name } : {}),
            ...(event.wakeAt !== undefined ? { wakeAt: event.wakeAt } : {})
          }
          return true
        }
    }
    return options.untilSeq !== undefined && event.seq >= options.untilSeq
  })

/** A sleep ending sooner than this is followed to its end. */
const FOLLOWED_SLEEP_MS = 60_000

/** Whether the run is waiting with the event at `seq` its last: the wait it started there holds it. */
const stoppedAt = (run: Following, seq: number) =>
  Effect.map(
    Effect.option(run.engine.status(run.executionId)),
    (now) => Option.isSome(now) && now.value.status === "waiting" && now.value.lastSeq === seq
  )

/** Starts showing the child a step waits on, indented under it. */
const startChild = (run: Following, step: string, child: string) =>
  Effect.gen(function*() {
    const ended = yield* Deferred.make<void>()
    run.children.set(step, { ended, fiber: yield* Effect.forkScoped(followChild(run, child, ended)) })
  })

/** Lets the child of a step that ended finish showing. */
const endChild = (run: Following, step: string) =>
  Effect.suspend(() => {
    const child = run.children.get(step)
    if (child === undefined) return Effect.void
    run.children.delete(step)
    return Effect.zipRight(Deferred.succeed(child.ended, undefined), Fiber.join(child.fiber))
  })

/** Shows a child once it exists (it is created inside the step); gives up if the step ends without one. */
const followChild = (run: Following, child: string, stepEnded: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    const exists = run.engine.status(child).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
    while (!(yield* exists)) {
      if (yield* Deferred.isDone(stepEnded)) return
      yield* Effect.sleep(Duration.millis(20))
    }
    const shown = yield* render(run.engine, child, { ...run.options, indent: `${run.indent}  ` }).pipe(
      // The parent's own events go on; what went wrong reading the child is said where it would have shown.
      Effect.catchAll((error) => Effect.as(write(run, [{ kind: "error", text: Message.messageOf(error) }]), undefined))
    )
    if (shown?._tag === "Waiting" || shown?._tag === "Suspended") yield* Deferred.succeed(run.childWaiting, shown)
  })

/** The child execution a step waits on, named by its input's `child`. */
const childOf = (input: unknown): string | undefined =>
  typeof input === "object" && input !== null && "child" in input && typeof input.child === "string"
    ? input.child
    : undefined
