/**
 * What the `token-ring-workflow` command runs on: storage chosen by
 * `--db`/`--pg-url`, the engine, the models of `--model`, a terminal chat
 * adapter, and the workflows registered at start (the demos, the planning
 * workflows and those of `--workflows` modules).
 *
 * @since 0.1.0
 */
import { Data, Duration, Effect, Layer, Option } from "effect"
import { mkdirSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import * as ChatAdapter from "../ChatAdapter.js"
import * as ExecutionStorage from "../ExecutionStorage.js"
import { fromRunnable } from "../internal/runnableWorkflow.js"
import * as Models from "../Models.js"
import * as Planning from "../Planning.js"
import { Runnable } from "../promise/Runnable.js"
import type * as Workflow from "../Workflow.js"
import * as WorkflowEngine from "../WorkflowEngine.js"
import * as DemoWorkflows from "./demoWorkflows.js"
import * as Terminal from "./terminal.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Config {
  readonly db: Option.Option<string>
  readonly pgUrl: Option.Option<string>
  readonly workflows: ReadonlyArray<string>
  readonly model: Option.Option<string>
  readonly json: boolean
  readonly lease: Option.Option<number>
}

/**
 * The embedded default: a SQLite file under `.workflow/` in the working directory.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_DB = ".workflow/workflow.db"

/**
 * The command line asks for something that cannot work.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConfigError extends Data.TaggedError("ConfigError")<{ readonly message: string }> {}

const storage = (config: Config): Layer.Layer<ExecutionStorage.ExecutionStorage, unknown> => {
  if (Option.isSome(config.db) && Option.isSome(config.pgUrl)) {
    return Layer.fail(new ConfigError({ message: "Give --db or --pg-url, not both" }))
  }
  if (Option.isSome(config.pgUrl)) return ExecutionStorage.layerPg({ url: config.pgUrl.value })
  const filename = resolve(Option.getOrElse(config.db, () => DEFAULT_DB))
  return Layer.unwrapEffect(Effect.sync(() => {
    mkdirSync(dirname(filename), { recursive: true })
    return ExecutionStorage.layerSqlite({ filename })
  }))
}

const isWorkflow = (u: unknown): u is Workflow.Any =>
  typeof u === "object" && u !== null && "run" in u && "input" in u && "output" in u && "name" in u

/** The workflows and Runnables a user's module exports (named, default, or in arrays). */
const loadModule = (path: string) =>
  Effect.gen(function*() {
    const url = pathToFileURL(resolve(path)).href
    const module = yield* Effect.tryPromise({
      try: () => import(url) as Promise<Record<string, unknown>>,
      catch: (error) =>
        new ConfigError({
          message: `Could not load --workflows ${path}: ${error instanceof Error ? error.message : String(error)}`
        })
    })
    const found: Array<Workflow.Any> = []
    for (const value of Object.values(module).flat()) {
      if (value instanceof Runnable || (typeof value === "object" && value !== null && "invoke" in value)) {
        const runnable = value as Runnable
        found.push(fromRunnable({ id: runnable.name, runnable, registry: () => null, persistence: undefined }))
      } else if (isWorkflow(value)) {
        found.push(value)
      }
    }
    if (found.length === 0) {
      return yield* new ConfigError({ message: `--workflows ${path} exports no workflow (Workflow.make) or Runnable` })
    }
    return found
  })

/**
 * Everything a command needs, with the workflows registered.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: Config) => {
  const engine = WorkflowEngine.layerWith(
    Option.match(config.lease, { onNone: () => ({}), onSome: (seconds) => ({ lease: Duration.seconds(seconds) }) })
  )
  const models = Models.layerFromName(Option.getOrUndefined(config.model) ?? process.env.TOKEN_RING_MODEL)
  const services = Layer.mergeAll(
    Layer.provideMerge(engine, storage(config)),
    models,
    Terminal.layer({ json: config.json })
  )
  const registered = Layer.effectDiscard(Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const user = yield* Effect.forEach(config.workflows, loadModule)
    yield* Planning.register
    for (const workflow of [...DemoWorkflows.all, ...user.flat()]) {
      // Demo and user workflows need no services besides the engine's.
      yield* engine.register(workflow as Workflow.Workflow<unknown, unknown, unknown>)
    }
  }))
  return Layer.provideMerge(registered, services)
}

/**
 * @since 0.1.0
 * @category models
 */
export type Services = Layer.Layer.Success<ReturnType<typeof layer>> | ChatAdapter.ChatAdapter
