/**
 * A step's result as the journal holds it, and back: encoded with the
 * step's schemas when it has them, so that a replay returns what the first
 * run did.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import type { JournalResult } from "../ExecutionStorage.js"
import type { StepOptions } from "../Workflow.js"
import { errorInfo, jsonSafe } from "./errorInfo.js"
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
    if (options?.error === undefined) return { _tag: "Failure", error: project(failure.value) }
    const encoded = Schema.encodeEither(options.error)(failure.value)
    return Either.isRight(encoded)
      ? { _tag: "Failure", error: encoded.right }
      : { _tag: "Die", defect: errorInfo(encoded.left) }
  }
  return { _tag: "Die", defect: errorInfo(Cause.squash(exit.cause)) }
}

/**
 * A failure without an `error` schema, as data JSON holds as it is: its own
 * fields, its `_tag`, and for an `Error` its `name` and `message`. The first
 * run fails with this too, so that it and a replay see the same failure
 * (`catchTag` works on both; `instanceof` needs an `error` schema).
 */
export const project = (failure: unknown): unknown => {
  if (typeof failure !== "object" || failure === null) return typeof failure === "number" ? jsonSafe(failure) : failure
  const proto = Object.getPrototypeOf(failure)
  if (proto === Object.prototype || proto === null || Array.isArray(failure)) return jsonSafe(failure)
  const data: Record<string, unknown> = { ...failure }
  const tag = (failure as { readonly _tag?: unknown })._tag
  if (typeof tag === "string") data._tag = tag
  if (failure instanceof Error) {
    data.name = failure.name
    data.message = failure.message
  }
  delete data.stack
  return jsonSafe(data)
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
