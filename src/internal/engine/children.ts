/**
 * Child executions started from a body (`Workflow.child`): started with the
 * engine's `start`, or found by their id.
 */
import * as Effect from "effect/Effect"
import type { ExecutionStorageService } from "../../ExecutionStorage.js"
import type * as Workflow from "../../Workflow.js"
import type { WorkflowEngineService, WorkflowHandle } from "../../WorkflowEngine.js"
import type { Spawn } from "../waits.js"
import { ChildNotStarted } from "../workflowErrors.js"
import type { Runs } from "./runs.js"

export interface SpawnerOptions {
  readonly storage: ExecutionStorageService
  readonly runs: Runs
  /** The engine's start of a child awaited by its parent (see control.ts). */
  readonly startChild: (
    workflow: Workflow.Any | string,
    input: unknown,
    id: string
  ) => Effect.Effect<unknown, unknown, any>
  readonly resume: WorkflowEngineService["resume"]
}

/**
 * Starts the child (given by value, it is registered here too; its services are the parent body's, which
 * has them if the types check), or finds it by its id: one left running by a process that stopped, held
 * by no one, is resumed here.
 */
export const spawner = ({ resume, runs, startChild, storage }: SpawnerOptions): Spawn => {
  const resumeLeft = (id: string) =>
    Effect.flatMap(storage.get(id), (record) =>
      record.status === "running" && record.leaseUntil === undefined
        ? Effect.ignore(resume(id))
        : Effect.void)
  return (workflow, input, id) =>
    (startChild(workflow, input, id) as Effect.Effect<
      WorkflowHandle<unknown, unknown>,
      { readonly message: string }
    >).pipe(
      Effect.flatMap((handle) => handle.created || runs.has(id) ? Effect.void : resumeLeft(id)),
      Effect.mapError((error) =>
        new ChildNotStarted({
          workflow: typeof workflow === "string" ? workflow : workflow.name,
          executionId: id,
          reason: error.message
        })
      )
    )
}
