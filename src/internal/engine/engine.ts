/**
 * The engine, wired from its parts: the registry, the runs, leases and
 * recovery, observation; and the calls that steer executions (start, cancel,
 * resume, approve).
 */
import { Duration, Effect, FiberRef, Option, Schema, Stream } from "effect"
import type { Context, ParseResult, Scope } from "effect"
import type { Commit, ExecutionStorageService } from "../../ExecutionStorage.js"
import type * as Workflow from "../../Workflow.js"
import type { EngineOptions, StartOptions, WorkflowEngineService } from "../../WorkflowEngine.js"
import { currentCursor } from "../cursor.js"
import { issuesOf } from "../errorInfo.js"
import { stamp } from "../instance.js"
import { Signals } from "../notifier.js"
import * as Listing from "../storage/listing.js"
import { ExecutionFinished, ExecutionStorage, isTerminal } from "../storage/service.js"
import { InvalidInput } from "../workflowErrors.js"
import { ExecutionIdConflict, InvalidOption, positiveDuration, positiveInteger } from "./errors.js"
import * as Leases from "./leases.js"
import * as Observe from "./observe.js"
import * as Registry from "./registry.js"
import * as Runs from "./runs.js"

export const make = (
  options: EngineOptions = {}
): Effect.Effect<WorkflowEngineService, InvalidOption, ExecutionStorage | Scope.Scope> =>
  Effect.gen(function*() {
    const pageSize = yield* positiveInteger("pageSize", options.pageSize ?? 256)
    const poll = yield* positiveDuration("pollInterval", options.pollInterval ?? "1 second")
    const lease = Duration.toMillis(yield* positiveDuration("lease", options.lease ?? "30 seconds"))
    /** This engine, as the owner of the executions it runs. */
    const owner = crypto.randomUUID()
    const engineScope = yield* Effect.scope
    const storage: ExecutionStorageService = yield* ExecutionStorage
    const clock = yield* Effect.clock
    const signals = new Signals()
    const registry = Registry.make()
    const runs = yield* Runs.make({ storage, signals, owner, lease })
    const observe = Observe.make({ storage, signals, registry, pageSize, poll })
    const recover = Leases.recover(storage, registry, runs)
    yield* Leases.keepAlive({ storage, runs, owner, lease })
    if (options.recover !== false) yield* Leases.keepRecovering(registry, recover, lease)
    let debug = false

    /** A commit on behalf of anyone (`cancel`, `approve`): no owner, so it cannot be refused as not owned. */
    const commitAsEngine = (id: string, commit: Commit) =>
      storage.commit(id, commit).pipe(
        Effect.tap(() => Runs.stored(signals, id)(commit)),
        Effect.catchTag("ExecutionNotOwned", Effect.die)
      )

    const register = <A, I, E, R>(workflow: Workflow.Workflow<A, I, E, R>) =>
      Effect.flatMap(Effect.context<R>(), (context) =>
        Effect.flatMap(registry.add(workflow, context as Context.Context<never>), (added) =>
          added && options.recover !== false
            ? Effect.asVoid(Effect.forkIn(recover(workflow.name), engineScope))
            : Effect.void))

    const start = Effect.fn("WorkflowEngine.start")(function*(
      workflowOrName: Workflow.Any | string,
      input: unknown,
      options?: StartOptions
    ) {
      if (typeof workflowOrName !== "string") {
        yield* register(workflowOrName)
      }
      const name = typeof workflowOrName === "string" ? workflowOrName : workflowOrName.name
      const definition = yield* registry.find(name)
      const invalid = (error: ParseResult.ParseError) =>
        new InvalidInput({ workflow: name, issues: issuesOf(error) })
      const schema = definition.workflow.input
      const encoded = yield* Effect.mapError(
        Effect.flatMap(Schema.decodeUnknown(schema)(input), Schema.encode(schema)),
        invalid
      )
      const id = options?.executionId ?? crypto.randomUUID()
      // Started from inside another execution's body: that execution is its parent.
      const parent = (yield* FiberRef.get(currentCursor)).frame?.instance.executionId
      const { created, record } = yield* storage.create({
        id,
        workflow: name,
        input: encoded,
        status: "created",
        ...(parent !== undefined ? { parent } : {})
      })
      if (record.workflow !== name) {
        return yield* new ExecutionIdConflict({ executionId: id, workflow: name, existingWorkflow: record.workflow })
      }
      if (created) {
        yield* runs.launch(id, definition)
      }
      return observe.handle(id, name, created, cancel(id))
    })

    const cancel = (id: string): ReturnType<WorkflowEngineService["cancel"]> =>
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
        yield* commitAsEngine(id, Runs.cancelledCommit(id, clock)).pipe(
          Effect.catchTags({
            ExecutionFinished: (finished) =>
              finished.status === "cancelled" ? Effect.void : finished,
            ApprovalNotPending: Effect.die
          })
        )
      }).pipe(
        Effect.zipRight(cancelChildren(id)),
        Effect.withSpan("WorkflowEngine.cancel", { attributes: { executionId: id } })
      )

    /** The unfinished executions started from this one's body stop with it: a cancelled plan runs no task on. */
    const cancelChildren = (id: string) =>
      Listing.all(storage, { parent: id, status: ["created", "running", "waiting"], limit: 100 }).pipe(
        Stream.runForEach((child) => Effect.catchTag(cancel(child.id), "ExecutionFinished", () => Effect.void))
      )

    const resume = (id: string) =>
      Effect.gen(function*() {
        const record = yield* storage.get(id)
        if (isTerminal(record.status)) {
          return yield* new ExecutionFinished({ executionId: id, status: record.status })
        }
        yield* runs.launch(id, yield* registry.find(record.workflow))
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

    const service: WorkflowEngineService = {
      register,
      list: registry.list,
      definition: (name) => Effect.sync(() => Option.fromNullable(registry.get(name)?.workflow)),
      start: start as WorkflowEngineService["start"],
      handle: (id) => Effect.map(storage.get(id), (record) => observe.handle(id, record.workflow, false, cancel(id))),
      events: observe.events,
      result: observe.result,
      status: (id) => storage.get(id),
      cancel,
      resume,
      approve,
      executions: (filter) => storage.list(filter),
      debug: Effect.sync(() => debug),
      setDebug: (on) =>
        Effect.sync(() => {
          debug = on
        })
    }
    return service
  })
