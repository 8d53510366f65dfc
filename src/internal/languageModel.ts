/**
 * `@effect/ai`'s `LanguageModel`, imported the first time a service over a
 * model is built rather than when the package is: a process that plans with
 * the built-in planner, or never plans, pays nothing for it. (Measured after
 * `effect`: the `LanguageModel` subpath adds about a tenth of `effect`'s own
 * import, the `@effect/ai` index about half.)
 */
import type { LanguageModel } from "@effect/ai"
import * as Effect from "effect/Effect"

/** The `@effect/ai/LanguageModel` module (the subpath: the package index also loads MCP, RPC and HTTP routing). */
export const module: Effect.Effect<typeof LanguageModel> = Effect.promise(() => import("@effect/ai/LanguageModel"))

/** The `LanguageModel` in context. */
export const service: Effect.Effect<LanguageModel.Service, never, LanguageModel.LanguageModel> = Effect.flatMap(
  module,
  (languageModel) => languageModel.LanguageModel
)
