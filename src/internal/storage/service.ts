/**
 * The values behind the `ExecutionStorage` module: the status schema, the
 * storage's tagged errors and its Tag. The types live in the public module.
 */
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import type { Commit, ExecutionRecord as Record, ExecutionStorageService } from "../../ExecutionStorage.js"
import { ErrorInfo } from "../errorInfo.js"

export const ExecutionStatus = Schema.Literal("created", "running", "waiting", "completed", "failed", "cancelled")

/**
 * An execution record as a Schema: what the HTTP API sends. The interface in the public module is the
 * model; the two assertions below keep this schema and it the same shape.
 */
export const ExecutionRecord = Schema.Struct({
  id: Schema.String,
  workflow: Schema.String,
  input: Schema.Unknown,
  status: ExecutionStatus,
  output: Schema.optionalWith(Schema.Unknown, { exact: true }),
  error: Schema.optionalWith(ErrorInfo, { exact: true }),
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  lastSeq: Schema.Int,
  leaseUntil: Schema.optionalWith(Schema.Number, { exact: true }),
  parent: Schema.optionalWith(Schema.String, { exact: true }),
  awaitedByParent: Schema.optionalWith(Schema.Boolean, { exact: true }),
  version: Schema.optionalWith(Schema.String, { exact: true }),
  queue: Schema.optionalWith(Schema.String, { exact: true }),
  waitingFor: Schema.optionalWith(Schema.String, { exact: true }),
  wakeAt: Schema.optionalWith(Schema.Number, { exact: true })
})

/** Compiles only while the schema's type and the `ExecutionRecord` interface are assignable both ways. */
export const sameRecord: [Record, typeof ExecutionRecord.Type] extends [typeof ExecutionRecord.Type, Record] ? true
  : never = true

export const isTerminal = (status: typeof ExecutionStatus.Type): boolean =>
  status === "completed" || status === "failed" || status === "cancelled"

/** Whether an event is one an execution's end stores (`final_output`; `workflow_error` for a failure or a cancel). */
export const isEndEvent = (type: string): boolean => type === "final_output" || type === "workflow_error"

export class ExecutionNotFound extends Schema.TaggedError<ExecutionNotFound>()("ExecutionNotFound", {
  executionId: Schema.String
}) {
  override get message(): string {
    return `No execution with id "${this.executionId}"`
  }
}

export class ExecutionFinished extends Schema.TaggedError<ExecutionFinished>()("ExecutionFinished", {
  executionId: Schema.String,
  status: ExecutionStatus
}) {
  override get message(): string {
    return `Execution "${this.executionId}" has already finished with status "${this.status}"`
  }
}

export class ApprovalNotPending extends Schema.TaggedError<ApprovalNotPending>()("ApprovalNotPending", {
  executionId: Schema.String,
  taskId: Schema.String
}) {
  override get message(): string {
    return `Execution "${this.executionId}" is not waiting for approval of task "${this.taskId}"`
  }
}

export class SignalPending extends Schema.TaggedError<SignalPending>()("SignalPending", {
  executionId: Schema.String,
  name: Schema.String
}) {
  override get message(): string {
    return `Execution "${this.executionId}" has a signal "${this.name}" it has not received yet: it need not wait`
  }
}

export class ExecutionNotOwned extends Schema.TaggedError<ExecutionNotOwned>()("ExecutionNotOwned", {
  executionId: Schema.String,
  owner: Schema.String
}) {
  override get message(): string {
    return `Execution "${this.executionId}" is no longer held by "${this.owner}": ` +
      "its lease expired, or another process has claimed it"
  }
}

export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  operation: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `Execution storage failed during ${this.operation}: ${this.reason}`
  }
}

export class InvalidPayload extends Schema.TaggedError<InvalidPayload>()("InvalidPayload", {
  what: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.what} cannot be stored: ${this.reason}`
  }
}

export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()("InvalidCursor", {
  cursor: Schema.String
}) {
  override get message(): string {
    return `Invalid execution list cursor "${this.cursor}"`
  }
}

export class ExecutionStorage extends Context.Tag("@token-ring/workflow/ExecutionStorage")<
  ExecutionStorage,
  ExecutionStorageService
>() {}

/** The errors a commit fails with, as opposed to defects. */
export const isCommitError = (
  error: unknown
): error is
  | ExecutionNotFound
  | ExecutionFinished
  | ExecutionNotOwned
  | ApprovalNotPending
  | SignalPending
  | InvalidPayload
  | StorageError =>
  error instanceof ExecutionNotFound || error instanceof ExecutionFinished || error instanceof ExecutionNotOwned ||
  error instanceof ApprovalNotPending || error instanceof SignalPending || error instanceof InvalidPayload ||
  error instanceof StorageError

/**
 * A commit the storage may refuse for a reason of its own rather than a failure (`ApprovalNotPending`,
 * `SignalPending`), or one that changes more than its execution's own rows (an answer, a signal): the
 * storages write it alone, never merged or batched with another.
 */
export const conditional = (commit: Commit): boolean =>
  commit.waitingFor !== undefined || commit.answer !== undefined || commit.wait?.unlessSignal !== undefined ||
  commit.signal !== undefined || commit.consume !== undefined || commit.signalParent !== undefined
