/**
 * Where chat commands write: the `ChatAdapter` service (the shape of Token
 * Ring's ChatService: `systemLine`, `warningLine`, `errorLine`, plus an
 * optional live `progress` line for terminals), and `render`, which shows a
 * run's event stream there as it happens.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Fiber, Layer, Ref, Schedule, Stream } from "effect"
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
 * Writes system lines to stdout and warnings and errors to stderr.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConsole: Layer.Layer<ChatAdapter> = Layer.succeed(ChatAdapter, {
  systemLine: (line) => Effect.sync(() => process.stdout.write(`${line}\n`)),
  warningLine: (line) => Effect.sync(() => process.stderr.write(`${line}\n`)),
  errorLine: (line) => Effect.sync(() => process.stderr.write(`${line}\n`))
})

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
  | { readonly _tag: "Waiting"; readonly taskId: string }
  | { readonly _tag: "Following"; readonly lastSeq: number }

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
export const show = (value: unknown): string => {
  if (typeof value === "string") return value
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

const milliseconds = (ms: number | undefined) => (ms === undefined ? "" : ` (${Math.round(ms)} ms)`)

const spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

/**
 * Shows a run's events as lines as they arrive: steps starting and ending
 * with their durations, logs, output chunks, approvals it waits for, and the
 * final output or error. While steps run, an adapter with `progress` shows
 * each running step with its elapsed time. Returns when the run ends, or
 * when it waits for an approval (which is what a chat can do next).
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (
  engine: WorkflowEngine.WorkflowEngineService,
  executionId: string,
  options: RenderOptions & { readonly fromSeq?: number } = {}
) =>
  Effect.gen(function*() {
    const chat = yield* ChatAdapter
    const indent = options.indent ?? ""
    const running = yield* Ref.make(new Map<string, number>())
    const outcome = yield* Ref.make<Outcome>({ _tag: "Following", lastSeq: options.fromSeq ?? 0 })
    const ticker = chat.progress === undefined
      ? undefined
      : yield* Effect.fork(
        Ref.get(running).pipe(
          Effect.flatMap((steps) => {
            const now = Date.now()
            const status = [...steps].map(([name, started]) => `${name} ${((now - started) / 1000).toFixed(1)}s`)
            const frame = spinner[Math.floor(now / 100) % spinner.length]
            return chat.progress!(status.length === 0 ? undefined : `${indent}${frame} ${status.join(" · ")}`)
          }),
          Effect.repeat(Schedule.spaced(Duration.millis(100)))
        )
      )
    const line = (write: (text: string) => Effect.Effect<void>, text: string) =>
      Effect.zipRight(chat.progress !== undefined ? chat.progress(undefined) : Effect.void, write(`${indent}${text}`))
    const onEvent = (event: WorkflowEvent.StoredEvent): Effect.Effect<boolean> =>
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
            break
          }
          case "step_end": {
            yield* Ref.update(running, (steps) => {
              const next = new Map(steps)
              next.delete(name)
              return next
            })
            if (options.json) break
            if (event.error !== undefined) {
              yield* line(chat.errorLine, `✗ ${name}${milliseconds(event.durationMs)}: ${errorText(event.error)}`)
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
            const record = yield* Effect.orElseSucceed(engine.status(executionId), () => undefined)
            if (record?.status === "waiting" && record.lastSeq === event.seq) {
              yield* Ref.set(outcome, { _tag: "Waiting", taskId: event.taskId })
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
    const events = engine.events(executionId, options.fromSeq !== undefined ? { fromSeq: options.fromSeq } : {})
    yield* events.pipe(
      Stream.mapEffect(onEvent),
      Stream.takeUntil((done) => done),
      Stream.runDrain,
      Effect.ensuring(
        ticker === undefined ? Effect.void : Effect.zipRight(Fiber.interrupt(ticker), chat.progress!(undefined))
      )
    )
    return yield* Ref.get(outcome)
  })

const errorText = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? error.message
    : show(error)
