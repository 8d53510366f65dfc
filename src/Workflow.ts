/**
 * Defining workflows: `make`, and the operations a workflow body uses while it
 * runs: durable `step`s, `log`/`chunk`/`emit` events and human `approval`s.
 *
 * A workflow body is re-run from the top when an execution resumes. Every
 * `step`, `approval` and event emitted outside a step is journaled by its
 * position in the body, so on resume they return what they returned before
 * instead of running again. Code outside steps must therefore be
 * deterministic: the same input must lead to the same sequence of steps,
 * approvals and emitted events. Put anything that reads the clock, random
 * numbers, the network or files inside a `step`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Body from "./internal/body.js"
import { currentCursor } from "./internal/cursor.js"
import type { Frame } from "./internal/cursor.js"
import { WorkflowCancelled, WorkflowFailed } from "./internal/engine/errors.js"
import { formatIssues, issuesOf } from "./internal/errorInfo.js"
import { currentFlow } from "./internal/flowState.js"
import type { FlowState } from "./internal/flowState.js"
import { CHILD_PREFIX } from "./internal/waits.js"
import * as WorkflowEvent from "./WorkflowEvent.js"
import type { ErrorInfo } from "./WorkflowEvent.js"

export {
  /**
   * A child execution could not start (`Workflow.child`, `startChild`): its workflow is not registered,
   * its input is invalid, its id belongs to another workflow's execution, or storage failed.
   *
   * @since 0.2.0
   * @category errors
   */
  ChildNotStarted,
  /**
   * The input of a workflow did not match its schema.
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidInput,
  /**
   * The value a workflow returned did not match its output schema.
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidOutput,
  /**
   * On resume, the workflow body reached a step, approval or event that differs
   * from what the journal recorded at the same position: the code changed, or
   * code outside steps is not deterministic. The execution fails rather than
   * mixing two histories.
   *
   * @since 0.1.0
   * @category errors
   */
  NonDeterminism,
  /**
   * A step ran longer than its `timeout`.
   *
   * @since 0.1.0
   * @category errors
   */
  StepTimeout
} from "./internal/workflowErrors.js"
import type { ChildNotStarted, StepTimeout } from "./internal/workflowErrors.js"

/**
 * What a workflow body may know of the execution it runs in.
 *
 * @since 0.2.0
 * @category models
 */
export interface ExecutionInfo {
  /** The id of the running execution. */
  readonly executionId: string
  /** The name of the running workflow. */
  readonly workflow: string
}

export {
  /**
   * The execution a workflow body runs in. Available inside `run` as a service:
   * `const { executionId } = yield* Workflow.ExecutionContext`.
   *
   * @since 0.1.0
   * @category context
   */
  ExecutionContext
} from "./internal/executionContext.js"
import type { ExecutionContext } from "./internal/executionContext.js"

/**
 * A workflow definition.
 *
 * @since 0.1.0
 * @category models
 */
export interface Workflow<in out A, in out I, out E = never, out R = never> {
  readonly name: string
  readonly description: string | undefined
  readonly input: Schema.Schema<I, any>
  readonly output: Schema.Schema<A, any>
  readonly run: (input: I) => Effect.Effect<A, E, R | ExecutionContext>
  /** Turns the text after `/workflow run <name>` into the input; without it, JSON or `key=value` pairs are read. */
  readonly parseArgs?: ((args: string) => unknown) | undefined
  /**
   * Encodes the body's typed failures for storage and decodes them for
   * `result` (see `Typed`); without it, a failure reaches `result` as
   * `WorkflowFailed`.
   */
  readonly error?: Schema.Schema<any, any> | undefined
  /**
   * The signals its executions take, by name, with their payload's schema: `engine.signal` checks a
   * payload against it before storing anything, and refuses names not declared (without it, any signal
   * is stored, and checked when the body receives it).
   */
  readonly signals?: Readonly<Record<string, Schema.Schema<any, any>>> | undefined
  /**
   * Stored with each execution it starts: an engine runs (resumes, recovers, wakes) only the executions
   * of the version it has. Change it when a body changes in a way `patched` cannot bridge.
   */
  readonly version?: string | undefined
}

/**
 * A workflow made with an `error` schema: its `result` fails with the
 * decoded error `E`, also when read back after a restart.
 *
 * @since 0.2.0
 * @category models
 */
export interface Typed<in out A, in out I, in out E, out R = never> extends Workflow<A, I, E, R> {
  readonly error: Schema.Schema<E, any>
}

/**
 * @since 0.1.0
 * @category models
 */
export type Any = Workflow<any, any, any, any>

/**
 * The services a workflow needs besides its `ExecutionContext`.
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements<W> = W extends Workflow<any, any, any, infer R> ? Exclude<R, ExecutionContext> : never

/**
 * Whether a value is a workflow definition (made by `make`), e.g. among a module's exports.
 *
 * @since 0.1.0
 * @category guards
 */
export const isWorkflow = (u: unknown): u is Any =>
  typeof u === "object" && u !== null && "run" in u && "input" in u && "output" in u && "name" in u

/**
 * Defines a workflow. `input` and `output` default to `Schema.Unknown`; when
 * given, the input is validated before the execution is created and the
 * output before it is stored, each failure naming the path that failed.
 * With an `error` schema, the body's typed failures are stored encoded with
 * it, and `result` fails with them decoded (after a restart too); a defect,
 * or a failure the schema cannot encode, is a `WorkflowFailed`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  <A, I = unknown, E = never, R = never, AE = A, IE = I, EE = E>(options: {
    readonly name: string
    readonly description?: string
    readonly input?: Schema.Schema<I, IE>
    readonly output?: Schema.Schema<A, AE>
    readonly error: Schema.Schema<E, EE>
    readonly signals?: Readonly<Record<string, Schema.Schema<any, any>>>
    readonly version?: string
    readonly run: (input: I) => Effect.Effect<A, E, R>
    readonly parseArgs?: (args: string) => unknown
  }): Typed<A, I, E, Exclude<R, ExecutionContext>>
  <A, I = unknown, E = never, R = never, AE = A, IE = I>(options: {
    readonly name: string
    readonly description?: string
    readonly input?: Schema.Schema<I, IE>
    readonly output?: Schema.Schema<A, AE>
    readonly signals?: Readonly<Record<string, Schema.Schema<any, any>>>
    readonly version?: string
    readonly run: (input: I) => Effect.Effect<A, E, R>
    readonly parseArgs?: (args: string) => unknown
  }): Workflow<A, I, E, Exclude<R, ExecutionContext>>
} = (options: {
  readonly name: string
  readonly description?: string
  readonly input?: Schema.Schema<any, any>
  readonly output?: Schema.Schema<any, any>
  readonly error?: Schema.Schema<any, any>
  readonly signals?: Readonly<Record<string, Schema.Schema<any, any>>>
  readonly version?: string
  readonly run: (input: any) => Effect.Effect<any, any, any>
  readonly parseArgs?: (args: string) => unknown
}): any => ({
  ...(options.parseArgs !== undefined ? { parseArgs: options.parseArgs } : {}),
  ...(options.error !== undefined ? { error: options.error } : {}),
  ...(options.version !== undefined ? { version: options.version } : {}),
  // Keys read from a null-prototype copy: a name such as "__proto__" is a name, never a prototype.
  ...(options.signals !== undefined ? { signals: Object.assign(Object.create(null), options.signals) } : {}),
  name: options.name,
  description: options.description,
  input: options.input ?? Schema.Unknown,
  output: options.output ?? Schema.Unknown,
  run: options.run
})

/**
 * @since 0.1.0
 * @category models
 */
export interface StepOptions<A, E, R> {
  /** Retries failures on this schedule before the result is journaled. */
  readonly retry?: Schedule.Schedule<unknown, E, R>
  /** Fails the attempt with `StepTimeout` when it takes longer. */
  readonly timeout?: Duration.DurationInput
  /** Shown as the `input` of the `step_start` event. */
  readonly input?: unknown
  /** Encodes the result for the journal and decodes it on replay (default: stored as is). */
  readonly success?: Schema.Schema<A, any>
  /** Encodes a failure for the journal and decodes it on replay (default: stored as is). */
  readonly error?: Schema.Schema<E, any>
}

/**
 * Runs `effect` once per execution. Its result, success or failure, is
 * journaled in the same commit as its `step_end` event; on resume the stored
 * result is returned without running `effect` again. Steps may nest: inner
 * steps are journaled under the outer one.
 *
 * @since 0.1.0
 * @category steps
 */
export const step = <A, E, R, O extends StepOptions<A, E, R> = StepOptions<A, E, R>>(
  name: string,
  effect: Effect.Effect<A, E, R>,
  options?: O
): Effect.Effect<
  A,
  E | (O extends { readonly timeout: Duration.DurationInput } ? StepTimeout : never),
  R | ExecutionContext
> => Body.step("Workflow.step", name, effect, options) as any

/**
 * The events only the engine writes, with what a body uses instead: a body
 * that wrote them itself could end its log (or answer its own approval)
 * while the execution goes on.
 */
const engineOnly: Partial<Record<WorkflowEvent.EventType, string>> = {
  final_output: "return the output from the body",
  workflow_error: "fail the body",
  human_approval_required: "use Workflow.approval",
  human_approval_completed: "answer with engine.approve",
  wait_started: "use Workflow.sleep or Workflow.signal",
  wait_ended: "use Workflow.sleep or Workflow.signal",
  signal_received: "send it with engine.signal",
  child_started: "use Workflow.child or Workflow.startChild"
}

/**
 * Emits an event into the execution's log. The event is validated: an unknown
 * `type` or a missing field fails with `InvalidEvent`, and so does an event
 * only the engine writes (`final_output`, `workflow_error`, and the approval
 * events: use the body's result, its failure and `approval` instead).
 *
 * @since 0.1.0
 * @category events
 */
export const emit = (
  event: WorkflowEvent.WorkflowEvent | Omit<WorkflowEvent.WorkflowEvent, "timestamp"> | unknown
): Effect.Effect<void, WorkflowEvent.InvalidEvent, ExecutionContext> =>
  Effect.flatMap(
    typeof event === "object" && event !== null && !("timestamp" in event)
      ? Effect.flatMap(Clock.currentTimeMillis, (timestamp) => WorkflowEvent.decode({ ...event, timestamp }))
      : WorkflowEvent.decode(event),
    (valid) => {
      const instead = engineOnly[valid.type]
      return instead === undefined
        ? Body.emit("Workflow.emit", valid)
        : Effect.fail(
          new WorkflowEvent.InvalidEvent({
            eventType: valid.type,
            issues: [{ path: ["type"], message: `"${valid.type}" events are written by the engine: ${instead}` }]
          })
        )
    }
  )

/**
 * Emits a `log` event.
 *
 * @since 0.1.0
 * @category events
 */
export const log = (
  level: WorkflowEvent.LogLevel,
  message: string,
  details?: unknown
): Effect.Effect<void, never, ExecutionContext> =>
  Body.emit(
    "Workflow.log",
    details === undefined ? { type: "log", level, message } : { type: "log", level, message, details }
  )

/**
 * Emits an `output_chunk` event: partial output a consumer can show as it arrives.
 *
 * @since 0.1.0
 * @category events
 */
export const chunk = (data: unknown): Effect.Effect<void, never, ExecutionContext> =>
  Body.emit("Workflow.chunk", { type: "output_chunk", data })

/**
 * @since 0.1.0
 * @category models
 */
export interface ApprovalRequest {
  readonly taskId: string
  readonly dataForApproval: unknown
  readonly message?: string | undefined
  readonly choices?: ReadonlyArray<string> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ApprovalAnswer {
  readonly status: "approved" | "rejected" | "modified" | (string & {})
  readonly responseData?: unknown
  readonly feedback?: string
}

/**
 * Asks a human. Emits `human_approval_required`, journals the request, sets the
 * execution's status to `waiting` and suspends it. The engine's `approve`
 * stores the answer and resumes the execution, in this process or a later
 * one; this call then returns the answer.
 *
 * @since 0.1.0
 * @category approvals
 */
export const approval = (request: ApprovalRequest): Effect.Effect<ApprovalAnswer, never, ExecutionContext> =>
  Body.approval("Workflow.approval", request)

/**
 * Sleeps durably: the wake-up time (now on the engine's `Clock`, plus `duration`) is journaled, the
 * execution waits with no process holding it and no fiber running, and any engine on the storage wakes
 * it then, after a restart too. On replay, a sleep whose time has passed returns at once. Emits
 * `wait_started` (with `wakeAt`) and, on waking, `wait_ended`.
 *
 * @since 0.2.0
 * @category waits
 */
export const sleep = (duration: Duration.DurationInput): Effect.Effect<void, never, ExecutionContext> =>
  Effect.suspend(() => {
    const millis = Duration.toMillis(Duration.decode(duration))
    return Number.isFinite(millis)
      ? Body.sleep("Workflow.sleep", (now) => now + Math.max(0, millis))
      : Effect.dieMessage(`Workflow.sleep needs a finite duration, not ${Duration.format(duration)}`)
  })

/**
 * Sleeps durably until `date` (a `Date`, or ms since the epoch), as `sleep` does.
 *
 * @since 0.2.0
 * @category waits
 */
export const sleepUntil = (date: Date | number): Effect.Effect<void, never, ExecutionContext> =>
  Effect.suspend(() => {
    const at = typeof date === "number" ? date : date.getTime()
    return Number.isFinite(at)
      ? Body.sleep("Workflow.sleepUntil", () => at)
      : Effect.dieMessage(`Workflow.sleepUntil needs a valid date, not ${String(date)}`)
  })

/**
 * @since 0.2.0
 * @category models
 */
export interface SignalOptions {
  /** How long to wait (durably, as `sleep` does) before giving up with `Option.none()`. */
  readonly timeout: Duration.DurationInput
}

/**
 * Receives a signal sent with `engine.signal(executionId, name, payload)`: the first one of that name in
 * the execution's inbox, in the order sent, also one sent before the body got here. Waits for it durably
 * when there is none yet (the execution is `waiting` for `signal:<name>`, held by no process). The payload
 * is decoded with `schema`; one it refuses is taken out of the inbox and skipped, with a `log` warning.
 * With a `timeout`, answers `Option.none()` when no signal came in time, else `Option.some(payload)`.
 *
 * @since 0.2.0
 * @category waits
 */
export const signal: {
  <A, I>(name: string, schema: Schema.Schema<A, I>): Effect.Effect<A, never, ExecutionContext>
  <A, I>(
    name: string,
    schema: Schema.Schema<A, I>,
    options: SignalOptions
  ): Effect.Effect<Option.Option<A>, never, ExecutionContext>
} = (name: string, schema: Schema.Schema<any, any>, options?: SignalOptions): Effect.Effect<any, never, any> =>
  Effect.suspend(() => {
    const decode = Schema.decodeUnknownEither(schema, { errors: "all" })
    const accept = (payload: unknown) => {
      const decoded = decode(payload)
      return Either.isRight(decoded) ? undefined : formatIssues(issuesOf(decoded.left))
    }
    const timeout = options === undefined ? undefined : Duration.toMillis(Duration.decode(options.timeout))
    const received = Body.signal(
      "Workflow.signal",
      name,
      accept,
      timeout === undefined || !Number.isFinite(timeout) ? undefined : (now) => now + Math.max(0, timeout)
    )
    // Accepted before it was journaled: it decodes.
    const value = Option.map((payload: unknown) => Either.getOrThrow(decode(payload)))
    return options === undefined
      ? Effect.map(received, (payload) => Option.getOrThrow(value(payload)))
      : Effect.map(received, value)
  })

/**
 * Whether this execution takes the path of a change to its body: `true` for an execution that gets here
 * with code that has the patch `id` (journaled, so it stays `true` on replay); `false` for one that
 * journaled past this point before the patch existed (it replays the old path, and the check takes no
 * position in its journal). Deploy `if (yield* Workflow.patched("id")) { new } else { old }`; once no
 * execution from before is in flight, keep only the new path (and the check, until then).
 *
 * @since 0.2.0
 * @category versions
 */
export const patched = (id: string): Effect.Effect<boolean, never, ExecutionContext> =>
  Body.patched("Workflow.patched", id)

/**
 * @since 0.2.0
 * @category models
 */
export interface ChildOptions {
  /** The child's execution id (default: a new UUID, journaled before the child starts). */
  readonly id?: string
}

/**
 * Starts a child execution of `workflow`, linked to this one (its `parent`), and answers its id without
 * waiting. Durable: the id is journaled first, so a replayed parent finds the child it started, never a
 * second one. Cancelling the parent cancels its unfinished children. Emits `child_started`. Wait for it
 * with `awaitChild`, here or later in the body.
 *
 * @since 0.2.0
 * @category children
 */
export const startChild: {
  <A, I, E, R>(
    workflow: Workflow<A, I, E, R>,
    input: I,
    options?: ChildOptions
  ): Effect.Effect<string, ChildNotStarted, Exclude<R, ExecutionContext> | ExecutionContext>
  /** A workflow registered with the engine, by name: its input is checked when the child starts. */
  (workflow: string, input: unknown, options?: ChildOptions): Effect.Effect<string, ChildNotStarted, ExecutionContext>
} = (workflow: Any | string, input: unknown, options?: ChildOptions): Effect.Effect<string, ChildNotStarted, any> =>
  Body.startChild("Workflow.startChild", workflow, input, options?.id)

/**
 * Waits durably for the end of the child execution `id` of `workflow` (started with `startChild`): its
 * output, decoded with the workflow's output schema; its typed failure when the workflow has an `error`
 * schema, else `WorkflowFailed`; `WorkflowCancelled` if it was cancelled. The parent waits with no
 * process holding it (`waiting` for `signal:child:<id>`); the child's end, stored in the same transaction
 * as a signal to the parent, resumes it wherever its workflow runs.
 *
 * @since 0.2.0
 * @category children
 */
export const awaitChild: {
  <A, I, E, R>(
    workflow: Workflow<A, I, E, R>,
    id: string
  ): Effect.Effect<A, E | WorkflowFailed | WorkflowCancelled, ExecutionContext>
  /** By name: the output as stored (encoded), every failure a `WorkflowFailed`. */
  (workflow: string, id: string): Effect.Effect<unknown, WorkflowFailed | WorkflowCancelled, ExecutionContext>
} = <A, E>(
  workflow: Any | string,
  id: string
): Effect.Effect<A, E | WorkflowFailed | WorkflowCancelled, ExecutionContext> =>
  Effect.flatMap(
    Body.signal("Workflow.awaitChild", `${CHILD_PREFIX}${id}`, () => undefined, undefined, { wait: "child", name: id }),
    (received): Effect.Effect<A, E | WorkflowFailed | WorkflowCancelled> => {
      const ended = Option.getOrThrow(received) as {
        readonly status: string
        readonly output?: unknown
        readonly error?: ErrorInfo
      }
      const definition = typeof workflow === "string" ? undefined : workflow
      if (ended.status === "completed") {
        return definition === undefined
          ? Effect.succeed(ended.output as A)
          : Effect.orDie(Schema.decodeUnknown(definition.output)(ended.output))
      }
      if (ended.status === "cancelled") return Effect.fail(new WorkflowCancelled({ executionId: id }))
      const error = ended.error ?? { name: "Error", message: `child ${id} failed` }
      const typed = definition?.error !== undefined && error.failure !== undefined
        ? Schema.decodeUnknownOption(definition.error)(error.failure)
        : Option.none()
      return Option.isSome(typed)
        ? Effect.fail(typed.value as E)
        : Effect.fail(new WorkflowFailed({ executionId: id, error }))
    }
  )

/**
 * Runs `workflow` as a child execution and waits for it: `startChild` then `awaitChild`.
 *
 * @since 0.2.0
 * @category children
 */
export const child: {
  <A, I, E, R>(
    workflow: Workflow<A, I, E, R>,
    input: I,
    options?: ChildOptions
  ): Effect.Effect<
    A,
    E | ChildNotStarted | WorkflowFailed | WorkflowCancelled,
    Exclude<R, ExecutionContext> | ExecutionContext
  >
  /** By name (see `startChild` and `awaitChild`). */
  (
    workflow: string,
    input: unknown,
    options?: ChildOptions
  ): Effect.Effect<unknown, ChildNotStarted | WorkflowFailed | WorkflowCancelled, ExecutionContext>
} = (workflow: Any | string, input: unknown, options?: ChildOptions): Effect.Effect<any, any, any> =>
  Effect.flatMap(startChild(workflow as string, input, options), (id) => awaitChild(workflow as string, id))

/**
 * Where a fiber is in a workflow body: its execution, its position in the
 * journal, its flow. Code that leaves Effect (a Promise API, a callback) and
 * comes back captures it with `location` and restores it with `atLocation`,
 * so that what it runs on the other side is journaled where it belongs.
 *
 * @since 0.2.0
 * @category interop
 */
export interface Location {
  readonly [LocationBrand]: "Location"
}

declare const LocationBrand: unique symbol

/** What a `Location` holds, hidden from its users. */
interface LocationData {
  readonly frame: Frame | undefined
  readonly flow: FlowState | undefined
}

/**
 * The location of the current fiber (empty outside a running workflow).
 *
 * @since 0.2.0
 * @category interop
 */
export const location: Effect.Effect<Location> = Effect.zipWith(
  FiberRef.get(currentCursor),
  FiberRef.get(currentFlow),
  (cursor, flow): LocationData => ({ frame: cursor.frame, flow })
) as Effect.Effect<any>

/**
 * Runs `effect` at a captured location.
 *
 * @since 0.2.0
 * @category interop
 */
export const atLocation = (location: Location) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const { flow, frame } = location as unknown as LocationData
  return effect.pipe(Effect.locally(currentCursor, { frame }), Effect.locally(currentFlow, flow))
}
