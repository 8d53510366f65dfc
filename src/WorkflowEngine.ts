/**
 * The engine: registers workflows, starts, streams, cancels, resumes and
 * approves their executions, over any `ExecutionStorage`.
 *
 * @since 0.1.0
 */
import {
  Cause,
  Chunk,
  Context,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  FiberMap,
  Layer,
  Option,
  ParseResult,
  Schedule,
  Schema,
  Stream
} from "effect"
import type { Scope } from "effect"
import * as ExecutionStorage from "./ExecutionStorage.js"
import { currentSignal } from "./internal/bridge.js"
import { currentFlow } from "./internal/flowState.js"
import { CommitFailed, currentCursor, ExecutionRuntime, rootCursor, stamp } from "./internal/runtime.js"
import type { EventDraft } from "./internal/runtime.js"
import { Signals } from "./internal/signal.js"
import * as Workflow from "./Workflow.js"
import * as WorkflowEvent from "./WorkflowEvent.js"

/**
 * No workflow of that name is registered.
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkflowNotFound extends Schema.TaggedError<WorkflowNotFound>()("WorkflowNotFound", {
  workflow: Schema.String,
  registered: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `No workflow named "${this.workflow}" is registered` +
      (this.registered.length > 0 ? ` (registered: ${this.registered.join(", ")})` : "")
  }
}

/**
 * Another workflow definition is already registered under that name.
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkflowAlreadyRegistered
  extends Schema.TaggedError<WorkflowAlreadyRegistered>()("WorkflowAlreadyRegistered", { workflow: Schema.String })
{
  override get message(): string {
    return `A different workflow named "${this.workflow}" is already registered`
  }
}

/**
 * `start` was given an execution id that already belongs to an execution of another workflow.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExecutionIdConflict extends Schema.TaggedError<ExecutionIdConflict>()("ExecutionIdConflict", {
  executionId: Schema.String,
  workflow: Schema.String,
  existingWorkflow: Schema.String
}) {
  override get message(): string {
    return `Execution id "${this.executionId}" already belongs to workflow "${this.existingWorkflow}", ` +
      `not "${this.workflow}"`
  }
}

/**
 * The execution failed; `error` is what it failed with, as stored.
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkflowFailed extends Schema.TaggedError<WorkflowFailed>()("WorkflowFailed", {
  executionId: Schema.String,
  error: WorkflowEvent.ErrorInfo
}) {
  override get message(): string {
    return `Execution "${this.executionId}" failed: ${this.error.name}: ${this.error.message}`
  }
}

/**
 * The execution was cancelled.
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkflowCancelled extends Schema.TaggedError<WorkflowCancelled>()("WorkflowCancelled", {
  executionId: Schema.String
}) {
  override get message(): string {
    return `Execution "${this.executionId}" was cancelled`
  }
}

/**
 * An engine option or call argument outside its allowed range.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOption extends Schema.TaggedError<InvalidOption>()("InvalidOption", {
  option: Schema.String,
  value: Schema.String,
  expected: Schema.String
}) {
  override get message(): string {
    return `Invalid ${this.option}: ${this.value} (expected ${this.expected})`
  }
}

const positiveDuration = (
  option: string,
  value: Duration.DurationInput
): Effect.Effect<Duration.Duration, InvalidOption> => {
  const duration = Duration.decodeUnknown(value)
  return Option.isSome(duration) && Duration.greaterThan(duration.value, Duration.zero)
    ? Effect.succeed(duration.value)
    : Effect.fail(new InvalidOption({ option, value: String(value), expected: "a positive duration" }))
}

const positiveInteger = (option: string, value: number): Effect.Effect<number, InvalidOption> =>
  Number.isInteger(value) && value >= 1
    ? Effect.succeed(value)
    : Effect.fail(new InvalidOption({ option, value: String(value), expected: "an integer of at least 1" }))

/**
 * @since 0.1.0
 * @category models
 */
export type StorageFailure = ExecutionStorage.StorageError | ExecutionStorage.InvalidPayload

/**
 * A started (or found) execution.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkflowHandle<A = unknown> {
  readonly id: string
  readonly workflow: string
  /** `false` when `start` found an existing execution with the given id instead of creating one. */
  readonly created: boolean
  /** All events from the first, then live ones, ending when the execution ends. */
  readonly events: Stream.Stream<WorkflowEvent.StoredEvent, ExecutionStorage.ExecutionNotFound | StorageFailure>
  /** Waits for the execution to end and returns its output. */
  readonly result: Effect.Effect<
    A,
    WorkflowFailed | WorkflowCancelled | ExecutionStorage.ExecutionNotFound | StorageFailure
  >
  readonly status: Effect.Effect<ExecutionStorage.ExecutionRecord, ExecutionStorage.ExecutionNotFound | StorageFailure>
  readonly cancel: Effect.Effect<
    void,
    ExecutionStorage.ExecutionNotFound | ExecutionStorage.ExecutionFinished | StorageFailure
  >
}

/**
 * @since 0.1.0
 * @category models
 */
export interface WorkflowInfo {
  readonly name: string
  readonly description: string | undefined
  readonly parseArgs?: ((args: string) => unknown) | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StartOptions {
  /** Makes the start idempotent: starting again with the same id returns the existing execution. */
  readonly executionId?: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface EngineOptions {
  /** Events read from storage per page by each subscriber (default 256). */
  readonly pageSize?: number
  /**
   * How often a waiting subscriber re-reads storage even without a local
   * commit, to see commits made by other processes (default 1 second).
   */
  readonly pollInterval?: Duration.DurationInput
  /**
   * How long this engine's claim on a running execution lasts without being
   * renewed (default 30 seconds). Another engine on the same storage takes
   * over an execution only once its owner's lease has expired: after a crash,
   * that is at most this long.
   */
  readonly lease?: Duration.DurationInput
  /**
   * Resume executions left running (or created and never started) by a
   * process that stopped, as soon as their workflow is registered here, and
   * keep looking for them every third of the lease (default true).
   */
  readonly recover?: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface WorkflowEngineService {
  /** Registers a workflow; the services it requires are captured from the caller's context. */
  readonly register: <A, I, E, R>(
    workflow: Workflow.Workflow<A, I, E, R>
  ) => Effect.Effect<void, WorkflowAlreadyRegistered, R>
  readonly list: Effect.Effect<ReadonlyArray<WorkflowInfo>>
  /**
   * Validates the input, creates the execution and runs it in the background.
   * Given a workflow definition that is not registered yet, registers it.
   */
  readonly start: {
    <A, I, E, R>(
      workflow: Workflow.Workflow<A, I, E, R>,
      input: I,
      options?: StartOptions
    ): Effect.Effect<
      WorkflowHandle<A>,
      Workflow.InvalidInput | WorkflowAlreadyRegistered | ExecutionIdConflict | StorageFailure,
      R
    >
    (name: string, input: unknown, options?: StartOptions): Effect.Effect<
      WorkflowHandle<unknown>,
      Workflow.InvalidInput | WorkflowNotFound | ExecutionIdConflict | StorageFailure
    >
  }
  readonly handle: (
    id: string
  ) => Effect.Effect<WorkflowHandle<unknown>, ExecutionStorage.ExecutionNotFound | StorageFailure>
  readonly events: (
    id: string,
    options?: { readonly fromSeq?: number }
  ) => Stream.Stream<WorkflowEvent.StoredEvent, ExecutionStorage.ExecutionNotFound | StorageFailure | InvalidOption>
  readonly result: (
    id: string
  ) => Effect.Effect<unknown, WorkflowFailed | WorkflowCancelled | ExecutionStorage.ExecutionNotFound | StorageFailure>
  readonly status: (
    id: string
  ) => Effect.Effect<ExecutionStorage.ExecutionRecord, ExecutionStorage.ExecutionNotFound | StorageFailure>
  /**
   * Interrupts the run (its finalizers run), stores status `cancelled` and
   * ends its streams. Unfinished child executions (ids `<id>.<part>`, as the
   * planning workflows start them) are cancelled with it.
   */
  readonly cancel: (
    id: string
  ) => Effect.Effect<void, ExecutionStorage.ExecutionNotFound | ExecutionStorage.ExecutionFinished | StorageFailure>
  /** Runs a stored, unfinished execution again: journaled steps return their stored results. */
  readonly resume: (
    id: string
  ) => Effect.Effect<
    WorkflowHandle<unknown>,
    ExecutionStorage.ExecutionNotFound | ExecutionStorage.ExecutionFinished | WorkflowNotFound | StorageFailure
  >
  /** Stores the answer to a waiting approval, emits `human_approval_completed` and resumes the execution. */
  readonly approve: (
    id: string,
    taskId: string,
    answer: Workflow.ApprovalAnswer
  ) => Effect.Effect<
    void,
    | ExecutionStorage.ExecutionNotFound
    | ExecutionStorage.ExecutionFinished
    | ExecutionStorage.ApprovalNotPending
    | InvalidOption
    | StorageFailure
  >
  readonly executions: (
    filter?: ExecutionStorage.ListFilter
  ) => Effect.Effect<ExecutionStorage.ExecutionPage, ExecutionStorage.InvalidCursor | StorageFailure>
  /** The debug flag: front ends show `debug` logs and more detail when it is on. */
  readonly debug: Effect.Effect<boolean>
  readonly setDebug: (on: boolean) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class WorkflowEngine extends Context.Tag("@token-ring/workflow/WorkflowEngine")<
  WorkflowEngine,
  WorkflowEngineService
>() {}

interface Definition {
  readonly workflow: Workflow.Any
  readonly context: Context.Context<never>
}

/** This process's run of an execution, from the moment it is launched. */
interface Run {
  /** Set once the run has loaded its journal. */
  runtime: ExecutionRuntime | undefined
  cancelRequested: boolean
  /** When this engine last knew it held the execution's lease; undefined until it is claimed. */
  leaseConfirmedAt: number | undefined
  /** Set when the lease was lost: the run stops and stores nothing, the new owner goes on. */
  leaseLost: boolean
  /** Answers given while the run was already going, possibly after it read its journal. */
  readonly answers: Map<string, Workflow.ApprovalAnswer>
}

const isSuspending = (run: Run): boolean => run.runtime?.suspended === true

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: EngineOptions = {}
): Effect.Effect<WorkflowEngineService, InvalidOption, ExecutionStorage.ExecutionStorage | Scope.Scope> =>
  Effect.gen(function*() {
    const pageSize = yield* positiveInteger("pageSize", options.pageSize ?? 256)
    const poll = yield* positiveDuration("pollInterval", options.pollInterval ?? "1 second")
    const lease = Duration.toMillis(yield* positiveDuration("lease", options.lease ?? "30 seconds"))
    /** This engine, as the owner of the executions it runs. */
    const owner = crypto.randomUUID()
    const engineScope = yield* Effect.scope
    const storage = yield* ExecutionStorage.ExecutionStorage
    const clock = yield* Effect.clock
    const fibers = yield* FiberMap.make<string>()
    const signals = new Signals()
    const definitions = new Map<string, Definition>()
    const runs = new Map<string, Run>()
    // Registered after the FiberMap, so it runs first on shutdown: interrupted runs then know why.
    let closing = false
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closing = true
      })
    )
    let debug = false

    const notFound = (name: string) => new WorkflowNotFound({ workflow: name, registered: [...definitions.keys()] })

    const event = (id: string, draft: EventDraft) => stamp(id, draft, clock)

    const cancelledCommit = (id: string): ExecutionStorage.Commit => {
      const error = WorkflowEvent.errorInfo(new WorkflowCancelled({ executionId: id }))
      return { events: [event(id, { type: "workflow_error", error })], status: "cancelled", error }
    }

    /**
     * Commits and wakes the execution's subscribers and result waiters: on behalf of the engine (`cancel`,
     * `approve`: anyone may), or, with an owner, of a run.
     */
    const commit = (id: string, commit: ExecutionStorage.Commit) =>
      Effect.tap(
        storage.commit(id, commit),
        () =>
          commit.status !== undefined && ExecutionStorage.isTerminal(commit.status)
            ? signals.finish(id)
            : signals.notify(id)
      )

    /** `commit` on behalf of the engine: no owner, so it cannot be refused as not owned. */
    const commitAsEngine = (id: string, c: ExecutionStorage.Commit) =>
      Effect.catchTag(commit(id, c), "ExecutionNotOwned", Effect.die)

    /** A run that finds its execution claimed by another engine stops and leaves it, storing nothing. */
    const leaseLost = (id: string, run: Run) =>
      Effect.suspend(() => {
        run.leaseLost = true
        return Effect.logWarning(`Execution ${id}: lease lost, leaving it to its new owner`)
      })

    const register = <A, I, E, R>(workflow: Workflow.Workflow<A, I, E, R>) =>
      Effect.flatMap(Effect.context<R>(), (context) => {
        const existing = definitions.get(workflow.name)
        if (existing !== undefined) {
          return existing.workflow === workflow
            ? Effect.void
            : Effect.fail(new WorkflowAlreadyRegistered({ workflow: workflow.name }))
        }
        definitions.set(workflow.name, { workflow, context: context as Context.Context<never> })
        return options.recover === false
          ? Effect.void
          : Effect.asVoid(Effect.forkIn(recover(workflow.name), engineScope))
      })

    // ---- running ------------------------------------------------------------

    const finish = (run: Run, runtime: ExecutionRuntime, workflow: Workflow.Any, exit: Exit.Exit<unknown, unknown>) => {
      const id = runtime.executionId
      const failed = (error: WorkflowEvent.ErrorInfo): ExecutionStorage.Commit => ({
        events: [event(id, { type: "workflow_error", error })],
        status: "failed",
        error
      })
      let outcome: ExecutionStorage.Commit | undefined
      if (Exit.isSuccess(exit)) {
        const encoded = Schema.encodeUnknownEither(workflow.output)(exit.value)
        outcome = Either.isRight(encoded)
          ? {
            events: [event(id, { type: "final_output", data: encoded.right })],
            status: "completed",
            output: encoded.right
          }
          : failed(
            WorkflowEvent.errorInfo(
              new Workflow.InvalidOutput({ workflow: workflow.name, issues: WorkflowEvent.issuesOf(encoded.left) })
            )
          )
      } else if (Cause.isInterruptedOnly(exit.cause)) {
        // Suspended on an approval, or the engine is shutting down: the stored state is already right.
        // Any other interruption ends the body without a result, which is a failure.
        outcome = run.cancelRequested
          ? cancelledCommit(id)
          : runtime.suspended || closing || run.leaseLost
          ? undefined
          : failed({ name: "Interrupted", message: `The body of execution "${id}" was interrupted` })
      } else {
        const commitFailure = Cause.find(
          exit.cause,
          (reason) =>
            reason._tag === "Die" && reason.defect instanceof CommitFailed ? Option.some(reason.defect) : Option.none()
        )
        if (Option.isSome(commitFailure)) {
          // The run could not write: either someone else finished the execution, or storage is failing and
          // the execution stays as stored, to be resumed.
          const error = commitFailure.value.error
          return error._tag === "ExecutionFinished"
            ? Effect.void
            : error._tag === "ExecutionNotOwned"
            ? leaseLost(id, run)
            : Effect.logError(`Execution ${id} stopped: ${commitFailure.value.message}`)
        }
        const failure = Cause.failureOption(exit.cause)
        outcome = failed(WorkflowEvent.errorInfo(Option.isSome(failure) ? failure.value : Cause.squash(exit.cause)))
      }
      if (outcome === undefined) return Effect.void
      return commit(id, { ...outcome, owner }).pipe(
        // An output (or error) the storage cannot hold fails the execution with that reason instead.
        Effect.catchTag(
          "InvalidPayload",
          (invalid) => commit(id, { ...failed(WorkflowEvent.errorInfo(invalid)), owner })
        ),
        Effect.catchAll((error) =>
          error._tag === "ExecutionFinished"
            ? Effect.void
            : error._tag === "ExecutionNotOwned"
            ? leaseLost(id, run)
            : Effect.logError(`Execution ${id} could not store its outcome: ${error.message}`)
        )
      )
    }

    const runExecution = (id: string, definition: Definition, run: Run) =>
      Effect.gen(function*() {
        // Cancelled between launch and start: `cancel` stores the outcome.
        if (run.cancelRequested) return
        const now = clock.unsafeCurrentTimeMillis()
        // Another process runs it (its lease has not expired), or it has finished.
        if (!(yield* storage.claim(id, owner, now, now + lease))) return
        run.leaseConfirmedAt = now
        yield* Effect.addFinalizer(() => run.leaseLost ? Effect.void : Effect.ignore(storage.release(id, owner)))
        const record = yield* storage.get(id)
        if (ExecutionStorage.isTerminal(record.status)) return
        const journal = new Map((yield* storage.journal(id)).map((entry) => [entry.key, entry] as const))
        const workflow = definition.workflow
        const runtime = new ExecutionRuntime(
          id,
          workflow.name,
          owner,
          storage,
          journal,
          run.answers,
          () => signals.notify(id),
          clock
        )
        run.runtime = runtime
        if (record.status !== "running") yield* runtime.commit({ status: "running", owner })
        const body = Effect.flatMap(
          Effect.mapError(
            Schema.decodeUnknown(workflow.input)(record.input),
            (error) => new Workflow.InvalidInput({ workflow: workflow.name, issues: WorkflowEvent.issuesOf(error) })
          ),
          (input) => workflow.run(input) as Effect.Effect<unknown, unknown, Workflow.ExecutionContext>
        )
        yield* body.pipe(
          // A run starts from a clean slate, whatever the fiber that launched it was doing.
          Effect.locally(currentCursor, rootCursor(runtime)),
          Effect.locally(currentFlow, undefined),
          Effect.locally(currentSignal, undefined),
          Effect.provideService(Workflow.ExecutionContext, runtime),
          Effect.provide(definition.context),
          Effect.onExit((exit) => finish(run, runtime, workflow, exit)),
          Effect.exit
        )
      }).pipe(
        Effect.scoped,
        Effect.catchAll((error) => Effect.logError(`Execution ${id} could not run: ${error.message}`)),
        Effect.catchAllDefect((defect) => Effect.logError(`Execution ${id} could not run`, defect)),
        Effect.ensuring(Effect.sync(() => runs.get(id) === run && runs.delete(id)))
      )

    /**
     * Runs the execution in this process unless it already runs (or is starting) here. A run that is
     * suspending on an approval is awaited first. The run is recorded before anything is awaited, so
     * concurrent launches, cancels and approvals all see it.
     */
    const launch = (id: string, definition: Definition) =>
      Effect.suspend(() => {
        const current = runs.get(id)
        if (current !== undefined && !isSuspending(current)) return Effect.void
        const run: Run = {
          runtime: undefined,
          cancelRequested: false,
          leaseConfirmedAt: undefined,
          leaseLost: false,
          answers: new Map()
        }
        runs.set(id, run)
        const previous = FiberMap.unsafeGet(fibers, id)
        return Effect.zipRight(
          Option.isSome(previous) ? Fiber.await(previous.value) : Effect.void,
          FiberMap.run(fibers, id, runExecution(id, definition, run), { onlyIfMissing: true })
        )
      })

    /** Launches the unfinished executions of a registered workflow that no live process owns. */
    const recover = (workflow: string): Effect.Effect<void> =>
      Effect.gen(function*() {
        const definition = definitions.get(workflow)
        if (definition === undefined) return
        let cursor: string | undefined
        do {
          const page: ExecutionStorage.ExecutionPage = yield* storage.list({
            workflow,
            status: ["running", "created"],
            limit: 100,
            ...(cursor !== undefined ? { cursor } : {})
          })
          for (const record of page.executions) {
            if (!runs.has(record.id)) yield* launch(record.id, definition)
          }
          cursor = page.cursor
        } while (cursor !== undefined)
      }).pipe(Effect.catchAllCause((cause) => Effect.logWarning(`Recovery of "${workflow}" failed`, cause)))

    /** Stops a run whose lease this engine can no longer vouch for: another engine may run it now. */
    const abandon = (id: string, run: Run) => Effect.zipRight(leaseLost(id, run), FiberMap.remove(fibers, id))

    // Keeps this engine's leases alive. A lease the storage did not extend was taken over; one that could
    // not be extended for most of its length may be taken over any moment: both runs stop.
    yield* Effect.gen(function*() {
      const now = clock.unsafeCurrentTimeMillis()
      const held = [...runs].filter(([, run]) => run.leaseConfirmedAt !== undefined)
      const renewed = yield* Effect.either(storage.renew(owner, held.map(([id]) => id), now + lease))
      const extended = new Set(renewed._tag === "Right" ? renewed.right : [])
      for (const [id, run] of held) {
        if (extended.has(id)) run.leaseConfirmedAt = now
        else if (renewed._tag === "Right" || now - run.leaseConfirmedAt! > (lease * 2) / 3) yield* abandon(id, run)
      }
    }).pipe(Effect.repeat(Schedule.spaced(Duration.millis(lease / 3))), Effect.forkScoped)

    // Picks up executions whose owner died, apart from the renewals so that a slow scan never delays them.
    if (options.recover !== false) {
      yield* Effect.suspend(() => Effect.forEach([...definitions.keys()], recover, { discard: true })).pipe(
        Effect.repeat(Schedule.spaced(Duration.millis(lease / 3))),
        Effect.forkScoped
      )
    }

    // ---- observing ----------------------------------------------------------

    const status = (id: string) => storage.get(id)

    const events = (id: string, options?: { readonly fromSeq?: number }) =>
      Stream.unwrapScoped(Effect.gen(function*() {
        let cursor = yield* positiveInteger("fromSeq", options?.fromSeq ?? 1)
        yield* storage.get(id)
        const signal = yield* signals.acquire(id)
        const pull: Effect.Effect<
          Chunk.Chunk<WorkflowEvent.StoredEvent>,
          Option.Option<ExecutionStorage.ExecutionNotFound | StorageFailure | InvalidOption>
        > = Effect.suspend(() => {
          const seen = signal.version
          return Effect.flatMap(
            Effect.mapError(storage.events(id, { fromSeq: cursor, limit: pageSize }), Option.some),
            (page) => {
              if (page.length > 0) {
                cursor = page[page.length - 1]!.seq + 1
                return Effect.succeed(Chunk.unsafeFromArray(page))
              }
              return Effect.flatMap(Effect.mapError(storage.get(id), Option.some), (record) => {
                if (record.lastSeq >= cursor) return pull
                if (ExecutionStorage.isTerminal(record.status)) return Effect.fail(Option.none())
                return Effect.zipRight(signal.wait(seen, poll), pull)
              })
            }
          )
        })
        return Stream.repeatEffectChunkOption(pull)
      }))

    const result = (id: string) =>
      Effect.scoped(Effect.gen(function*() {
        const signal = yield* signals.acquire(id)
        while (true) {
          const record = yield* storage.get(id)
          switch (record.status) {
            case "completed": {
              const definition = definitions.get(record.workflow)
              if (definition === undefined) return record.output
              const decoded = Schema.decodeUnknownEither(definition.workflow.output)(record.output)
              if (Either.isRight(decoded)) return decoded.right
              return yield* new WorkflowFailed({
                executionId: id,
                error: WorkflowEvent.errorInfo(
                  new Workflow.InvalidOutput({
                    workflow: record.workflow,
                    issues: WorkflowEvent.issuesOf(decoded.left)
                  })
                )
              })
            }
            case "failed":
              return yield* new WorkflowFailed({
                executionId: id,
                error: record.error ?? { name: "Error", message: "unknown error" }
              })
            case "cancelled":
              return yield* new WorkflowCancelled({ executionId: id })
          }
          // Only the end matters here: woken when this process stores it, else by the poll.
          yield* signal.waitFinished(poll)
        }
      }))

    const handleOf = <A>(id: string, workflow: string, created: boolean): WorkflowHandle<A> => ({
      id,
      workflow,
      created,
      events: Stream.catchTag(events(id), "InvalidOption", Stream.die), // from seq 1: always valid
      result: result(id) as Effect.Effect<A, any>,
      status: status(id),
      cancel: cancel(id)
    })

    // ---- controlling --------------------------------------------------------

    const start = Effect.fn("WorkflowEngine.start")(function*(
      workflowOrName: Workflow.Any | string,
      input: unknown,
      options?: StartOptions
    ) {
      if (typeof workflowOrName !== "string") yield* register(workflowOrName)
      const name = typeof workflowOrName === "string" ? workflowOrName : workflowOrName.name
      const definition = definitions.get(name)
      if (definition === undefined) return yield* notFound(name)
      const workflow = definition.workflow
      const invalid = (error: ParseResult.ParseError) =>
        new Workflow.InvalidInput({ workflow: name, issues: WorkflowEvent.issuesOf(error) })
      const decoded = yield* Effect.mapError(Schema.decodeUnknown(workflow.input)(input), invalid)
      const encoded = yield* Effect.mapError(Schema.encode(workflow.input)(decoded), invalid)
      const id = options?.executionId ?? crypto.randomUUID()
      const { created, record } = yield* storage.create({ id, workflow: name, input: encoded, status: "created" })
      if (record.workflow !== name) {
        return yield* new ExecutionIdConflict({ executionId: id, workflow: name, existingWorkflow: record.workflow })
      }
      if (created) yield* launch(id, definition)
      return handleOf(id, name, created)
    })

    const cancel = (id: string) =>
      Effect.gen(function*() {
        const record = yield* storage.get(id)
        if (ExecutionStorage.isTerminal(record.status)) {
          if (record.status === "cancelled") return
          return yield* new ExecutionStorage.ExecutionFinished({ executionId: id, status: record.status })
        }
        const run = runs.get(id)
        if (run !== undefined && !isSuspending(run)) {
          // Running or starting here: interrupt it; its finalizers run and it stores the cancellation.
          run.cancelRequested = true
          yield* FiberMap.remove(fibers, id)
        } else {
          const previous = FiberMap.unsafeGet(fibers, id)
          if (Option.isSome(previous)) yield* Fiber.await(previous.value)
        }
        const after = yield* storage.get(id)
        if (after.status === "cancelled") return
        if (ExecutionStorage.isTerminal(after.status)) {
          return yield* new ExecutionStorage.ExecutionFinished({ executionId: id, status: after.status })
        }
        // Not running here (waiting, or left by another process), or stopped before it could store it.
        yield* commitAsEngine(id, cancelledCommit(id)).pipe(
          Effect.catchTags({
            ExecutionFinished: (finished) => finished.status === "cancelled" ? Effect.void : finished,
            ApprovalNotPending: Effect.die
          })
        )
      }).pipe(
        Effect.zipRight(cancelChildren(id)),
        Effect.withSpan("WorkflowEngine.cancel", { attributes: { executionId: id } })
      )

    /** Child executions (ids `<id>.<part>`) stop with their parent: a cancelled plan runs none of its tasks on. */
    const cancelChildren = (id: string): Effect.Effect<void, StorageFailure | ExecutionStorage.ExecutionNotFound> =>
      Effect.gen(function*() {
        let cursor: string | undefined
        const children: Array<string> = []
        do {
          const page: ExecutionStorage.ExecutionPage = yield* storage.list({
            status: ["created", "running", "waiting"],
            limit: 100,
            ...(cursor !== undefined ? { cursor } : {})
          }).pipe(Effect.catchTag("InvalidCursor", Effect.die))
          for (const record of page.executions) {
            if (record.id.startsWith(`${id}.`) && !record.id.slice(id.length + 1).includes(".")) {
              children.push(record.id)
            }
          }
          cursor = page.cursor
        } while (cursor !== undefined)
        yield* Effect.forEach(
          children,
          (child) => Effect.catchTag(cancel(child), "ExecutionFinished", () => Effect.void),
          {
            discard: true
          }
        )
      })

    const resume = (id: string) =>
      Effect.gen(function*() {
        const record = yield* storage.get(id)
        if (ExecutionStorage.isTerminal(record.status)) {
          return yield* new ExecutionStorage.ExecutionFinished({ executionId: id, status: record.status })
        }
        const definition = definitions.get(record.workflow)
        if (definition === undefined) return yield* notFound(record.workflow)
        yield* launch(id, definition)
        return handleOf<unknown>(id, record.workflow, false)
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
            event(id, {
              type: "human_approval_completed",
              taskId,
              status: answer.status,
              ...(answer.responseData !== undefined ? { responseData: answer.responseData } : {}),
              ...(answer.feedback !== undefined ? { feedback: answer.feedback } : {})
            })
          ],
          status: "running"
        })
        const run = runs.get(id)
        // A run already going here may have read its journal before this answer: hand it over directly.
        if (run !== undefined && !isSuspending(run)) run.answers.set(taskId, answer)
        const definition = definitions.get(record.workflow)
        if (definition === undefined) {
          // Stored and marked running: a process that has the workflow registered resumes it.
          return yield* Effect.logWarning(
            `Approved ${id}/${taskId}, but workflow "${record.workflow}" is not registered here`
          )
        }
        yield* launch(id, definition)
      }).pipe(Effect.withSpan("WorkflowEngine.approve", { attributes: { executionId: id, taskId } }))

    const service: WorkflowEngineService = {
      register,
      list: Effect.sync(() =>
        [...definitions.values()].map(({ workflow }) => ({
          name: workflow.name,
          description: workflow.description,
          ...(workflow.parseArgs !== undefined ? { parseArgs: workflow.parseArgs } : {})
        }))
      ),
      start: start as WorkflowEngineService["start"],
      handle: (id) => Effect.map(storage.get(id), (record) => handleOf(id, record.workflow, false)),
      events,
      result,
      status,
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

/**
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: EngineOptions
): Layer.Layer<WorkflowEngine, InvalidOption, ExecutionStorage.ExecutionStorage> =>
  Layer.scoped(WorkflowEngine, make(options))

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<WorkflowEngine, never, ExecutionStorage.ExecutionStorage> = Layer.scoped(
  WorkflowEngine,
  Effect.orDie(make()) // the defaults are valid
)

/**
 * The engine over ephemeral in-memory storage.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<WorkflowEngine | ExecutionStorage.ExecutionStorage> = layer.pipe(
  Layer.provideMerge(ExecutionStorage.layerMemory)
)
