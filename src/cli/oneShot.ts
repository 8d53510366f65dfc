/**
 * The one-shot commands (`run`, `list`, `status`, `executions`, `events`,
 * `approve`, `resume`, `cancel`) run alike however argv was read: over the
 * services of the root options, exiting 1 when the command was rejected or
 * its run failed.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as ChatAdapter from "../ChatAdapter.js"
import * as Commands from "../Commands.js"
import type * as WorkflowApi from "../WorkflowApi.js"
import * as WorkflowEngine from "../WorkflowEngine.js"
import * as App from "./App.js"
import * as Failures from "./failures.js"

const oneShot = <E>(
  config: App.Config,
  command: Effect.Effect<Commands.Result, E, App.Services>,
  options: { readonly recover: boolean }
): Effect.Effect<void> =>
  App.provide(
    config,
    Effect.flatMap(
      // Its hints name one-shot commands, which its reader types.
      Commands.handled(command).pipe(
        Effect.updateService(ChatAdapter.ChatAdapter, (chat) => ({ ...chat, commandLine: true }))
      ),
      (result) =>
        result._tag === "Rejected" || (result._tag === "Run" && result.outcome._tag === "Failed")
          ? Failures.failed
          : Effect.void
    ),
    options
  )

/**
 * A command that acts on executions (`run`, `resume`, `approve`, `cancel`):
 * its engine also recovers what a stopped process left running.
 *
 * @since 0.2.0
 * @category running
 */
export const acting = <E>(config: App.Config, command: Effect.Effect<Commands.Result, E, App.Services>) =>
  oneShot(config, command, { recover: true })

/**
 * A command that only reads (`list`, `status`, `executions`, `events`): its
 * engine recovers nothing, so it never runs a step, not even one a killed
 * process left half done; it exits as soon as it has read.
 *
 * @since 0.2.0
 * @category running
 */
export const reading = <E>(config: App.Config, command: Effect.Effect<Commands.Result, E, App.Services>) =>
  oneShot(config, command, { recover: false })

/**
 * `worker`: an engine that runs until interrupted (Ctrl-C, SIGTERM), with the workflows of the root
 * options: it ticks their schedules, wakes their sleeps and takes over what stopped processes left.
 *
 * @since 0.2.0
 * @category running
 */
export const worker = (config: App.Config): Effect.Effect<void> =>
  App.provide(
    config,
    Effect.gen(function*() {
      const engine = yield* WorkflowEngine.WorkflowEngine
      const chat = yield* ChatAdapter.ChatAdapter
      const names = (yield* engine.list).map((workflow) => workflow.name)
      yield* chat.systemLine(`Worker running ${names.join(", ")}; Ctrl-C stops it`)
      return yield* Effect.never
    }),
    { recover: true }
  )

/**
 * The port `serve` listens on by default.
 *
 * @since 0.2.0
 * @category constants
 */
export const DEFAULT_PORT = 8787

/**
 * `serve`: the HTTP API and the dashboard over the storage of the root options, with an engine that runs
 * executions as `worker`'s does, until interrupted. One line says where, once it listens.
 *
 * @since 0.2.0
 * @category running
 */
export const serve = (
  config: App.Config,
  options: { readonly port: number; readonly host: string; readonly token: string | undefined }
): Effect.Effect<void> =>
  App.provide(
    config,
    Effect.gen(function*() {
      // Loaded here: @effect/platform is for this command only.
      const Api: typeof WorkflowApi = yield* Effect.promise(() => import("../WorkflowApi.js"))
      const chat = yield* ChatAdapter.ChatAdapter
      const address = yield* Api.serve(options).pipe(
        Effect.catchTag("InvalidOption", (error) =>
          Effect.fail(
            new App.ConfigError({
              message: `Refusing to serve on ${error.value} without a token: give --token or ` +
                "TOKEN_RING_WORKFLOW_TOKEN, or bind 127.0.0.1"
            })
          ))
      )
      yield* chat.systemLine(`Serving the workflow API and dashboard on ${address.url} (Ctrl-C stops it)`)
      return yield* Effect.never
    }).pipe(Effect.scoped),
    { recover: true }
  )
