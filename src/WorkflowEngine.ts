/**
 * The engine: registers workflows, starts, streams, cancels, resumes and
 * approves their executions, over any `ExecutionStorage`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as ExecutionStorage from "./ExecutionStorage.js"
import * as internal from "./internal/engine/engine.js"
import type * as Workflow from "./Workflow.js"
import type * as WorkflowEvent from "./WorkflowEvent.js"

export {
  /**
   * `start` was given an execution id that already belongs to an execution of another workflow.
   *
   * @since 0.1.0
   * @category errors
   */
  ExecutionIdConflict,
  /**
   * An engine option or call argument outside its allowed range.
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidOption,
  /**
   * A signal its execution's workflow cannot take: a name it does not declare, or a payload its schema
   * refuses. Nothing was stored.
   *
   * @since 0.2.0
   * @category errors
   */
  InvalidSignal,
  /**
   * No schedule of that name is stored.
   *
   * @since 0.2.0
   * @category errors
   */
  ScheduleNotFound,
  /**
   * Another workflow definition is already registered under that name.
   *
   * @since 0.1.0
   * @category errors
   */
  WorkflowAlreadyRegistered,
  /**
   * The execution was cancelled.
   *
   * @since 0.1.0
   * @category errors
   */
  WorkflowCancelled,
  /**
   * The execution failed; `error` is what it failed with, as stored.
   *
   * @since 0.1.0
   * @category errors
   */
  WorkflowFailed,
  /**
   * No workflow of that name is registered.
   *
   * @since 0.1.0
   * @category errors
   */
  WorkflowNotFound
} from "./internal/engine/errors.js"
import type {
  ExecutionIdConflict,
  InvalidOption,
  InvalidSignal,
  ScheduleNotFound,
  WorkflowAlreadyRegistered,
  WorkflowCancelled,
  WorkflowFailed,
  WorkflowNotFound
} from "./internal/engine/errors.js"

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
export interface WorkflowHandle<A = unknown, E = never> {
  readonly id: string
  readonly workflow: string
  /** `false` when `start` found an existing execution with the given id instead of creating one. */
  readonly created: boolean
  /**
   * All events from the first, then live ones, ending when the execution
   * ends. Fails with the storage failure that stopped this process's run of
   * the execution (a full disk, a lost connection), once every stored event
   * is read: no more will come until it is resumed.
   */
  readonly events: Stream.Stream<WorkflowEvent.StoredEvent, ExecutionStorage.ExecutionNotFound | StorageFailure>
  /**
   * Waits for the execution to end and returns its output. A workflow with an
   * `error` schema fails with its typed error `E`; any other failure is a
   * `WorkflowFailed`.
   */
  readonly result: Effect.Effect<
    A,
    E | WorkflowFailed | WorkflowCancelled | ExecutionStorage.ExecutionNotFound | StorageFailure
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
  /**
   * Makes the start idempotent: starting again with the same id returns the
   * existing execution. An id that a storage could not keep as given (one
   * holding a NUL or a lone surrogate) is refused with `InvalidOption`.
   */
  readonly executionId?: string
  /**
   * Queues the execution in this queue instead of running it here: a worker serving the queue (an engine
   * with it in `queues`, in any process on the storage) claims and runs it, within the queue's limits.
   * The workflow may then be given by name without being registered here (a client has no workflow
   * code): its input is stored as given, and checked by the worker that runs it.
   *
   * @since 0.2.0
   */
  readonly queue?: string
  /** Among the executions queued in one queue, higher runs first (an integer, default 0). @since 0.2.0 */
  readonly priority?: number
  /**
   * With `queue`: while an execution of that queue started with this key is unfinished (`created`,
   * `running` or `waiting`), a start with the key starts nothing and returns that execution's handle
   * (`created: false`).
   *
   * @since 0.2.0
   */
  readonly dedupKey?: string
}

/**
 * A queue an engine serves as a worker, and the limits it declares for it. The limits every worker keeps
 * to (`concurrency`, `rateLimit`) are stored with the executions when the engine starts, replacing what
 * another worker declared: give every worker of a queue the same.
 *
 * @since 0.2.0
 * @category models
 */
export interface QueueOptions {
  readonly name: string
  /** At most this many of the queue's executions `running` or `waiting`, across all workers. */
  readonly concurrency?: number
  /** At most this many of the queue's executions running in this engine at once (default 100). */
  readonly workerConcurrency?: number
  /** At most `limit` of the queue's executions started per `period`, across all workers. */
  readonly rateLimit?: { readonly limit: number; readonly period: Duration.DurationInput }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface EngineOptions {
  /**
   * Events read from storage per page (default 256): by the one reader that
   * the caught-up subscribers of an execution share, or by a subscriber
   * reading on its own (behind, or replaying). It also bounds what is kept
   * for them to share: at most twice this many events per execution.
   */
  readonly pageSize?: number
  /**
   * How often storage is re-read for an execution followed here even without
   * a local commit, to see commits made by other processes (default 1 second).
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
   * keep looking for them every third of the lease (default true). An engine that does not recover
   * does not tick schedules either: it only starts, reads and steers.
   */
  readonly recover?: boolean
  /**
   * The queues this engine works as a worker: it claims their queued executions (of the workflows
   * registered here) and runs them. Idle workers are woken by a start in their process, a run's end, and
   * on PostgreSQL by other processes' starts and ends; otherwise they look every `pollInterval`.
   *
   * @since 0.2.0
   */
  readonly queues?: ReadonlyArray<QueueOptions>
  /**
   * At most this many executions claimed from `queues` running in this engine at once, all queues
   * together (each queue's `workerConcurrency` still applies). No such limit by default.
   *
   * @since 0.2.0
   */
  readonly concurrency?: number
  /**
   * Purges finished executions on its own, every `every` (default 1 hour), as `purge` does with these
   * options; each engine that has it purges (batches lock what they delete, so engines never collide).
   *
   * @since 0.2.0
   */
  readonly retention?: PurgeOptions & { readonly every?: Duration.DurationInput }
}

/**
 * Where `fork` runs for real, and the new execution's id.
 *
 * @since 0.2.0
 * @category models
 */
export interface ForkOptions {
  /**
   * A root position of the source's journal: its number (the body's first operation is 0), or its key
   * (`"2"`). The completed operations before it replay; it and what follows run.
   */
  readonly fromStep: number | string
  /** The new execution's id (default: a new UUID); one that exists is returned as it is. */
  readonly executionId?: string
}

/**
 * What `purge` deletes.
 *
 * @since 0.2.0
 * @category models
 */
export interface PurgeOptions {
  /** Executions that finished at least this long ago (`0`: any finished one). */
  readonly olderThan: Duration.DurationInput
  /** Only these finished statuses (default: all three). */
  readonly status?: FinishedStatus | ReadonlyArray<FinishedStatus>
  readonly workflow?: string
  /** Executions deleted per transaction (default 500). */
  readonly batchSize?: number
}

/**
 * A schedule as `schedule` takes it (with the workflow and its input): a workflow started at each tick of
 * `cron`, by any engine on the storage that has the workflow registered, once per tick.
 *
 * @since 0.2.0
 * @category models
 */
export interface ScheduleOptions {
  /** The schedule's name (setting one of the same name replaces it); its ticks' execution ids start with it. */
  readonly name: string
  /** A cron expression: 5 fields, or 6 with seconds first (`Cron.parse`). */
  readonly cron: string
  /** An IANA time zone to read `cron` in (default UTC). */
  readonly timezone?: string
  /** Ticks no engine reached within `grace` (all down): dropped (`"skip"`) or the latest of them run once (`"once"`, the default). */
  readonly missed?: "skip" | "once"
  /** How late a tick may start and still count as on time (default 1 minute). */
  readonly grace?: Duration.DurationInput
  /** Stored paused: no ticks until `resumeSchedule`. */
  readonly paused?: boolean
}

/**
 * @since 0.2.0
 * @category models
 */
export type FinishedStatus = "completed" | "failed" | "cancelled"

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
   * The definition registered as `name`, the very object `register` was
   * given: front ends reach what they made it from through it (the Promise
   * facade's `getWorkflow` returns a Runnable's workflow's `source`).
   *
   * @since 0.2.0
   */
  readonly definition: (name: string) => Effect.Effect<Option.Option<Workflow.Any>>
  /**
   * Validates the input, creates the execution and runs it in the background.
   * Given a workflow definition that is not registered yet, registers it.
   */
  readonly start: {
    <A, I, E, R>(
      workflow: Workflow.Typed<A, I, E, R>,
      input: I,
      options?: StartOptions
    ): Effect.Effect<
      WorkflowHandle<A, E>,
      Workflow.InvalidInput | WorkflowAlreadyRegistered | ExecutionIdConflict | InvalidOption | StorageFailure,
      R
    >
    <A, I, E, R>(
      workflow: Workflow.Workflow<A, I, E, R>,
      input: I,
      options?: StartOptions
    ): Effect.Effect<
      WorkflowHandle<A>,
      Workflow.InvalidInput | WorkflowAlreadyRegistered | ExecutionIdConflict | InvalidOption | StorageFailure,
      R
    >
    (name: string, input: unknown, options?: StartOptions): Effect.Effect<
      WorkflowHandle<unknown>,
      Workflow.InvalidInput | WorkflowNotFound | ExecutionIdConflict | InvalidOption | StorageFailure
    >
  }
  readonly handle: (
    id: string
  ) => Effect.Effect<WorkflowHandle<unknown>, ExecutionStorage.ExecutionNotFound | StorageFailure>
  /** The execution's events from `fromSeq` (default 1), as `WorkflowHandle.events` streams them. */
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
  /**
   * Sends a signal: stores it in the execution's inbox (with a `signal_received` event), where the first
   * `Workflow.signal(name, ...)` of the body receives it, in the order sent, and resumes the execution if
   * it waits for it, in this process or (through the storage) another. Where the execution's workflow is
   * registered and declares its `signals`, the payload is checked against the schema of `name` first (a
   * name it does not declare, or a payload it refuses, is an `InvalidSignal`, and nothing is stored);
   * it is stored encoded, as a start stores its input.
   *
   * @since 0.2.0
   */
  readonly signal: (
    id: string,
    name: string,
    payload: unknown
  ) => Effect.Effect<
    void,
    | ExecutionStorage.ExecutionNotFound
    | ExecutionStorage.ExecutionFinished
    | InvalidSignal
    | InvalidOption
    | StorageFailure
  >
  /**
   * Deletes finished executions (never an unfinished one) with their events, journal and inbox, a batch
   * per transaction, and answers how many. Children keep their `parent` link to a purged parent.
   *
   * @since 0.2.0
   */
  readonly purge: (options: PurgeOptions) => Effect.Effect<number, InvalidOption | StorageFailure>
  /**
   * Stores a schedule (replacing one of the same name) and answers it as stored, its first tick the first
   * after now. The input is checked and encoded by the workflow's schema now, as `start` would. Set again
   * with the same expression and time zone (as each process may do when it starts), a schedule keeps its
   * next tick, and its pause unless `paused` is given.
   *
   * @since 0.2.0
   */
  readonly schedule: {
    <A, I, E, R>(
      options: ScheduleOptions & { readonly workflow: Workflow.Workflow<A, I, E, R>; readonly input: I }
    ): Effect.Effect<
      ExecutionStorage.ScheduleRecord,
      Workflow.InvalidInput | WorkflowAlreadyRegistered | InvalidOption | StorageFailure,
      R
    >
    (options: ScheduleOptions & { readonly workflow: string; readonly input: unknown }): Effect.Effect<
      ExecutionStorage.ScheduleRecord,
      Workflow.InvalidInput | WorkflowNotFound | InvalidOption | StorageFailure
    >
  }
  /**
   * The stored schedules, by name.
   *
   * @since 0.2.0
   */
  readonly schedules: Effect.Effect<ReadonlyArray<ExecutionStorage.ScheduleRecord>, StorageFailure>
  /**
   * Stops a schedule's ticks (a tick being started as it is paused may still start).
   *
   * @since 0.2.0
   */
  readonly pauseSchedule: (name: string) => Effect.Effect<void, ScheduleNotFound | StorageFailure>
  /**
   * Restarts a paused schedule's ticks from the first after now: ticks while paused are not missed ones.
   *
   * @since 0.2.0
   */
  readonly resumeSchedule: (name: string) => Effect.Effect<void, ScheduleNotFound | StorageFailure>
  /**
   * Deletes a schedule; the executions it started stay.
   *
   * @since 0.2.0
   */
  readonly unschedule: (name: string) => Effect.Effect<void, ScheduleNotFound | StorageFailure>
  /**
   * Starts a new execution of the same workflow and input that replays the journal of `executionId` up to
   * `options.fromStep` and runs for real from there (to retry a failed run after a fix, or try another
   * path), here, at once; with `options.executionId` naming an existing execution, returns its handle.
   * See "Fork" in docs/design.md.
   *
   * @since 0.2.0
   */
  readonly fork: (
    executionId: string,
    options: ForkOptions
  ) => Effect.Effect<
    WorkflowHandle<unknown>,
    | ExecutionStorage.ExecutionNotFound
    | WorkflowNotFound
    | ExecutionIdConflict
    | InvalidOption
    | StorageFailure
  >
  readonly executions: (
    filter?: ExecutionStorage.ListFilter
  ) => Effect.Effect<ExecutionStorage.ExecutionPage, ExecutionStorage.InvalidCursor | StorageFailure>
  /**
   * A flag of this engine, kept for compatibility; nothing in this package
   * reads it.
   *
   * @deprecated Debug output is chat presentation: the chat commands, the
   * CLI and `WorkflowService.getDebug`/`setDebug` use `ChatAdapter.Debug`.
   */
  readonly debug: Effect.Effect<boolean>
  /** @deprecated See `debug`: use `ChatAdapter.Debug`. */
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

/**
 * The engine over the `ExecutionStorage` in context, for as long as the scope
 * lasts: closing it stops its runs and leaves their executions as stored.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: EngineOptions
) => Effect.Effect<WorkflowEngineService, InvalidOption, ExecutionStorage.ExecutionStorage | Scope.Scope> =
  internal.make

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
