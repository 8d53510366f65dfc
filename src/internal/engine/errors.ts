/**
 * The engine's errors. The `WorkflowEngine` module re-exports them.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { ExecutionStorageService } from "../../ExecutionStorage.js"
import { ErrorInfo, formatIssues } from "../errorInfo.js"
import { ExecutionNotFound } from "../storage/service.js"
import { Issues } from "../workflowErrors.js"

/**
 * No workflow of that name is registered.
 */
export class WorkflowNotFound extends Schema.TaggedError<WorkflowNotFound>()("WorkflowNotFound", {
  workflow: Schema.String,
  registered: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `No workflow named "${this.workflow}" is registered` +
      (this.registered.length > 0 ? ` (registered: ${this.registered.join(", ")})` : "")
  }
}

/**
 * Another workflow definition is already registered under that name.
 */
export class WorkflowAlreadyRegistered
  extends Schema.TaggedError<WorkflowAlreadyRegistered>()("WorkflowAlreadyRegistered", { workflow: Schema.String })
{
  override get message(): string {
    return `A different workflow named "${this.workflow}" is already registered`
  }
}

/**
 * `start` was given an execution id that already belongs to an execution of another workflow.
 */
export class ExecutionIdConflict extends Schema.TaggedError<ExecutionIdConflict>()("ExecutionIdConflict", {
  executionId: Schema.String,
  workflow: Schema.String,
  existingWorkflow: Schema.String
}) {
  override get message(): string {
    return `Execution id "${this.executionId}" already belongs to workflow "${this.existingWorkflow}", ` +
      `not "${this.workflow}"`
  }
}

/**
 * No schedule of that name is stored.
 */
export class ScheduleNotFound extends Schema.TaggedError<ScheduleNotFound>()("ScheduleNotFound", {
  schedule: Schema.String
}) {
  override get message(): string {
    return `No schedule named "${this.schedule}" is stored`
  }
}

/**
 * A signal its execution's workflow cannot take: a name it does not declare, or a payload its schema
 * refuses (every failing path named). Nothing was stored.
 */
export class InvalidSignal extends Schema.TaggedError<InvalidSignal>()("InvalidSignal", {
  executionId: Schema.String,
  name: Schema.String,
  issues: Issues
}) {
  override get message(): string {
    return `Signal "${this.name}" refused for execution "${this.executionId}": ${formatIssues(this.issues)}`
  }
}

/**
 * The execution failed; `error` is what it failed with, as stored.
 */
export class WorkflowFailed extends Schema.TaggedError<WorkflowFailed>()("WorkflowFailed", {
  executionId: Schema.String,
  error: ErrorInfo
}) {
  override get message(): string {
    return `Execution "${this.executionId}" failed: ${this.error.name}: ${this.error.message}`
  }
}

/**
 * The execution was cancelled.
 */
export class WorkflowCancelled extends Schema.TaggedError<WorkflowCancelled>()("WorkflowCancelled", {
  executionId: Schema.String
}) {
  override get message(): string {
    return `Execution "${this.executionId}" was cancelled`
  }
}

/**
 * An engine option or call argument outside its allowed range.
 */
export class InvalidOption extends Schema.TaggedError<InvalidOption>()("InvalidOption", {
  option: Schema.String,
  value: Schema.String,
  expected: Schema.String
}) {
  override get message(): string {
    return `Invalid ${this.option}: ${this.value} (expected ${this.expected})`
  }
}

/** A positive duration, or `InvalidOption` naming the option. */
export const positiveDuration = (
  option: string,
  value: Duration.DurationInput
): Effect.Effect<Duration.Duration, InvalidOption> => {
  const duration = Duration.decodeUnknown(value)
  return Option.isSome(duration) && Duration.greaterThan(duration.value, Duration.zero)
    ? Effect.succeed(duration.value)
    : Effect.fail(new InvalidOption({ option, value: String(value), expected: "a positive duration" }))
}

/** An integer of at least 1, or `InvalidOption` naming the option. */
export const positiveInteger = (option: string, value: number): Effect.Effect<number, InvalidOption> =>
  Number.isInteger(value) && value >= 1
    ? Effect.succeed(value)
    : Effect.fail(new InvalidOption({ option, value: String(value), expected: "an integer of at least 1" }))

/**
 * No lone surrogate (half of a UTF-16 pair, which UTF-8 storage cannot keep: it reads back as U+FFFD).
 * ES2024's `isWellFormed`, in Node 20 but not in the ES2023 typings.
 */
const wellFormed = (text: string): boolean => (text as string & { isWellFormed(): boolean }).isWellFormed()

/**
 * An id every storage keeps as given: a well-formed string (no lone surrogate) without NUL characters
 * (PostgreSQL text cannot hold one).
 */
export const isStorableId = (id: unknown): id is string =>
  typeof id === "string" && !id.includes("\u0000") && wellFormed(id)

/** The id, or `InvalidOption` naming it when a storage could not keep it as given. */
export const storableId = (option: string, id: string): Effect.Effect<string, InvalidOption> =>
  isStorableId(id)
    ? Effect.succeed(id)
    : Effect.fail(
      new InvalidOption({
        option,
        value: JSON.stringify(id) ?? String(id),
        expected: "a well-formed string without NUL characters"
      })
    )

/**
 * The storage as the engine reads it: an id that `start` refuses names no execution, so looking one up
 * finds none, on every storage (PostgreSQL would fail the statement on a NUL).
 */
export const lookingUpStorableIds = (storage: ExecutionStorageService): ExecutionStorageService => ({
  ...storage,
  get: (id) => isStorableId(id) ? storage.get(id) : Effect.fail(new ExecutionNotFound({ executionId: id }))
})
