/**
 * A `LanguageModel` that answers from a script: for tests, examples and
 * demos that need a model's behaviour without a provider. Everything else
 * (structured output decoding, errors, spans) is `@effect/ai`'s own.
 *
 * @since 0.1.0
 */
import type { LanguageModel, Prompt, Response } from "@effect/ai"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as LanguageModelService from "./internal/languageModel.js"

/**
 * What the model was asked.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  /** The text of every message, joined by newlines. */
  readonly prompt: string
  /** `object` when structured output was asked for (`generateObject`). */
  readonly kind: "text" | "object"
  readonly objectName?: string | undefined
}

/**
 * Returns the answer: text for `kind: "text"`, a value to be JSON-encoded for `kind: "object"`.
 *
 * @since 0.1.0
 * @category models
 */
export type Script = (request: Request) => unknown

const textOf = (prompt: Prompt.Prompt): string =>
  prompt.content.map((message) =>
    typeof message.content === "string"
      ? message.content
      : message.content.map((part) => ("text" in part && typeof part.text === "string" ? part.text : "")).join("")
  ).join("\n")

const answer = (script: Script, options: LanguageModel.ProviderOptions): string => {
  const kind = options.responseFormat.type === "json" ? "object" : "text"
  const value = script({
    prompt: textOf(options.prompt),
    kind,
    objectName: options.responseFormat.type === "json" ? options.responseFormat.objectName : undefined
  })
  return kind === "text" && typeof value === "string" ? value : JSON.stringify(value)
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (script: Script): Effect.Effect<LanguageModel.Service> =>
  Effect.flatMap(LanguageModelService.module, (languageModel) =>
    languageModel.make({
      generateText: (options) =>
        Effect.sync((): Array<Response.PartEncoded> => [{ type: "text", text: answer(script, options) }]),
      streamText: (options) =>
        Stream.suspend(() => {
          const text = answer(script, options)
          return Stream.fromIterable<Response.StreamPartEncoded>([
            { type: "text-start", id: "0" },
            { type: "text-delta", id: "0", delta: text },
            { type: "text-end", id: "0" }
          ])
        })
    }))

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (script: Script): Layer.Layer<LanguageModel.LanguageModel> =>
  Layer.unwrapEffect(
    Effect.map(LanguageModelService.module, (languageModel) => Layer.effect(languageModel.LanguageModel, make(script)))
  )
