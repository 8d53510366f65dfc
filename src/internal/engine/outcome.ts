/**
 * What a run stores when its fiber ends: a pure function of the run's state
 * and the body's exit.
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { CommitError } from "../../ExecutionStorage.js"
import type { StorageFailure } from "../../WorkflowEngine.js"
import type { ErrorInfo } from "../../WorkflowEvent.js"
import { errorInfo, issuesOf } from "../errorInfo.js"
import { StorageError } from "../storage/service.js"
import { CommitFailed, InvalidOutput } from "../workflowErrors.js"
import type { RunState } from "./run.js"

export type Outcome = Data.TaggedEnum<{
  /** Store `completed` with the (encoded) output. */
  Complete: { readonly output: unknown }
  /** Store `failed` with the error. */
  Fail: { readonly error: ErrorInfo }
  /** Store `cancelled`. */
  Cancel: {}
  /** Store nothing: what is stored is already right (a wait, a shutdown, an execution finished elsewhere). */
  Leave: {}
  /**
   * Store nothing: storage is failing (`error`), the execution stays as stored, to be resumed. The run's
   * followers in this process are told.
   */
  Stop: { readonly error: StorageFailure }
  /** Store nothing: another engine owns the execution now. */
  Abandon: {}
}>

export const Outcome = Data.taggedEnum<Outcome>()

/** The workflow a run ran, as far as its outcome is concerned. */
export interface Ran {
  readonly executionId: string
  readonly workflow: string
  readonly output: Schema.Schema<any, any>
  /** The workflow's `error` schema, if it has one. */
  readonly error?: Schema.Schema<any, any> | undefined
}

/** A typed failure, with its encoded form when the workflow's `error` schema takes it. */
const failed = (failure: unknown, ran: Ran): ErrorInfo => {
  const info = errorInfo(failure)
  if (ran.error === undefined) return info
  const encoded = Schema.encodeUnknownEither(ran.error)(failure)
  return Either.isRight(encoded) ? { ...info, failure: encoded.right } : info
}

/** What a refused commit tells the run's followers: the storage's own failure, else one naming the refusal. */
const asStorageFailure = (error: CommitError): StorageFailure =>
  error._tag === "StorageError" || error._tag === "InvalidPayload"
    ? error
    : new StorageError({ operation: "commit", reason: error.message })

const commitFailure = (cause: Cause.Cause<unknown>): Option.Option<CommitFailed> =>
  Cause.find(
    cause,
    (reason) =>
      reason._tag === "Die" && reason.defect instanceof CommitFailed ? Option.some(reason.defect) : Option.none()
  )

/**
 * Decides what a run stores when its body ends with `exit` in `state`.
 */
export const decide = (state: RunState, exit: Exit.Exit<unknown, unknown>, ran: Ran): Outcome => {
  if (Exit.isSuccess(exit)) {
    const encoded = Schema.encodeUnknownEither(ran.output)(exit.value)
    return Either.isRight(encoded)
      ? Outcome.Complete({ output: encoded.right })
      : Outcome.Fail({
        error: errorInfo(new InvalidOutput({ workflow: ran.workflow, issues: issuesOf(encoded.left) }))
      })
  }
  if (Cause.isInterruptedOnly(exit.cause)) {
    switch (state._tag) {
      case "Cancelling":
        return Outcome.Cancel()
      case "Suspending":
      case "ShuttingDown":
      case "Abandoned":
      case "Stopped": // set only once the outcome is decided; here for completeness
        return Outcome.Leave()
      case "Launching":
      case "Running":
        // Nobody here stopped it: the body interrupted itself (or joined an interrupted fiber).
        return Outcome.Fail({
          error: { name: "Interrupted", message: `The body of execution "${ran.executionId}" was interrupted` }
        })
    }
  }
  const refused = commitFailure(exit.cause)
  if (Option.isSome(refused)) {
    const error = refused.value.error
    return error._tag === "ExecutionFinished"
      ? Outcome.Leave()
      : error._tag === "ExecutionNotOwned"
      ? Outcome.Abandon()
      : Outcome.Stop({ error: asStorageFailure(error) })
  }
  const failure = Cause.failureOption(exit.cause)
  return Outcome.Fail({
    error: Option.isSome(failure) ? failed(failure.value, ran) : errorInfo(Cause.squash(exit.cause))
  })
}
