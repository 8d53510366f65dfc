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
import type { HttpClient } from "@effect/platform"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Analyzer from "./Analyzer.js"
import { messageOf } from "./internal/message.js"
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
export const make = (options: Options = {}): Effect.Effect<ModelsService, UnknownModel, Scope.Scope> =>
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
          error instanceof ModelUnavailable ? error : new ModelUnavailable({ model: name, reason: messageOf(error) })
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
  // Own keys only: "constructor:x" or "__proto__:x" must not find what every object inherits.
  const make = provider !== undefined && Object.hasOwn(providers, provider) ? providers[provider] : undefined
  if (model === "" || make === undefined) {
    return Layer.fail(unavailable(
      make === undefined
        ? `unknown provider "${provider}" (use openai:<model> or anthropic:<model>)`
        : "a model is named provider:model, e.g. openai:gpt-4o-mini"
    ))
  }
  const { apiKey, layer, pkg } = make(model)
  return Layer.unwrapEffect(
    Effect.zipWith(
      Effect.tryPromise({
        try: layer,
        catch: () => unavailable(`the provider package ${pkg} is not installed (npm install ${pkg})`)
      }),
      fetchHttpClient,
      (languageModel, httpClient) =>
        languageModel(Config.redacted(apiKey)).pipe(
          Layer.provide(httpClient),
          Layer.mapError((error) => unavailable(buildFailure(apiKey, error)))
        )
    )
  )
}

/** The HTTP client providers call through, imported with them (the `@effect/platform` index loads far more). */
const fetchHttpClient: Effect.Effect<Layer.Layer<HttpClient.HttpClient>> = Effect.promise(() =>
  import("@effect/platform/FetchHttpClient")
).pipe(Effect.map((module) => module.layer))

/**
 * Why a provider's model layer did not build: only a key missing from the
 * config is "not set"; anything else (a config source that cannot be read,
 * say) keeps its own message, a ConfigError's with its path.
 */
const buildFailure = (apiKey: string, error: unknown): string =>
  ConfigError.isConfigError(error)
    ? ConfigError.isMissingDataOnly(error) ? `${apiKey} is not set` : String(error)
    : messageOf(error)

interface Provider {
  readonly pkg: string
  /** The environment variable holding the API key. */
  readonly apiKey: string
  /** Imports the provider package and returns its model layer given the key's Config. */
  readonly layer: () => Promise<
    (
      apiKey: Config.Config<Redacted.Redacted>
    ) => Layer.Layer<LanguageModel.LanguageModel, unknown, HttpClient.HttpClient>
  >
}

const providers: Record<string, (model: string) => Provider> = {
  openai: (model) => ({
    pkg: "@effect/ai-openai",
    apiKey: "OPENAI_API_KEY",
    layer: async () => {
      const { OpenAiClient, OpenAiLanguageModel } = await import("@effect/ai-openai")
      return (apiKey) => Layer.provide(OpenAiLanguageModel.layer({ model }), OpenAiClient.layerConfig({ apiKey }))
    }
  }),
  anthropic: (model) => ({
    pkg: "@effect/ai-anthropic",
    apiKey: "ANTHROPIC_API_KEY",
    layer: async () => {
      const { AnthropicClient, AnthropicLanguageModel } = await import("@effect/ai-anthropic")
      return (apiKey) => Layer.provide(AnthropicLanguageModel.layer({ model }), AnthropicClient.layerConfig({ apiKey }))
    }
  })
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
