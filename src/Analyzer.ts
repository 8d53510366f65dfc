/**
 * The analyzer: scores how complex a prompt is and whether to execute it
 * directly or plan subtasks first. Over a `LanguageModel`, or built in.
 *
 * @since 0.1.0
 */
import type { LanguageModel } from "@effect/ai"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as LanguageModelService from "./internal/languageModel.js"
import * as TextTasks from "./internal/textTasks.js"

/**
 * @since 0.1.0
 * @category schemas
 */
export const Analysis = Schema.Struct({
  /** 1 (one simple request) to 10. */
  complexity: Schema.Int.pipe(Schema.between(1, 10)),
  approach: Schema.Literal("direct", "plan"),
  reasons: Schema.Array(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export type Analysis = typeof Analysis.Type

/**
 * @since 0.1.0
 * @category errors
 */
export class AnalysisFailed extends Schema.TaggedError<AnalysisFailed>()("AnalysisFailed", {
  prompt: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Could not analyze "${this.prompt}": ${this.reason}`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface AnalyzerService {
  readonly analyze: (prompt: string) => Effect.Effect<Analysis, AnalysisFailed>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Analyzer extends Context.Tag("@token-ring/workflow/Analyzer")<Analyzer, AnalyzerService>() {}

/**
 * Complexity from the number of tasks and subtasks, conditions and length;
 * a prompt of more than one task, or of complexity 4 or more, is planned.
 *
 * @since 0.1.0
 * @category constructors
 */
export const builtin: AnalyzerService = {
  analyze: (prompt) => {
    if (prompt.trim() === "") return Effect.fail(new AnalysisFailed({ prompt, reason: "the prompt is empty" }))
    const { complexity, reasons, tasks } = TextTasks.score(prompt)
    return Effect.succeed({ complexity, reasons, approach: tasks > 1 || complexity >= 4 ? "plan" : "direct" })
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerBuiltin: Layer.Layer<Analyzer> = Layer.succeed(Analyzer, builtin)

/**
 * @since 0.1.0
 * @category constructors
 */
export const makeLanguageModel: Effect.Effect<AnalyzerService, never, LanguageModel.LanguageModel> = Effect.map(
  LanguageModelService.service,
  (model) => ({
    analyze: (prompt) =>
      model.generateObject({
        prompt: [
          "Rate the complexity of this request from 1 to 10 and choose an approach:",
          "`direct` when one answer does it, `plan` when it needs several tasks. Give short reasons.",
          `Request: ${prompt}`
        ].join("\n"),
        schema: Analysis,
        objectName: "analysis"
      }).pipe(
        Effect.map((response) => response.value),
        Effect.mapError((error) => new AnalysisFailed({ prompt, reason: error.message })),
        Effect.withSpan("Analyzer.analyze")
      )
  })
)

/**
 * @since 0.1.0
 * @category layers
 */
export const layerLanguageModel: Layer.Layer<Analyzer, never, LanguageModel.LanguageModel> = Layer.effect(
  Analyzer,
  makeLanguageModel
)
