/**
 * What the `token-ring-workflow` command runs on: storage chosen by
 * `--db`/`--pg-url`, the engine, the models of `--model`, a terminal chat
 * adapter, and the workflows registered at start (the demos, the planning
 * workflows and those of `--workflows` modules).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import * as ChatAdapter from "../ChatAdapter.js"
import * as ExecutionStorage from "../ExecutionStorage.js"
import * as Models from "../Models.js"
import * as Planning from "../Planning.js"
import { Runnable, toWorkflow as runnableWorkflow } from "../promise/Runnable.js"
import * as Workflow from "../Workflow.js"
import * as WorkflowEngine from "../WorkflowEngine.js"
import * as DemoWorkflows from "./demoWorkflows.js"
import * as Failures from "./failures.js"
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
  // The layer creates the file's directory, and says in one line why it cannot (a file in the way, say).
  return ExecutionStorage.layerSqlite({ filename: resolve(Option.getOrElse(config.db, () => DEFAULT_DB)) })
}

const isRunnable = (u: unknown): u is Runnable =>
  u instanceof Runnable || (typeof u === "object" && u !== null && "invoke" in u)

/** The workflows and Runnables a user's module exports (named, default, or in arrays). */
const loadModule = (path: string) =>
  Effect.gen(function*() {
    const url = pathToFileURL(resolve(path)).href
    const module = yield* Effect.tryPromise({
      try: () => import(url) as Promise<Record<string, unknown>>,
      catch: (error) =>
        new ConfigError({
          message: `Could not load --workflows ${path}: ${ChatAdapter.messageOf(error)}`
        })
    })
    const found = Object.values(module).flat().filter((value) => isRunnable(value) || Workflow.isWorkflow(value))
    if (found.length === 0) {
      return yield* new ConfigError({ message: `--workflows ${path} exports no workflow (Workflow.make) or Runnable` })
    }
    return found
  })

const toWorkflow = (value: Runnable | Workflow.Any): Workflow.Any =>
  isRunnable(value)
    ? runnableWorkflow(value)
    : value

/**
 * Everything a command needs, with the workflows registered. With `recover`
 * off (the commands that only read), registering a workflow launches
 * nothing: an execution a killed process left running stays as it is.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: Config, options: { readonly recover: boolean } = { recover: true }) => {
  const engine = WorkflowEngine.layerWith({
    recover: options.recover,
    ...Option.match(config.lease, { onNone: () => ({}), onSome: (seconds) => ({ lease: Duration.seconds(seconds) }) })
  })
  // The default model is built now: a missing provider or API key fails at startup, not at the first /plan.
  const models = Models.layerFromName(Option.getOrUndefined(config.model) ?? process.env.TOKEN_RING_MODEL).pipe(
    Layer.tap((context) => Context.get(context, Models.Models).use())
  )
  // Models first, so that a model that cannot work stops the CLI before the engine touches storage.
  const services = Layer.provideMerge(
    Layer.mergeAll(
      Layer.provideMerge(engine, storage(config)),
      Terminal.layer({ json: config.json }),
      ChatAdapter.layerDebug
    ),
    models
  )
  const registered = Layer.effectDiscard(Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const user = yield* Effect.forEach(config.workflows, loadModule)
    yield* Planning.register
    // One value exported twice (`export const w = ...; export default w`, or one module given twice) registers once.
    const exported = [...new Set(user.flat())].map(toWorkflow)
    for (const workflow of [...DemoWorkflows.all, ...exported]) {
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

/**
 * Runs `program` with the services of `config`. When they cannot be built
 * (conflicting options, a module that does not load, a model without its
 * key), that is one error line and exit code 1, before anything is stored.
 *
 * @since 0.2.0
 * @category running
 */
export const provide = <E>(
  config: Config,
  program: Effect.Effect<void, E, Services>,
  options: { readonly recover: boolean } = { recover: true }
): Effect.Effect<void> =>
  program.pipe(
    Effect.provide(layer(config, options)),
    Effect.catchAll((error) =>
      Effect.flatMap(ChatAdapter.ChatAdapter, (chat) => chat.errorLine(ChatAdapter.messageOf(error))).pipe(
        Effect.zipRight(Failures.failed),
        Effect.provide(Terminal.layer({ json: config.json }))
      )
    )
  )
