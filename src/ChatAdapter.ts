/**
 * Where chat commands write: the `ChatAdapter` service (the shape of Token
 * Ring's ChatService: `systemLine`, `warningLine`, `errorLine`, plus an
 * optional live `progress` line for terminals), and `render`, which shows a
 * run's event stream there as it happens.
 *
 * @since 0.1.0
 */
import { Context, Deferred, Duration, Effect, Fiber, Option, Ref, Schedule, Scope, Stream } from "effect"
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

const milliseconds = (ms: number | undefined) => (ms === undefined ? "" : ` (${Math.round(ms)} ms)`)

const spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

/**
 * Shows a run's events as lines as they arrive: steps starting and ending
 * with their durations, logs, output chunks, approvals it waits for, and the
 * final output or error. While steps run, an adapter with `progress` shows
 * each running step with its elapsed time. A step whose `input` names a
 * `child` execution (as the planning workflows' steps that wait on one do)
 * has that execution shown inside it, indented. Returns when the run ends,
 * or when it (or a child it waits on) waits for an approval: what a chat
 * can do next is answer it.
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
    const indent = options.indent ?? ""
    const record = yield* Effect.option(engine.status(executionId))
    // A waiting run stores nothing more until answered: show its question again rather than wait for nothing.
    const fromSeq = Option.isSome(record) && record.value.status === "waiting" &&
        (options.fromSeq ?? 1) > record.value.lastSeq
      ? record.value.lastSeq
      : options.fromSeq
    const running = yield* Ref.make(new Map<string, number>())
    const outcome = yield* Ref.make<Outcome>({ _tag: "Following", lastSeq: fromSeq ?? 0 })
    const childWaiting = yield* Deferred.make<Outcome>()
    const children = new Map<string, { readonly ended: Deferred.Deferred<void>; readonly fiber: Fiber.Fiber<void> }>()
    if (chat.progress !== undefined && indent === "") {
      yield* Effect.forkScoped(
        Ref.get(running).pipe(
          Effect.flatMap((steps) => {
            const now = Date.now()
            const status = [...steps].map(([name, started]) => `${name} ${((now - started) / 1000).toFixed(1)}s`)
            const frame = spinner[Math.floor(now / 100) % spinner.length]
            return chat.progress!(status.length === 0 ? undefined : `${frame} ${status.join(" · ")}`)
          }),
          Effect.repeat(Schedule.spaced(Duration.millis(100))),
          Effect.ensuring(chat.progress(undefined))
        )
      )
    }
    const line = (write: (text: string) => Effect.Effect<void>, text: string) =>
      Effect.zipRight(chat.progress !== undefined ? chat.progress(undefined) : Effect.void, write(`${indent}${text}`))
    /** Shows a child once it exists (it is created inside the step); gives up if the step ends without one. */
    const follow = (child: string, stepEnded: Deferred.Deferred<void>) =>
      Effect.gen(function*() {
        const exists = engine.status(child).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
        while (!(yield* exists)) {
          if (yield* Deferred.isDone(stepEnded)) return
          yield* Effect.sleep(Duration.millis(20))
        }
        const shown = yield* render(engine, child, { ...options, indent: `${indent}  ` }).pipe(
          // The parent's own events go on; what went wrong reading the child is said where it would have shown.
          Effect.catchAll((error) => Effect.as(line(chat.errorLine, Message.messageOf(error)), undefined))
        )
        if (shown?._tag === "Waiting") yield* Deferred.succeed(childWaiting, shown)
      })
    const onEvent = (event: WorkflowEvent.StoredEvent): Effect.Effect<boolean, never, Scope.Scope | ChatAdapter> =>
      Effect.gen(function*() {
        yield* Ref.set(outcome, { _tag: "Following", lastSeq: event.seq })
        if (options.json) yield* line(chat.systemLine, JSON.stringify(event))
        const name = event.runnableName ?? "step"
        switch (event.type) {
          case "step_start": {
            yield* Ref.update(running, (steps) => new Map(steps).set(name, event.timestamp))
            if (!options.json) {
              yield* line(
                chat.systemLine,
                `▶ ${name}${options.debug && event.input !== undefined ? ` ${show(event.input)}` : ""}`
              )
            }
            const child = childOf(event.input)
            if (child !== undefined) {
              const ended = yield* Deferred.make<void>()
              children.set(name, { ended, fiber: yield* Effect.forkScoped(follow(child, ended)) })
            }
            break
          }
          case "step_end": {
            yield* Ref.update(running, (steps) => {
              const next = new Map(steps)
              next.delete(name)
              return next
            })
            const child = children.get(name)
            if (child !== undefined) {
              // The child ended before its step did: show all of it before the step's end.
              children.delete(name)
              yield* Deferred.succeed(child.ended, undefined)
              yield* Fiber.join(child.fiber)
            }
            if (options.json) break
            if (event.error !== undefined) {
              yield* line(
                chat.errorLine,
                `✗ ${name}${milliseconds(event.durationMs)}: ${Message.messageOf(event.error)}`
              )
            } else {
              const output = options.debug && event.output !== undefined ? ` → ${show(event.output)}` : ""
              yield* line(chat.systemLine, `✓ ${name}${milliseconds(event.durationMs)}${output}`)
            }
            break
          }
          case "log": {
            if (options.json || (event.level === "debug" && !options.debug)) break
            const write = event.level === "error"
              ? chat.errorLine
              : event.level === "warn"
              ? chat.warningLine
              : chat.systemLine
            yield* line(write, `${event.level === "info" ? "" : `[${event.level}] `}${event.message}`)
            break
          }
          case "output_chunk": {
            if (!options.json) yield* line(chat.systemLine, `… ${show(event.data)}`)
            break
          }
          case "schema_definition": {
            if (!options.json && options.debug) yield* line(chat.systemLine, `schema: ${show(event.schema)}`)
            break
          }
          case "final_output": {
            yield* Ref.set(outcome, { _tag: "Completed", output: event.data })
            if (!options.json && options.output !== false) {
              const text = show(event.data)
              yield* line(
                chat.systemLine,
                `Output: ${options.debug || text.length <= 500 ? text : `${text.slice(0, 500)}…`}`
              )
            }
            return true
          }
          case "workflow_error": {
            yield* Ref.set(outcome, { _tag: "Failed", error: event.error })
            if (!options.json) yield* line(chat.errorLine, `Error: ${event.error.name}: ${event.error.message}`)
            return true
          }
          case "human_approval_required": {
            if (!options.json) {
              const choices = event.choices !== undefined ? ` [${event.choices.join("|")}]` : ""
              yield* line(
                chat.warningLine,
                `? ${event.message ?? `Approval needed for "${event.taskId}"`}${choices} — ` +
                  `/workflow approve ${executionId} ${event.taskId} approved|rejected [feedback]`
              )
            }
            // The request and the `waiting` status are one commit: if the run waits, this is where it stopped.
            const now = yield* Effect.option(engine.status(executionId))
            if (Option.isSome(now) && now.value.status === "waiting" && now.value.lastSeq === event.seq) {
              yield* Ref.set(outcome, { _tag: "Waiting", executionId, taskId: event.taskId })
              return true
            }
            break
          }
          case "human_approval_completed": {
            if (!options.json) {
              const feedback = event.feedback !== undefined ? `: ${event.feedback}` : ""
              yield* line(chat.systemLine, `Approval "${event.taskId}": ${event.status}${feedback}`)
            }
            break
          }
        }
        return options.untilSeq !== undefined && event.seq >= options.untilSeq
      })
    const events = engine.events(executionId, fromSeq !== undefined ? { fromSeq } : {})
    yield* events.pipe(
      Stream.mapEffect(onEvent),
      Stream.takeUntil((done) => done),
      Stream.interruptWhen(Deferred.await(childWaiting)),
      Stream.runDrain
    )
    const waiting = yield* Deferred.poll(childWaiting)
    return Option.isSome(waiting) ? yield* waiting.value : yield* Ref.get(outcome)
  }))

/** The child execution a step waits on, named by its input's `child`. */
const childOf = (input: unknown): string | undefined =>
  typeof input === "object" && input !== null && "child" in input && typeof input.child === "string"
    ? input.child
    : undefined
