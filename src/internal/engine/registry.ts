/**
 * The workflows an engine runs, each with the services it captured when it
 * was registered.
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Workflow from "../../Workflow.js"
import type { WorkflowInfo } from "../../WorkflowEngine.js"
import { WorkflowAlreadyRegistered, WorkflowNotFound } from "./errors.js"

/** A registered workflow. */
export interface Definition {
  readonly workflow: Workflow.Any
  readonly context: Context.Context<never>
}

/** The registry of one engine. */
export interface Registry {
  /** Adds a workflow; true when it is new (the same definition again is a no-op). */
  readonly add: (
    workflow: Workflow.Any,
    context: Context.Context<never>
  ) => Effect.Effect<boolean, WorkflowAlreadyRegistered>
  readonly get: (name: string) => Definition | undefined
  /** The definition of `name`, or `WorkflowNotFound` naming what is registered. */
  readonly find: (name: string) => Effect.Effect<Definition, WorkflowNotFound>
  readonly names: () => ReadonlyArray<string>
  readonly list: Effect.Effect<ReadonlyArray<WorkflowInfo>>
}

export const make = (): Registry => {
  const definitions = new Map<string, Definition>()
  const get = (name: string) => definitions.get(name)
  return {
    add: (workflow, context) =>
      Effect.suspend(() => {
        const existing = definitions.get(workflow.name)
        if (existing !== undefined) {
          return existing.workflow === workflow
            ? Effect.succeed(false)
            : Effect.fail(new WorkflowAlreadyRegistered({ workflow: workflow.name }))
        }
        definitions.set(workflow.name, { workflow, context })
        return Effect.succeed(true)
      }),
    get,
    find: (name) =>
      Effect.suspend(() => {
        const definition = definitions.get(name)
        return definition === undefined
          ? Effect.fail(new WorkflowNotFound({ workflow: name, registered: [...definitions.keys()] }))
          : Effect.succeed(definition)
      }),
    names: () => [...definitions.keys()],
    list: Effect.sync(() =>
      [...definitions.values()].map(({ workflow }) => ({
        name: workflow.name,
        description: workflow.description,
        ...(workflow.parseArgs !== undefined ? { parseArgs: workflow.parseArgs } : {})
      }))
    )
  }
}
