import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Workflow from "../../Workflow.js"
import * as WorkflowEvent from "../../WorkflowEvent.js"
import type { PersistenceProvider } from "../PersistenceProvider.js"
import type { Registry } from "../Registry.js"
import type { Runnable, RunnableWorkflow, WorkflowContext } from "../Runnable.js"
import * as Validation from "../validation.js"
import { currentSignal, fromPromise, toPromise } from "./bridge.js"

export interface RunnableDefinition {
  readonly id: string
  readonly runnable: Runnable
  readonly registry: () => Registry | null
  readonly persistence: PersistenceProvider | undefined
}

/**
 * A Runnable as a workflow of the engine. Its generator is driven step by
 * step: yielded events are validated and emitted (journaled like any event
 * outside a step), a yielded `human_approval_required` becomes
 * `Workflow.approval` and the answer is passed back into the generator, and
 * the result is the last `final_output`'s data, else the return value. On
 * resume the generator starts again from the top and replays, as a workflow
 * body does.
 */
export const fromRunnable = (definition: RunnableDefinition): RunnableWorkflow => {
  const { id, runnable } = definition
  const workflow = Workflow.make({
    name: id,
    input: Validation.inputSchema(runnable.inputSchema),
    ...(runnable.description !== undefined ? { description: runnable.description } : {}),
    ...(runnable.parseArgs !== undefined ? { parseArgs: runnable.parseArgs.bind(runnable) } : {}),
    run: (input: Validation.ParsedInput) => drive(definition, input.parsed)
  })
  // Started with the input as given (`unknown`); only the engine, which decodes it with `input`, calls `run`.
  return { ...(workflow as unknown as Workflow.Workflow<unknown, unknown, unknown>), source: runnable }
}

/**
 * A body operation run from the generator's promises: it finds its place in the journal through the
 * location `toPromise` restores (the `ExecutionContext` service is not needed for that).
 */
const inBody = <A>(effect: Effect.Effect<A, unknown, Workflow.ExecutionContext>): Promise<A> =>
  toPromise(effect as Effect.Effect<A, unknown>)

/** Runs the generator on the input its schema parsed (once, by this run's decoding of the stored input). */
const drive = (definition: RunnableDefinition, input: unknown) =>
  Effect.gen(function*() {
    const { id, runnable } = definition
    const controller = new AbortController()
    const { executionId } = yield* Workflow.ExecutionContext
    const context: WorkflowContext = {
      executionId,
      workflowInstanceId: executionId,
      workflowId: id,
      registry: definition.registry(),
      abortSignal: controller.signal,
      input,
      persistence: definition.persistence,
      step: (name, fn) => inBody(Workflow.step(name, fromPromise(fn))),
      sleep: (ms) => inBody(Workflow.sleep(ms)),
      signal: (name, options) =>
        inBody(
          options?.timeoutMs === undefined
            ? Workflow.signal(name, Schema.Unknown)
            : Effect.map(
              Workflow.signal(name, Schema.Unknown, { timeout: options.timeoutMs }),
              Option.getOrUndefined
            )
        )
    }
    const generator = runnable.invoke(input, context)
    const result = yield* Effect.gen(function*() {
      let answer: unknown = undefined
      let finalOutput: { readonly data: unknown } | undefined
      while (true) {
        const sent = answer
        const next = yield* fromPromise(() => generator.next(sent))
        if (next.done === true) return finalOutput === undefined ? next.value : finalOutput.data
        answer = undefined
        const event = yield* WorkflowEvent.decode({ timestamp: yield* Clock.currentTimeMillis, ...next.value })
        switch (event.type) {
          case "human_approval_required":
            answer = yield* Workflow.approval(event)
            break
          case "final_output":
            // Stored once, by the engine, with the execution's result.
            finalOutput = { data: event.data }
            break
          default:
            yield* Workflow.emit(event)
        }
      }
    }).pipe(
      Effect.locally(currentSignal, controller.signal),
      Effect.onExit((exit) =>
        Exit.isSuccess(exit) ? Effect.void : Effect.sync(() => {
          // Cancelled, suspended or failed: stop the generator so its `finally` blocks run.
          controller.abort()
          generator.return(undefined).catch(() => undefined)
        })
      )
    )
    const output = yield* Validation.output(id, runnable.outputSchema, result)
    const persistence = definition.persistence
    // Completed: its step-level state is no longer needed to resume it.
    if (persistence !== undefined) yield* Effect.ignore(fromPromise(() => persistence.clearWorkflowState(executionId)))
    return output
  })
