import { describe, expect, it } from "@effect/vitest"
import { Cause, ConfigError, ConfigProvider, ConfigProviderPathPatch, Effect, Exit, HashSet, Layer } from "effect"
import { Models, Planner, ScriptedModel } from "../src/index.js"

const use = (layer: Layer.Layer<Models.Models, Models.UnknownModel>, name?: string) =>
  Effect.flatMap(Models.Models, (models) => models.use(name)).pipe(Effect.provide(layer), Effect.scoped)

describe("Models", () => {
  it.effect("builtin is always there and is the default without models", () =>
    Effect.gen(function*() {
      const models = yield* Effect.provide(Models.Models, Models.layerBuiltin)
      expect(models.names).toEqual(["builtin"])
      expect(models.default).toBe("builtin")
      const context = yield* use(Models.layerBuiltin)
      const plan = yield* Effect.provide(
        Effect.flatMap(Planner.Planner, (planner) => planner.plan({ prompt: "a then b", workflows: [] })),
        context
      )
      expect(plan.tasks.map((task) => task.intent)).toEqual(["a", "b"])
    }))

  it.effect("an unknown name or default is an UnknownModel naming what is available", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(use(Models.layerBuiltin, "gpt-9"))
      expect(error).toMatchObject({ _tag: "UnknownModel", model: "gpt-9", available: ["builtin"] })
      const exit = yield* Effect.exit(use(Models.layer({ default: "nope" })))
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain(`Unknown model "nope"`)
    }))

  it.effect("a provider model without its API key, an unknown provider, or no model name: ModelUnavailable saying why", () =>
    Effect.gen(function*() {
      const saved = process.env.OPENAI_API_KEY
      delete process.env.OPENAI_API_KEY
      try {
        const missingKey = yield* Effect.flip(use(Models.layerFromName("openai:gpt-4o-mini")))
        expect(missingKey).toMatchObject({ _tag: "ModelUnavailable", model: "openai:gpt-4o-mini" })
        expect(missingKey.message).toContain("OPENAI_API_KEY is not set")
      } finally {
        if (saved !== undefined) process.env.OPENAI_API_KEY = saved
      }
      const provider = yield* Effect.flip(use(Models.layerFromName("acme:large")))
      expect(provider.message).toContain(`unknown provider "acme"`)
      const unnamed = yield* Effect.flip(use(Models.layerFromName("anthropic:")))
      expect(unnamed.message).toContain("provider:model")
    }))

  it.effect("a provider named like a property every object has is an unknown provider, not a TypeError", () =>
    Effect.gen(function*() {
      for (const provider of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"]) {
        const error = yield* Effect.flip(use(Models.layerFromName(`${provider}:x`)))
        expect(error).toMatchObject({ _tag: "ModelUnavailable", model: `${provider}:x` })
        expect(error.message).toContain(`unknown provider "${provider}"`)
      }
    }))

  it.effect("a config that fails for another reason than a missing key says so, not \"not set\"", () =>
    Effect.gen(function*() {
      // A config source that cannot be read, as a secret store that is down would be.
      const unreadable = ConfigProvider.fromFlat(ConfigProvider.makeFlat({
        load: (path) => Effect.fail(ConfigError.SourceUnavailable([...path], "the secret store is down", Cause.empty)),
        enumerateChildren: () => Effect.succeed(HashSet.empty()),
        patch: ConfigProviderPathPatch.empty
      }))
      const error = yield* Effect.flip(
        use(Models.layerFromName("openai:gpt-4o-mini")).pipe(Effect.withConfigProvider(unreadable))
      )
      expect(error).toMatchObject({ _tag: "ModelUnavailable", model: "openai:gpt-4o-mini" })
      // Config.redacted replaces the source's own text with "<redacted>"; the kind of failure and the key remain.
      expect(error.message).toContain("Source unavailable at OPENAI_API_KEY")
      expect(error.message).not.toContain("not set")
    }))

  it.effect("a provider model with its key builds without a request", () =>
    Effect.gen(function*() {
      const saved = process.env.ANTHROPIC_API_KEY
      process.env.ANTHROPIC_API_KEY = "test-key"
      try {
        const context = yield* use(Models.layerFromName("anthropic:claude-test"))
        expect(context).toBeDefined()
      } finally {
        if (saved === undefined) delete process.env.ANTHROPIC_API_KEY
        else process.env.ANTHROPIC_API_KEY = saved
      }
    }))

  it.effect("a language model's structured output becomes the plan; invented workflow names are dropped", () =>
    Effect.gen(function*() {
      const layer = Models.layer({
        models: {
          scripted: ScriptedModel.layer(() => ({
            tasks: [
              { intent: "fetch", description: "fetch it", workflow: { name: "fetch-data", input: { url: "x" } } },
              { intent: "dream", description: "dream", workflow: { name: "no-such-workflow" } }
            ]
          }))
        }
      })
      const context = yield* use(layer)
      const plan = yield* Effect.provide(
        Effect.flatMap(
          Planner.Planner,
          (planner) => planner.plan({ prompt: "fetch then dream", workflows: [{ name: "fetch-data" }] })
        ),
        context
      )
      expect(plan.tasks[0]!.workflow).toEqual({ name: "fetch-data", input: { url: "x" } })
      expect(plan.tasks[1]!.workflow).toBeUndefined()
      const malformed = Models.layer({ models: { bad: ScriptedModel.layer(() => ({ tasks: [] })) } })
      const error = yield* Effect.flip(Effect.provide(
        Effect.flatMap(Planner.Planner, (planner) => planner.plan({ prompt: "p", workflows: [] })),
        yield* use(malformed)
      ))
      expect(error).toMatchObject({ _tag: "PlanningFailed", prompt: "p" })
    }))
})
