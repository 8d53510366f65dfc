/**
 * Starting an execution: checking what `start` is given, and the start in a
 * queue, which stores the execution for a worker to claim instead of running
 * it here.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { ExecutionRecord, ExecutionStorageService, NewExecution } from "../../ExecutionStorage.js"
import type { StartOptions, WorkflowEngineService } from "../../WorkflowEngine.js"
import { currentCursor } from "../cursor.js"
import { issuesOf } from "../errorInfo.js"
import * as Metrics from "../metrics.js"
import { newRecord } from "../storage/creating.js"
import { checkInput, thaw } from "../storage/payload.js"
import { InvalidInput } from "../workflowErrors.js"
import { ExecutionIdConflict, InvalidOption, storableId, WorkflowNotFound } from "./errors.js"
import type * as Observe from "./observe.js"
import type { Definition, Registry } from "./registry.js"
import type { Workers } from "./workers.js"

/** The input checked and encoded by the workflow's schema; every failing path is named, not only the first. */
export const validInput = (definition: Definition, input: unknown) =>
  Effect.mapError(
    encodedBy(definition.workflow.input, input),
    (error: ParseResult.ParseError) => new InvalidInput({ workflow: definition.workflow.name, issues: issuesOf(error) })
  )

/** A value given in either form checked by `schema` and encoded by it, as it is stored (all issues reported). */
export const encodedBy = <A, I>(schema: Schema.Schema<A, I>, value: unknown) =>
  Effect.flatMap(Schema.decodeUnknown(schema, { errors: "all" })(value), Schema.encode(schema))

export const newId = (options: StartOptions | undefined) =>
  options?.executionId === undefined
    ? Effect.succeed(crypto.randomUUID())
    : storableId("executionId", options.executionId)

/** Started from inside another execution's body: that execution is its parent. */
export const parentHere = Effect.map(FiberRef.get(currentCursor), (cursor) => cursor.frame?.instance.executionId)

/**
 * The record a new execution created at `at` will have, before it is stored: its input as a read will give
 * it back (the storages' copy, made fresh and mutable as a read's is), so that the first run sees what a
 * replay will. Fails with `InvalidPayload` for an input that cannot be stored (its size is checked when the
 * creation is written).
 */
export const unstored = (execution: NewExecution, at: number) =>
  Effect.map(checkInput(execution.id, execution.input), (input) => newRecord(execution, thaw(input), at))

export interface EnqueueOptions {
  readonly storage: ExecutionStorageService
  readonly registry: Registry
  readonly observe: ReturnType<typeof Observe.make>
  readonly workers: Workers
  readonly cancel: (id: string) => ReturnType<WorkflowEngineService["cancel"]>
}

/** A start in a queue: stored `created`, for a worker serving the queue to claim and run. */
export const enqueue =
  ({ cancel, observe, registry, storage, workers }: EnqueueOptions) =>
  (name: string, input: unknown, options: StartOptions, byValue: boolean) =>
    Effect.gen(function*() {
      if (options.queue === undefined) {
        return yield* new InvalidOption({
          option: options.dedupKey !== undefined ? "dedupKey" : "priority",
          value: JSON.stringify(options.dedupKey ?? options.priority) ?? "undefined",
          expected: "a start with `queue` (keys and priorities order and deduplicate a queue)"
        })
      }
      const queue = yield* storableId("queue", options.queue)
      if (storage.claimQueued === undefined) {
        return yield* new InvalidOption({
          option: "queue",
          value: JSON.stringify(queue),
          expected: "a storage with queues (memory, SQLite, PostgreSQL; a storage of your own needs claimQueued)"
        })
      }
      const priority = options.priority ?? 0
      if (!Number.isSafeInteger(priority)) {
        return yield* new InvalidOption({ option: "priority", value: String(priority), expected: "an integer" })
      }
      const dedupKey = options.dedupKey === undefined ? undefined : yield* storableId("dedupKey", options.dedupKey)
      // Checked here when the workflow is known here; else (a client) by the worker that runs it.
      const definition = registry.get(name)
      const encoded = definition === undefined ? input : yield* validInput(definition, input)
      const parent = yield* parentHere
      const { created, record } = yield* storage.create({
        id: yield* newId(options),
        workflow: name,
        input: encoded,
        status: "created",
        queue,
        priority,
        ...(dedupKey !== undefined ? { dedupKey } : {}),
        ...(parent !== undefined ? { parent } : {}),
        ...(definition?.workflow.version !== undefined ? { version: definition.workflow.version } : {})
      })
      // An id given for another workflow's execution conflicts; a key held by another workflow's execution
      // in the queue deduplicates all the same (the key is the queue's): its handle, as that workflow's.
      if (record.workflow !== name && record.id === options.executionId) {
        return yield* new ExecutionIdConflict({
          executionId: record.id,
          workflow: name,
          existingWorkflow: record.workflow
        })
      }
      if (created) {
        Metrics.started(name)
        workers.wake(queue)
      }
      // As `start`'s: a handle for a workflow given by value reports its typed failures.
      return observe.handle(
        record.id,
        record.workflow,
        created,
        cancel(record.id),
        byValue && record.workflow === name ? definition?.workflow.error : undefined
      )
    })

/**
 * Whether an engine with `definition` runs the execution `record`: one stored with a version runs only
 * where that version of its workflow is registered.
 */
export const runsHere = (definition: Definition, record: { readonly version?: string }): boolean =>
  record.version === undefined || record.version === definition.workflow.version

/** `WorkflowNotFound` naming the version, when the execution is of another version than the one here. */
export const versionHere = (registry: Registry, definition: Definition, record: ExecutionRecord) =>
  runsHere(definition, record) ? Effect.void : new WorkflowNotFound({
    workflow: `${record.workflow} (version ${record.version})`,
    registered: registry.names().map((name) => `${name} (version ${registry.get(name)?.workflow.version ?? "none"})`)
  })
