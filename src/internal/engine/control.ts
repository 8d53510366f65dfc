/**
 * The calls that steer executions: start, cancel (with the executions
 * started from its body), resume, approve.
 */
import type * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { ExecutionStorageService, InvalidPayload, NewExecution, StorageError } from "../../ExecutionStorage.js"
import type * as Workflow from "../../Workflow.js"
import type { StartOptions, WorkflowEngineService } from "../../WorkflowEngine.js"
import * as Metrics from "../metrics.js"
import type { Signals } from "../notifier.js"
import { stamp } from "../stamp.js"
import * as Listing from "../storage/listing.js"
import { ExecutionFinished, isTerminal } from "../storage/service.js"
import * as Writer from "../storage/writer.js"
import { traced } from "../telemetry.js"
import { ExecutionIdConflict, InvalidOption } from "./errors.js"
import type * as Observe from "./observe.js"
import type { Definition, Registry } from "./registry.js"
import type * as Run from "./run.js"
import * as Runs from "./runs.js"
import * as Starting from "./starting.js"
import type { Workers } from "./workers.js"

export interface ControlOptions {
  readonly storage: ExecutionStorageService
  readonly signals: Signals
  readonly registry: Registry
  readonly runs: Runs.Runs
  readonly observe: ReturnType<typeof Observe.make>
  readonly register: WorkflowEngineService["register"]
  readonly clock: Clock.Clock
  readonly workers: Workers
}

/** The unfinished executions started from this one's body stop with it: a cancelled plan runs no task on. */
const childrenCancel = (
  storage: ExecutionStorageService,
  cancel: (id: string) => ReturnType<WorkflowEngineService["cancel"]>
) =>
(id: string) =>
  Listing.all(storage, { parent: id, status: ["created", "running", "waiting"], limit: 100 }).pipe(
    Stream.runForEach((child) => Effect.catchTag(cancel(child.id), "ExecutionFinished", () => Effect.void))
  )

/** A span per start where a tracer exports it (see `traced`). */
const startSpan = traced("WorkflowEngine.start")

/** Whether a start created its execution, and the run it launched here, if it did. */
interface Created {
  readonly created: boolean
  readonly run: Run.Run | undefined
}

/**
 * Creates `execution` (running, claimed for this engine's runs) and launches its run here; whether it was
 * created (a given id may be an existing execution's), and the run. With an id of the engine's making (no
 * other start can use it) and a storage whose writers create, the run's first write creates it, with the
 * run's first steps if they are quick, and this returns once that write is stored: one write (one sync to
 * disk, one round trip) for a quick execution, where there would be two. Not for a start from another execution's body: a
 * cancel of that one finds its children by their stored link, and must find this one as soon as it began.
 */
const creatingHere = (storage: ExecutionStorageService, runs: Runs.Runs, clock: Clock.Clock) =>
(
  execution: NewExecution,
  definition: Definition,
  idGiven: boolean
): Effect.Effect<Created, ExecutionIdConflict | StorageError | InvalidPayload> =>
  Effect.gen(function*() {
    const claimedAt = clock.unsafeCurrentTimeMillis()
    const { id } = execution
    if (!idGiven && execution.parent === undefined && Writer.createsExecutions(storage.writer)) {
      const created = yield* Deferred.make<void, StorageError | InvalidPayload>()
      const record = yield* Starting.unstored(execution, claimedAt)
      const run = yield* runs.launch(id, definition, { record, claimedAt, create: { execution, created } })
      yield* Deferred.await(created)
      return { created: true, run }
    }
    const { claimed, created, record } = yield* storage.create(execution)
    if (record.workflow !== execution.workflow) {
      return yield* new ExecutionIdConflict({
        executionId: id,
        workflow: execution.workflow,
        existingWorkflow: record.workflow
      })
    }
    const run = created
      ? yield* runs.launch(id, definition, claimed === true ? { record, claimedAt } : undefined)
      : undefined
    return { created, run }
  })

export const make = ({ clock, observe, register, registry, runs, signals, storage, workers }: ControlOptions) => {
  const commitAsEngine = Runs.commitAsEngine(storage, signals)
  const createHere = creatingHere(storage, runs, clock)
  const enqueue = Starting.enqueue({ storage, registry, observe, workers, cancel: (id) => cancel(id) })

  const start = (
    workflowOrName: Workflow.Any | string,
    input: unknown,
    options?: StartOptions,
    /** Started by `Workflow.child`: its end is signalled to its parent. */
    awaited?: boolean
  ) =>
    startSpan(Effect.gen(function*() {
      if (typeof workflowOrName !== "string") {
        yield* register(workflowOrName)
      }
      const name = typeof workflowOrName === "string" ? workflowOrName : workflowOrName.name
      if (options?.queue !== undefined || options?.priority !== undefined || options?.dedupKey !== undefined) {
        return yield* enqueue(name, input, options, typeof workflowOrName !== "string")
      }
      const definition = yield* registry.find(name)
      const encoded = yield* Starting.validInput(definition, input)
      const id = yield* Starting.newId(options)
      const parent = yield* Starting.parentHere
      // Created running, claimed for this engine, which runs it at once.
      const { created, run } = yield* createHere(
        {
          id,
          workflow: name,
          input: encoded,
          status: "running",
          claim: runs.claim,
          ...(parent !== undefined ? { parent, ...(awaited === true ? { awaitedByParent: true } : {}) } : {}),
          ...(definition.workflow.version !== undefined ? { version: definition.workflow.version } : {})
        },
        definition,
        options?.executionId !== undefined
      )
      if (created) Metrics.started(name)
      // A handle for a workflow given by value reports its typed failures (`Workflow.Typed`).
      const typed = typeof workflowOrName === "string" ? undefined : definition.workflow.error
      return observe.handle(id, name, created, cancel(id), typed, run)
    }))

  // Described when run: every handle carries its cancel, and most are never cancelled (its span and the
  // listing of its children were built for every start).
  const cancel = (id: string): ReturnType<WorkflowEngineService["cancel"]> => Effect.suspend(() => cancelNow(id))

  const cancelNow = (id: string) =>
    Effect.gen(function*() {
      const record = yield* storage.get(id)
      if (isTerminal(record.status)) {
        if (record.status === "cancelled") {
          return
        }
        return yield* new ExecutionFinished({ executionId: id, status: record.status })
      }
      yield* runs.interrupt(id)
      const after = yield* storage.get(id)
      if (after.status === "cancelled") {
        return
      }
      if (isTerminal(after.status)) {
        return yield* new ExecutionFinished({ executionId: id, status: after.status })
      }
      // Not running here (waiting, or left by another process), or stopped before it could store it.
      yield* commitAsEngine(id, Runs.cancelledCommit(id, clock, after.awaitedByParent ? after.parent : undefined)).pipe(
        Effect.tap(() => Metrics.ended(after.workflow, "cancelled")),
        Effect.catchTags({
          ExecutionFinished: (finished) => finished.status === "cancelled" ? Effect.void : finished,
          ApprovalNotPending: Effect.die
        })
      )
    }).pipe(
      Effect.zipRight(cancelChildren(id)),
      Effect.withSpan("WorkflowEngine.cancel", { attributes: { executionId: id } })
    )

  const cancelChildren = childrenCancel(storage, (id) => cancel(id))

  const resume = (id: string) =>
    Effect.gen(function*() {
      const record = yield* storage.get(id)
      if (isTerminal(record.status)) {
        return yield* new ExecutionFinished({ executionId: id, status: record.status })
      }
      const definition = yield* registry.find(record.workflow)
      yield* Starting.versionHere(registry, definition, record)
      yield* runs.launch(id, definition)
      return observe.handle<unknown>(id, record.workflow, false, cancel(id))
    }).pipe(Effect.withSpan("WorkflowEngine.resume", { attributes: { executionId: id } }))

  const approve = (id: string, taskId: string, answer: Workflow.ApprovalAnswer) =>
    Effect.gen(function*() {
      // Promise callers have no compiler to check this: an answer without a status would store an invalid event.
      if (typeof answer?.status !== "string" || answer.status.length === 0) {
        return yield* new InvalidOption({
          option: "answer.status",
          value: JSON.stringify(answer?.status) ?? "undefined",
          expected: "a non-empty string such as \"approved\" or \"rejected\""
        })
      }
      const record = yield* storage.get(id)
      yield* commitAsEngine(id, {
        answer: { taskId, value: answer },
        events: [
          stamp(id, {
            type: "human_approval_completed",
            taskId,
            status: answer.status,
            ...(answer.responseData !== undefined ? { responseData: answer.responseData } : {}),
            ...(answer.feedback !== undefined ? { feedback: answer.feedback } : {})
          }, clock)
        ],
        status: "running"
      })
      runs.handOff(id, taskId, answer)
      const definition = registry.get(record.workflow)
      if (definition === undefined) {
        // Stored and marked running: a process that has the workflow registered resumes it.
        return yield* Effect.logWarning(
          `Approved ${id}/${taskId}, but workflow "${record.workflow}" is not registered here`
        )
      }
      yield* runs.launch(id, definition)
    }).pipe(Effect.withSpan("WorkflowEngine.approve", { attributes: { executionId: id, taskId } }))

  /** A child of the running body, awaited by it (`Workflow.child`). */
  const startChild = (workflow: Workflow.Any | string, input: unknown, id: string) =>
    start(workflow, input, { executionId: id }, true)

  return { start, startChild, cancel, resume, approve }
}
