/**
 * The thirteen event types a workflow emits while it runs, as Schemas.
 *
 * Every event has a `type`, a `timestamp` (milliseconds since the epoch) and
 * optionally `runnableName`, `workflowInstanceId`, `traceId` and `spanId`
 * (those of the run that stored it, when a tracer is installed). Events read
 * back from storage also carry `seq`: their 1-based position in the
 * execution's log.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ErrorInfo as ErrorInfoSchema, formatIssues, issuesOf } from "./internal/errorInfo.js"

export {
  /**
   * Converts anything thrown or failed into the stored error shape.
   *
   * @since 0.1.0
   * @category constructors
   */
  errorInfo,
  /**
   * Formats issues as `path: message` lines.
   *
   * @since 0.1.0
   * @category validation
   */
  formatIssues,
  /**
   * Turns a Schema parse error into a list of issues, each naming its path.
   *
   * @since 0.1.0
   * @category validation
   */
  issuesOf
} from "./internal/errorInfo.js"

/**
 * The serialisable description of an error, as stored and streamed.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ErrorInfo = ErrorInfoSchema

/**
 * @since 0.1.0
 * @category models
 */
export type ErrorInfo = typeof ErrorInfo.Type

/**
 * One problem found while validating a value, with the path that failed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Issue {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

const base = {
  timestamp: Schema.Number,
  runnableName: Schema.optional(Schema.String),
  workflowInstanceId: Schema.optional(Schema.String),
  traceId: Schema.optional(Schema.String),
  // Since 0.2.0: with `traceId`, the span of the run that stored the event (absent in older logs).
  spanId: Schema.optional(Schema.String),
  seq: Schema.optional(Schema.Int)
}

/**
 * @since 0.1.0
 * @category schemas
 */
export const StepStart = Schema.Struct({
  type: Schema.Literal("step_start"),
  ...base,
  input: Schema.optional(Schema.Unknown)
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const StepEnd = Schema.Struct({
  type: Schema.Literal("step_end"),
  ...base,
  output: Schema.optional(Schema.Unknown),
  durationMs: Schema.optional(Schema.Number),
  error: Schema.optional(Schema.Unknown)
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const LogLevel = Schema.Literal("debug", "info", "warn", "error")

/**
 * @since 0.1.0
 * @category models
 */
export type LogLevel = typeof LogLevel.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const Log = Schema.Struct({
  type: Schema.Literal("log"),
  ...base,
  level: LogLevel,
  message: Schema.String,
  details: Schema.optional(Schema.Unknown)
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const OutputChunk = Schema.Struct({
  type: Schema.Literal("output_chunk"),
  ...base,
  data: Schema.Unknown
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const FinalOutput = Schema.Struct({
  type: Schema.Literal("final_output"),
  ...base,
  data: Schema.Unknown
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const SchemaDefinition = Schema.Struct({
  type: Schema.Literal("schema_definition"),
  ...base,
  schema: Schema.Unknown
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const WorkflowError = Schema.Struct({
  type: Schema.Literal("workflow_error"),
  ...base,
  error: ErrorInfo
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const HumanApprovalRequired = Schema.Struct({
  type: Schema.Literal("human_approval_required"),
  ...base,
  taskId: Schema.String,
  dataForApproval: Schema.Unknown,
  message: Schema.optional(Schema.String),
  choices: Schema.optional(Schema.Array(Schema.String))
})

/**
 * `approved`, `rejected` and `modified` are the documented statuses; any other
 * string is accepted for application-specific answers.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ApprovalStatus = Schema.Union(Schema.Literal("approved", "rejected", "modified"), Schema.String)

/**
 * @since 0.1.0
 * @category schemas
 */
export const HumanApprovalCompleted = Schema.Struct({
  type: Schema.Literal("human_approval_completed"),
  ...base,
  taskId: Schema.String,
  status: ApprovalStatus,
  responseData: Schema.optional(Schema.Unknown),
  feedback: Schema.optional(Schema.String)
})

/**
 * What a durable wait waits for: a moment (`Workflow.sleep`), a signal (`Workflow.signal`) or a child
 * execution's end (`Workflow.child`, `Workflow.awaitChild`; `name` is the child's id).
 *
 * @since 0.2.0
 * @category schemas
 */
export const WaitKind = Schema.Literal("sleep", "signal", "child")

/**
 * The body started a durable wait: the execution is `waiting` (and no process holds it) until it ends.
 * `name` is the signal's; `wakeAt` (ms since the epoch) is when a sleep ends, or a signal wait times out.
 *
 * @since 0.2.0
 * @category schemas
 */
export const WaitStarted = Schema.Struct({
  type: Schema.Literal("wait_started"),
  ...base,
  wait: WaitKind,
  name: Schema.optional(Schema.String),
  wakeAt: Schema.optional(Schema.Number)
})

/**
 * A durable wait ended: the sleep's time came, the signal was received, or its wait timed out (`timedOut`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const WaitEnded = Schema.Struct({
  type: Schema.Literal("wait_ended"),
  ...base,
  wait: WaitKind,
  name: Schema.optional(Schema.String),
  timedOut: Schema.optional(Schema.Boolean)
})

/**
 * A signal was sent to the execution (`engine.signal`): it is in its inbox until a `Workflow.signal` of
 * its name receives it, in the order sent.
 *
 * @since 0.2.0
 * @category schemas
 */
export const SignalReceived = Schema.Struct({
  type: Schema.Literal("signal_received"),
  ...base,
  name: Schema.String,
  payload: Schema.Unknown
})

/**
 * The body started a child execution (`Workflow.child`, `Workflow.startChild`): its id and workflow. The
 * child's end reaches this execution as the signal `child:<id>`.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ChildStarted = Schema.Struct({
  type: Schema.Literal("child_started"),
  ...base,
  executionId: Schema.String,
  workflow: Schema.String
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const WorkflowEvent = Schema.Union(
  StepStart,
  StepEnd,
  Log,
  OutputChunk,
  FinalOutput,
  SchemaDefinition,
  WorkflowError,
  HumanApprovalRequired,
  HumanApprovalCompleted,
  WaitStarted,
  WaitEnded,
  SignalReceived,
  ChildStarted
)

/**
 * @since 0.1.0
 * @category models
 */
export type WorkflowEvent = typeof WorkflowEvent.Type

/**
 * @since 0.1.0
 * @category models
 */
export type EventType = WorkflowEvent["type"]

/**
 * An event of one type, e.g. `EventOf<"log">`.
 *
 * @since 0.1.0
 * @category models
 */
export type EventOf<T extends EventType> = Extract<WorkflowEvent, { readonly type: T }>

/**
 * An event as read back from storage: stamped with its execution and `seq`.
 *
 * @since 0.1.0
 * @category models
 */
export type StoredEvent = WorkflowEvent & { readonly seq: number; readonly workflowInstanceId: string }

/**
 * An event as a workflow hands it over: the engine stamps the timestamp (if
 * missing) and the execution id.
 *
 * @since 0.2.0
 * @category models
 */
export type EventDraft = WorkflowEvent extends infer E
  ? E extends WorkflowEvent ? Omit<E, "timestamp"> & { readonly timestamp?: number }
  : never
  : never

/**
 * The thirteen event type names.
 *
 * @since 0.1.0
 * @category constants
 */
export const eventTypes: ReadonlyArray<EventType> = [
  "step_start",
  "step_end",
  "log",
  "output_chunk",
  "final_output",
  "schema_definition",
  "workflow_error",
  "human_approval_required",
  "human_approval_completed",
  "wait_started",
  "wait_ended",
  "signal_received",
  "child_started"
]

const knownTypes: ReadonlySet<string> = new Set<string>(eventTypes)

/**
 * A value that is not a valid workflow event.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidEvent extends Schema.TaggedError<InvalidEvent>()("InvalidEvent", {
  eventType: Schema.optional(Schema.String),
  issues: Schema.Array(Schema.Struct({ path: Schema.Array(Schema.PropertyKey), message: Schema.String }))
}) {
  override get message(): string {
    return this.eventType === undefined || knownTypes.has(this.eventType)
      ? `Invalid workflow event${this.eventType ? ` of type "${this.eventType}"` : ""}: ${formatIssues(this.issues)}`
      : `Unknown workflow event type "${this.eventType}" (expected one of: ${eventTypes.join(", ")})`
  }
}

const schemaByType: Record<EventType, Schema.Schema<any>> = {
  step_start: StepStart,
  step_end: StepEnd,
  log: Log,
  output_chunk: OutputChunk,
  final_output: FinalOutput,
  schema_definition: SchemaDefinition,
  workflow_error: WorkflowError,
  human_approval_required: HumanApprovalRequired,
  human_approval_completed: HumanApprovalCompleted,
  wait_started: WaitStarted,
  wait_ended: WaitEnded,
  signal_received: SignalReceived,
  child_started: ChildStarted
}

/**
 * Validates an unknown value as a workflow event. An unknown `type` is
 * reported by name rather than as thirteen failed union members.
 *
 * @since 0.1.0
 * @category validation
 */
export const decode = (value: unknown): Effect.Effect<WorkflowEvent, InvalidEvent> => {
  const type = typeof value === "object" && value !== null ? (value as { type?: unknown }).type : undefined
  if (typeof type !== "string" || !knownTypes.has(type)) {
    return Effect.fail(
      new InvalidEvent({
        eventType: typeof type === "string" ? type : String(type),
        issues: [{ path: ["type"], message: `unknown event type ${JSON.stringify(type) ?? "undefined"}` }]
      })
    )
  }
  // Decoded against its own type's schema, so the issues name that type's fields, all of them.
  const result = Schema.decodeUnknownEither(schemaByType[type as EventType], {
    errors: "all",
    onExcessProperty: "preserve"
  })(value)
  return result._tag === "Right"
    ? Effect.succeed(result.right)
    : Effect.fail(new InvalidEvent({ eventType: type, issues: issuesOf(result.left) }))
}

/**
 * @since 0.1.0
 * @category guards
 */
export const is = <T extends EventType>(type: T) => (event: WorkflowEvent): event is EventOf<T> => event.type === type

/**
 * @since 0.1.0
 * @category guards
 */
export const isWorkflowEvent: (u: unknown) => u is WorkflowEvent = Schema.is(WorkflowEvent)

/**
 * Builds an event of the given type, stamping the current time.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <T extends EventType>(
  type: T,
  fields: Omit<EventOf<T>, "type" | "timestamp"> & { readonly timestamp?: number }
): EventOf<T> => ({ timestamp: Date.now(), ...fields, type }) as unknown as EventOf<T>
