/**
 * The models planning and analysis can use, by name. `builtin` (the
 * deterministic planner, analyzer and task executor) is always there; a
 * language model is added under a name such as `openai:gpt-4o-mini`. The
 * planning workflows take a `model` option and look it up here, so one
 * engine can serve runs on different models.
 *
 * @since 0.1.0
 */
import type { LanguageModel } from "@effect/ai"
import { FetchHttpClient } from "@effect/platform"
import { Config, Context, Effect, Layer, Schema } from "effect"
import * as Analyzer from "./Analyzer.js"
import * as Planner from "./Planner.js"
import * as TaskExecutor from "./TaskExecutor.js"

/**
 * The name of the built-in services.
 *
 * @since 0.1.0
 * @category constants
 */
export const BUILTIN = "builtin"

/**
 * @since 0.1.0
 * @category models
 */
export type Services = Planner.Planner | Analyzer.Analyzer | TaskExecutor.TaskExecutor

/**
 * @since 0.1.0
 * @category errors
 */
export class UnknownModel extends Schema.TaggedError<UnknownModel>()("UnknownModel", {
  model: Schema.String,
  available: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `Unknown model "${this.model}"; available: ${this.available.join(", ")}`
  }
}

/**
 * A configured model that cannot be used here: its provider package is not
 * installed, or its API key is not set.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModelUnavailable extends Schema.TaggedError<ModelUnavailable>()("ModelUnavailable", {
  model: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Model "${this.model}" is unavailable: ${this.reason}`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ModelsService {
  /** The model used when a run names none. */
  readonly default: string
  readonly names: ReadonlyArray<string>
  /** The planner, analyzer and task executor of a model (the default one when `name` is undefined). */
  readonly use: (
    name?: string | undefined
  ) => Effect.Effect<Context.Context<Services>, UnknownModel | ModelUnavailable>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Models extends Context.Tag("@token-ring/workflow/Models")<Models, ModelsService>() {}

const builtinServices: Context.Context<Services> = Context.make(Planner.Planner, Planner.builtin).pipe(
  Context.add(Analyzer.Analyzer, Analyzer.builtin),
  Context.add(TaskExecutor.TaskExecutor, TaskExecutor.builtin)
)

const overLanguageModel = Layer.mergeAll(
  Planner.layerLanguageModel,
  Analyzer.layerLanguageModel,
  TaskExecutor.layerLanguageModel
)

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Language models by name; each is built the first time a run uses it. */
  readonly models?: Record<string, Layer.Layer<LanguageModel.LanguageModel, unknown>>
  /** Default: the first of `models`, else `builtin`. */
  readonly default?: string
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<ModelsService, UnknownModel, import("effect").Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const entries = Object.entries(options.models ?? {})
    const names = [BUILTIN, ...entries.map(([name]) => name)]
    const defaultName = options.default ?? entries[0]?.[0] ?? BUILTIN
    if (!names.includes(defaultName)) return yield* new UnknownModel({ model: defaultName, available: names })
    const built = new Map<string, Effect.Effect<Context.Context<Services>, ModelUnavailable>>()
    for (const [name, model] of entries) {
      const build = Layer.buildWithScope(Layer.provide(overLanguageModel, model), scope).pipe(
        Effect.mapError((error) =>
          error instanceof ModelUnavailable ? error : new ModelUnavailable({ model: name, reason: String(error) })
        )
      )
      built.set(name, yield* Effect.cached(build))
    }
    return {
      default: defaultName,
      names,
      use: (name) => {
        const chosen = name ?? defaultName
        if (chosen === BUILTIN) return Effect.succeed(builtinServices)
        return built.get(chosen) ?? Effect.fail(new UnknownModel({ model: chosen, available: names }))
      }
    }
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Models, UnknownModel> => Layer.scoped(Models, make(options))

/**
 * Only the built-in services.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerBuiltin: Layer.Layer<Models> = Layer.orDie(layer())

/**
 * A provider's language model from a name `provider:model`: `openai:<model>`
 * (key from `OPENAI_API_KEY`) or `anthropic:<model>` (key from
 * `ANTHROPIC_API_KEY`). The provider package (`@effect/ai-openai` or
 * `@effect/ai-anthropic`, optional peers) is imported only here, when the
 * model is first used.
 *
 * @since 0.1.0
 * @category layers
 */
export const languageModel = (name: string): Layer.Layer<LanguageModel.LanguageModel, ModelUnavailable> => {
  const [provider, ...rest] = name.split(":")
  const model = rest.join(":")
  const unavailable = (reason: string) => new ModelUnavailable({ model: name, reason })
  const load = <M>(pkg: string, importer: () => Promise<M>) =>
    Effect.tryPromise({
      try: importer,
      catch: () => unavailable(`the provider package ${pkg} is not installed (npm install ${pkg})`)
    })
  const keyed = <R>(layer: Layer.Layer<LanguageModel.LanguageModel, unknown, R>, key: string) =>
    Layer.mapError(layer, () => unavailable(`${key} is not set`))
  if (model === "") {
    return Layer.fail(unavailable("a model is named provider:model, e.g. openai:gpt-4o-mini"))
  }
  switch (provider) {
    case "openai":
      return Layer.unwrapEffect(Effect.map(
        load("@effect/ai-openai", () => import("@effect/ai-openai")),
        ({ OpenAiClient, OpenAiLanguageModel }) =>
          keyed(
            OpenAiLanguageModel.layer({ model }).pipe(
              Layer.provide(OpenAiClient.layerConfig({ apiKey: Config.redacted("OPENAI_API_KEY") })),
              Layer.provide(FetchHttpClient.layer)
            ),
            "OPENAI_API_KEY"
          )
      ))
    case "anthropic":
      return Layer.unwrapEffect(Effect.map(
        load("@effect/ai-anthropic", () => import("@effect/ai-anthropic")),
        ({ AnthropicClient, AnthropicLanguageModel }) =>
          keyed(
            AnthropicLanguageModel.layer({ model }).pipe(
              Layer.provide(AnthropicClient.layerConfig({ apiKey: Config.redacted("ANTHROPIC_API_KEY") })),
              Layer.provide(FetchHttpClient.layer)
            ),
            "ANTHROPIC_API_KEY"
          )
      ))
    default:
      return Layer.fail(unavailable(`unknown provider "${provider}" (use openai:<model> or anthropic:<model>)`))
  }
}

/**
 * The catalog for a `--model` setting: `builtin` (or nothing) for the
 * built-in services only, else that provider model as the default.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromName = (name: string | undefined): Layer.Layer<Models, UnknownModel> =>
  name === undefined || name === BUILTIN
    ? layer()
    : layer({ default: name, models: { [name]: languageModel(name) } })
