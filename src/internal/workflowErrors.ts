/**
 * The errors a workflow body and the interpreter fail with. The `Workflow`
 * module re-exports the public ones.
 */
import * as Data from "effect/Data"
import * as Schema from "effect/Schema"
import type { CommitError } from "../ExecutionStorage.js"
import { formatIssues } from "./errorInfo.js"

export const Issues = Schema.Array(Schema.Struct({ path: Schema.Array(Schema.PropertyKey), message: Schema.String }))

export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  workflow: Schema.String,
  issues: Issues
}) {
  override get message(): string {
    return `Invalid input for workflow "${this.workflow}": ${formatIssues(this.issues)}`
  }
}

export class InvalidOutput extends Schema.TaggedError<InvalidOutput>()("InvalidOutput", {
  workflow: Schema.String,
  issues: Issues
}) {
  override get message(): string {
    return `Invalid output from workflow "${this.workflow}": ${formatIssues(this.issues)}`
  }
}

export class StepTimeout extends Schema.TaggedError<StepTimeout>()("StepTimeout", {
  step: Schema.String,
  timeout: Schema.String
}) {
  override get message(): string {
    return `Step "${this.step}" timed out after ${this.timeout}`
  }
}

export class ChildNotStarted extends Schema.TaggedError<ChildNotStarted>()("ChildNotStarted", {
  workflow: Schema.String,
  executionId: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Child execution "${this.executionId}" of workflow "${this.workflow}" could not start: ${this.reason}`
  }
}

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
 * A step that died (a defect) is journaled as such; on replay it dies again with this.
 */
export class ReplayedDefect extends Data.TaggedError("ReplayedDefect")<{
  readonly name: string
  readonly message: string
}> {}

/**
 * A commit of the running execution failed. Fatal to this run: the execution
 * stays as stored, to be resumed (or it was finished by someone else).
 */
export class CommitFailed extends Data.TaggedError("CommitFailed")<{
  readonly error: CommitError
}> {
  override get message(): string {
    return this.error.message
  }
}
