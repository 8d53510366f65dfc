/**
 * The task executor: does a plan task that no registered workflow does.
 * Over a `LanguageModel` it asks the model; the built-in one has no model
 * and says so.
 *
 * @since 0.1.0
 */
import type { LanguageModel } from "@effect/ai"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as LanguageModelService from "./internal/languageModel.js"
import type * as Plan from "./Plan.js"

/**
 * @since 0.1.0
 * @category errors
 */
export class TaskFailed extends Schema.TaggedError<TaskFailed>()("TaskFailed", {
  task: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Task "${this.task}" failed: ${this.reason}`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface TaskExecutorService {
  /** Does `task`; `prompt` is the request the plan was made for. */
  readonly execute: (task: Plan.Task, prompt: string) => Effect.Effect<unknown, TaskFailed>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class TaskExecutor extends Context.Tag("@token-ring/workflow/TaskExecutor")<
  TaskExecutor,
  TaskExecutorService
>() {}

/**
 * Without a model, free-text tasks cannot be done: each fails with a
 * `TaskFailed` that says a language model is needed and how to configure one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const builtin: TaskExecutorService = {
  execute: (task) =>
    Effect.fail(
      new TaskFailed({
        task: task.intent,
        reason: "it needs a language model and none is configured " +
          "(start with --model openai:<model> or anthropic:<model>, or name a registered workflow in the task)"
      })
    )
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerBuiltin: Layer.Layer<TaskExecutor> = Layer.succeed(TaskExecutor, builtin)

/**
 * Asks the model to do the task; the output is the model's text.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeLanguageModel: Effect.Effect<TaskExecutorService, never, LanguageModel.LanguageModel> = Effect.map(
  LanguageModelService.service,
  (model) => ({
    execute: (task, prompt) =>
      model.generateText({
        prompt: [
          `You are doing one task of a plan made for this request: ${prompt}`,
          `Task: ${task.intent}`,
          task.description !== task.intent ? `Details: ${task.description}` : "",
          "Answer with the result of the task."
        ].filter((line) => line !== "").join("\n")
      }).pipe(
        Effect.map((response) => response.text),
        Effect.mapError((error) => new TaskFailed({ task: task.intent, reason: error.message })),
        Effect.withSpan("TaskExecutor.execute")
      )
  })
)

/**
 * @since 0.1.0
 * @category layers
 */
export const layerLanguageModel: Layer.Layer<TaskExecutor, never, LanguageModel.LanguageModel> = Layer.effect(
  TaskExecutor,
  makeLanguageModel
)
