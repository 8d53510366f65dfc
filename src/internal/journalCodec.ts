/**
 * A step's result as the journal holds it, and back: encoded with the
 * step's schemas when it has them, so that a replay returns what the first
 * run did.
 */
import { Cause, Effect, Either, Exit, Schema } from "effect"
import type { JournalResult } from "../ExecutionStorage.js"
import type { StepOptions } from "../Workflow.js"
import { errorInfo } from "./errorInfo.js"
import { ReplayedDefect } from "./workflowErrors.js"

/**
 * The journal's form of a step's exit. A value its schema cannot encode is
 * journaled as a defect.
 */
export const encode = <A, E>(exit: Exit.Exit<A, E>, options: StepOptions<A, E, any> | undefined): JournalResult => {
  if (Exit.isSuccess(exit)) {
    if (options?.success === undefined) return { _tag: "Success", value: exit.value }
    const encoded = Schema.encodeEither(options.success)(exit.value)
    return Either.isRight(encoded)
      ? { _tag: "Success", value: encoded.right }
      : { _tag: "Die", defect: errorInfo(encoded.left) }
  }
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some") {
    if (options?.error === undefined) return { _tag: "Failure", error: failure.value }
    const encoded = Schema.encodeEither(options.error)(failure.value)
    return Either.isRight(encoded)
      ? { _tag: "Failure", error: encoded.right }
      : { _tag: "Die", defect: errorInfo(encoded.left) }
  }
  return { _tag: "Die", defect: errorInfo(Cause.squash(exit.cause)) }
}

const undecodable = (what: string, name: string) => (error: { readonly message: string }) =>
  new ReplayedDefect({ name: "JournalDecodeError", message: `journaled ${what} of step "${name}": ${error.message}` })

/**
 * What a journaled step returns on replay.
 */
export const decode = <A, E>(
  name: string,
  result: JournalResult,
  options?: StepOptions<A, E, any>
): Effect.Effect<A, E> => {
  switch (result._tag) {
    case "Success":
      return options?.success === undefined
        ? Effect.succeed(result.value as A)
        : Effect.orDieWith(Schema.decodeUnknown(options.success)(result.value), undecodable("result", name))
    case "Failure":
      return options?.error === undefined
        ? Effect.fail(result.error as E)
        : Effect.flatMap(
          Effect.orDieWith(Schema.decodeUnknown(options.error)(result.error), undecodable("error", name)),
          Effect.fail
        )
    case "Die":
      return Effect.die(new ReplayedDefect({ name: result.defect.name, message: result.defect.message }))
  }
}
