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
import { Context, Effect, Schema } from "effect"
import type { Duration, Schedule } from "effect"
import type { ExecutionRuntime } from "./internal/runtime.js"
import { withFrame } from "./internal/runtime.js"
import * as WorkflowEvent from "./WorkflowEvent.js"

/**
 * The execution a workflow body runs in. Available inside `run` as a service:
 * `const { executionId } = yield* Workflow.ExecutionContext`.
 *
 * @since 0.1.0
 * @category context
 */
export class ExecutionContext extends Context.Tag("@token-ring/workflow/ExecutionContext")<
  ExecutionContext,
  ExecutionRuntime
>() {}

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
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, I = unknown, E = never, R = never, AE = A, IE = I>(options: {
  readonly name: string
  readonly description?: string
  readonly input?: Schema.Schema<I, IE>
  readonly output?: Schema.Schema<A, AE>
  readonly run: (input: I) => Effect.Effect<A, E, R>
  readonly parseArgs?: (args: string) => unknown
}): Workflow<A, I, E, Exclude<R, ExecutionContext>> => ({
  ...(options.parseArgs !== undefined ? { parseArgs: options.parseArgs } : {}),
  name: options.name,
  description: options.description,
  input: (options.input ?? Schema.Unknown) as Schema.Schema<I, any>,
  output: (options.output ?? Schema.Unknown) as Schema.Schema<A, any>,
  run: options.run as Workflow<A, I, E, Exclude<R, ExecutionContext>>["run"]
})

/**
 * The input of a workflow did not match its schema.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  workflow: Schema.String,
  issues: Schema.Array(Schema.Struct({ path: Schema.Array(Schema.PropertyKey), message: Schema.String }))
}) {
  override get message(): string {
    return `Invalid input for workflow "${this.workflow}": ${WorkflowEvent.formatIssues(this.issues)}`
  }
}

/**
 * The value a workflow returned did not match its output schema.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOutput extends Schema.TaggedError<InvalidOutput>()("InvalidOutput", {
  workflow: Schema.String,
  issues: Schema.Array(Schema.Struct({ path: Schema.Array(Schema.PropertyKey), message: Schema.String }))
}) {
  override get message(): string {
    return `Invalid output from workflow "${this.workflow}": ${WorkflowEvent.formatIssues(this.issues)}`
  }
}

/**
 * A step ran longer than its `timeout`.
 *
 * @since 0.1.0
 * @category errors
 */
export class StepTimeout extends Schema.TaggedError<StepTimeout>()("StepTimeout", {
  step: Schema.String,
  timeout: Schema.String
}) {
  override get message(): string {
    return `Step "${this.step}" timed out after ${this.timeout}`
  }
}

/**
 * On resume, the workflow body reached a step, approval or event that differs
 * from what the journal recorded at the same position: the code changed, or
 * code outside steps is not deterministic. The execution fails rather than
 * mixing two histories.
 *
 * @since 0.1.0
 * @category errors
 */
export class NonDeterminism extends Schema.TaggedError<NonDeterminism>()("NonDeterminism", {
  executionId: Schema.String,
  position: Schema.String,
  expected: Schema.String,
  found: Schema.String
}) {
  override get message(): string {
    return `Non-deterministic workflow in execution "${this.executionId}": at position ${this.position} ` +
      `the journal has ${this.expected} but the code now reaches ${this.found}`
  }
}

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
> => withFrame("Workflow.step", (frame, cursor) => frame.runtime.step(frame, cursor, name, effect, options)) as any

/**
 * Emits an event into the execution's log. The event is validated: an unknown
 * `type` or a missing field fails with `InvalidEvent`.
 *
 * @since 0.1.0
 * @category events
 */
export const emit = (
  event: WorkflowEvent.WorkflowEvent | Omit<WorkflowEvent.WorkflowEvent, "timestamp"> | unknown
): Effect.Effect<void, WorkflowEvent.InvalidEvent, ExecutionContext> =>
  Effect.flatMap(
    WorkflowEvent.decode(
      typeof event === "object" && event !== null && !("timestamp" in event)
        ? { ...event, timestamp: Date.now() }
        : event
    ),
    (valid) => withFrame("Workflow.emit", (frame) => frame.runtime.emit(frame, valid))
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
  withFrame("Workflow.log", (frame) =>
    frame.runtime.emit(
      frame,
      details === undefined ? { type: "log", level, message } : { type: "log", level, message, details }
    ))

/**
 * Emits an `output_chunk` event: partial output a consumer can show as it arrives.
 *
 * @since 0.1.0
 * @category events
 */
export const chunk = (data: unknown): Effect.Effect<void, never, ExecutionContext> =>
  withFrame("Workflow.chunk", (frame) => frame.runtime.emit(frame, { type: "output_chunk", data }))

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
  withFrame("Workflow.approval", (frame) => frame.runtime.approval(frame, request))
