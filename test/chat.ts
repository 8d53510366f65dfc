/**
 * A chat over a fresh in-memory engine, for the tests of the chat commands:
 * each line run as a user would type it, every line written captured.
 */
import { Effect, Layer } from "effect"
import { ChatAdapter, Commands, ExecutionStorage, Models, Planning, WorkflowEngine } from "../src/index.js"
import type { Workflow } from "../src/index.js"

export interface Chat {
  readonly lines: Array<ChatAdapter.Line>
  readonly run: (line: string) => Effect.Effect<Commands.Result>
  readonly text: () => string
}

/** Runs `body` against a fresh in-memory engine with the planning workflows and `workflows` registered. */
export const chatWith = <A, E>(
  workflows: ReadonlyArray<Workflow.Workflow<any, any, any, never>>,
  body: (
    chat: Chat
  ) => Effect.Effect<A, E, WorkflowEngine.WorkflowEngine | ExecutionStorage.ExecutionStorage | Models.Models>,
  models: Layer.Layer<Models.Models, unknown> = Models.layerBuiltin
) =>
  Effect.gen(function*() {
    yield* Planning.register
    const engine = yield* WorkflowEngine.WorkflowEngine
    for (const workflow of workflows) yield* engine.register(workflow)
    const { adapter, lines } = ChatAdapter.capture()
    const context = yield* Effect.context<WorkflowEngine.WorkflowEngine | Models.Models | ChatAdapter.Debug>()
    const run = (line: string) =>
      Commands.executeLine(line)!.pipe(
        Effect.provideService(ChatAdapter.ChatAdapter, adapter),
        Effect.provide(context)
      )
    return yield* body({ lines, run, text: () => lines.map((line) => line.text).join("\n") })
  }).pipe(Effect.provide(Layer.mergeAll(WorkflowEngine.layerMemory, models, ChatAdapter.layerDebug)))
