/**
 * The storage port: executions, their event logs, the step journal and
 * approvals. Every operation is an Effect with tagged errors. A running
 * execution commits through a `Writer` the storage hands it for the run:
 * each commit applies events, a journal entry and a status change
 * atomically, and the writer owns whatever fast path the storage has.
 *
 * @since 0.1.0
 */
import type { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import {
  ExecutionRecord as RecordSchema,
  ExecutionStatus as StatusSchema,
  StorageError
} from "./internal/storage/service.js"
import type { ExecutionStorage as Tag } from "./internal/storage/service.js"
import type { ErrorInfo, StoredEvent, WorkflowEvent } from "./WorkflowEvent.js"

export {
  /**
   * @since 0.1.0
   * @category errors
   */
  ApprovalNotPending,
  /**
   * @since 0.1.0
   * @category errors
   */
  ExecutionFinished,
  /**
   * @since 0.1.0
   * @category errors
   */
  ExecutionNotFound,
  /**
   * A commit from a run that no longer holds its execution (its lease
   * expired, and perhaps another owner has claimed it since): nothing of it
   * is stored.
   *
   * @since 0.1.0
   * @category errors
   */
  ExecutionNotOwned,
  /**
   * @since 0.1.0
   * @category tags
   */
  ExecutionStorage,
  /**
   * @since 0.1.0
   * @category errors
   */
  InvalidCursor,
  /**
   * A value that a durable storage cannot store: not JSON, or too large.
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidPayload,
  /**
   * @since 0.1.0
   * @category predicates
   */
  isTerminal,
  /**
   * A commit that would make an execution wait for a signal (`Commit.wait.unlessSignal`) while one of
   * that name is in its inbox already: nothing is stored, and the run receives it instead.
   *
   * @since 0.2.0
   * @category errors
   */
  SignalPending,
  /**
   * @since 0.1.0
   * @category errors
   */
  StorageError
} from "./internal/storage/service.js"

import type {
  ApprovalNotPending,
  ExecutionFinished,
  ExecutionNotFound,
  ExecutionNotOwned,
  InvalidCursor,
  InvalidPayload,
  SignalPending
} from "./internal/storage/service.js"

/**
 * @since 0.1.0
 * @category schemas
 */
export const ExecutionStatus: typeof StatusSchema = StatusSchema

/**
 * @since 0.1.0
 * @category models
 */
export type ExecutionStatus = typeof ExecutionStatus.Type

/**
 * An `ExecutionRecord` as a Schema (the HTTP API sends records with it).
 *
 * @since 0.2.0
 * @category schemas
 */
export const ExecutionRecord: typeof RecordSchema = RecordSchema

/**
 * @since 0.1.0
 * @category models
 */
export interface ExecutionRecord {
  readonly id: string
  readonly workflow: string
  readonly input: unknown
  readonly status: ExecutionStatus
  readonly output?: unknown
  readonly error?: ErrorInfo
  readonly createdAt: number
  readonly updatedAt: number
  /** The `seq` of the last stored event, 0 when the log is empty. */
  readonly lastSeq: number
  /**
   * While it is `running`: until when (ms since the epoch, on the storage's
   * clock) the process running it has claimed it; absent when none has. (A
   * run that stops to wait, or ends, gives its claim up: in other statuses
   * it means nothing.)
   */
  readonly leaseUntil?: number
  /** The execution whose body started this one, if any. */
  readonly parent?: string
  /**
   * Started with `Workflow.child` (or `startChild`): its end is signalled to its parent (`signalParent`).
   *
   * @since 0.2.0
   */
  readonly awaitedByParent?: boolean
  /**
   * The `version` of the workflow that started it, if it had one: only an engine with that version of the
   * workflow runs it.
   *
   * @since 0.2.0
   */
  readonly version?: string
  /**
   * The queue it was started in, if any: it waits there (status `created`) until a worker serving the
   * queue claims it.
   *
   * @since 0.2.0
   */
  readonly queue?: string
  /**
   * While it is `waiting`: what for, as `approval:<taskId>`, `signal:<name>` or `sleep` (absent for
   * executions stored before this was recorded).
   *
   * @since 0.2.0
   */
  readonly waitingFor?: string
  /**
   * While it is `waiting` with a deadline (a sleep, a signal's timeout): when any engine on the storage wakes
   * it, in ms since the epoch on the engines' clock.
   *
   * @since 0.2.0
   */
  readonly wakeAt?: number
}

/**
 * A signal sent to an execution and not yet received by its body, in the order sent.
 *
 * @since 0.2.0
 * @category models
 */
export interface InboxSignal {
  /** The `seq` of its `signal_received` event. */
  readonly seq: number
  readonly name: string
  readonly payload: unknown
}

/**
 * What an engine asks `wakeDue` for.
 *
 * @since 0.2.0
 * @category models
 */
export interface WakeClaim {
  /** The engine's now: executions waiting with a `wakeAt` at or before it are due. */
  readonly now: number
  /** The workflows the engine runs: others stay for other engines. */
  readonly workflows: ReadonlyArray<string>
  /** At most this many. */
  readonly limit: number
  readonly owner: string
  readonly leaseMs: number
}

/**
 * What `wakeDue` answers: the executions claimed (now `running`, held by the owner), and the earliest
 * `wakeAt` still to come among the workflows asked about, if any.
 *
 * @since 0.2.0
 * @category models
 */
export interface WakeClaimed {
  readonly claimed: ReadonlyArray<ExecutionRecord>
  readonly next?: number
}

/**
 * What `purge` deletes: finished executions with one of `statuses`, last updated at or before `before`, of
 * `workflow` if given, at most `limit` of them.
 *
 * @since 0.2.0
 * @category models
 */
export interface PurgeRequest {
  /** Ms since the epoch, on the engines' clock (as `updatedAt`). */
  readonly before: number
  readonly statuses: ReadonlyArray<"completed" | "failed" | "cancelled">
  readonly workflow?: string
  readonly limit: number
}

/**
 * What `fork` copies: execution `source` into a new execution `id` of the same workflow, input and
 * version, created `running` and claimed as `NewExecution.claim` says. The completed root entries of the
 * source's journal at positions before `from` (with the entries nested in them) are copied; so are the
 * events that precede the first event of the entry at `from`, renumbered from 1 (a `signal_received`
 * only when a copied entry received that signal). Nothing else is: not the inbox, the parent link, the
 * queue, the output.
 *
 * @since 0.2.0
 * @category models
 */
export interface ForkRequest {
  readonly source: string
  readonly id: string
  /** The root position (journal key `String(from)`) the new execution runs from for real. */
  readonly from: number
  readonly claim: { readonly owner: string; readonly leaseMs: number }
}

/**
 * A stored schedule: a workflow started with `input` at each tick of `cron`.
 *
 * @since 0.2.0
 * @category models
 */
export interface ScheduleRecord {
  readonly name: string
  readonly workflow: string
  /** As the workflow's input schema encodes it. */
  readonly input: unknown
  /** A cron expression (5 fields, or 6 with seconds first), as `Cron.parse` reads it. */
  readonly cron: string
  /** An IANA time zone the expression is read in; UTC when absent. */
  readonly timezone?: string
  /** What happens to ticks no engine reached in time: dropped, or the latest of them run once. */
  readonly missed: "skip" | "once"
  /** How late after its time a tick may start and still count as on time, in ms. */
  readonly graceMs: number
  readonly paused: boolean
  /** The time of the next tick to start, ms since the epoch. */
  readonly nextAt: number
  /** The last tick started, and its execution. */
  readonly lastTick?: number
  readonly lastExecution?: string
  readonly createdAt: number
  readonly updatedAt: number
}

/**
 * The schedules of a storage. Ticks are claimed by moving `nextAt` from the value read (`advance`), so
 * that engines reading the same schedule at once move it once.
 *
 * @since 0.2.0
 * @category models
 */
export interface ScheduleStore {
  /** Stores a schedule, replacing one of the same name (whose `createdAt` and last tick are kept). */
  readonly put: (schedule: ScheduleRecord) => Effect.Effect<void, StorageError | InvalidPayload>
  /** Every schedule, by name. */
  readonly list: Effect.Effect<ReadonlyArray<ScheduleRecord>, StorageError>
  /** The schedule of that name, if one is stored (read alone: another that cannot be read does not matter). */
  readonly get: (name: string) => Effect.Effect<ScheduleRecord | undefined, StorageError>
  /** Deletes one; whether there was one. */
  readonly remove: (name: string) => Effect.Effect<boolean, StorageError>
  /** Pauses or resumes one (its next tick `nextAt` when given, else left as it is); whether there was one. */
  readonly pause: (
    name: string,
    paused: boolean,
    nextAt: number | undefined,
    now: number
  ) => Effect.Effect<boolean, StorageError>
  /**
   * The unpaused schedules of `workflows` due at `now` (`nextAt` at or before it), and the earliest
   * `nextAt` of the others.
   */
  readonly due: (
    now: number,
    workflows: ReadonlyArray<string>
  ) => Effect.Effect<{ readonly due: ReadonlyArray<ScheduleRecord>; readonly next?: number }, StorageError>
  /**
   * Moves a schedule's `nextAt` from `from` to `to`, recording its last tick, only if it is still `from`:
   * whether this call moved it.
   */
  readonly advance: (
    name: string,
    from: number,
    to: number,
    last: { readonly tick: number; readonly execution: string } | undefined,
    now: number
  ) => Effect.Effect<boolean, StorageError>
}

/**
 * @since 0.1.0
 * @category models
 */
export type JournalResult =
  | { readonly _tag: "Success"; readonly value: unknown }
  | { readonly _tag: "Failure"; readonly error: unknown }
  | { readonly _tag: "Die"; readonly defect: ErrorInfo }

/**
 * @since 0.1.0
 * @category models
 */
export interface JournalEntry {
  /** Position of the entry in the workflow body: "3", or "3.1.0" inside nested steps and branches. */
  readonly key: string
  readonly name: string
  readonly kind: "step" | "emit" | "approval" | "sleep" | "signal" | "child" | "patch"
  readonly state: "started" | "completed" | "waiting"
  readonly result?: JournalResult
  readonly taskId?: string
  /** A sleep's, or a signal wait's deadline, in ms since the epoch. @since 0.2.0 */
  readonly wakeAt?: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Commit {
  /** Appended in order; the storage assigns each the next `seq`. */
  readonly events?: ReadonlyArray<WorkflowEvent>
  /** Upserted by `key`. */
  readonly journal?: JournalEntry
  /** Completes the waiting approval `taskId` with `value`; fails with `ApprovalNotPending` if there is none. */
  readonly answer?: { readonly taskId: string; readonly value: unknown }
  readonly status?: ExecutionStatus
  readonly output?: unknown
  readonly error?: ErrorInfo
  /**
   * Refuses the commit with `ApprovalNotPending` unless the approval at this
   * journal key still waits: a run going back to waiting must not overwrite
   * an answer that landed meanwhile.
   */
  readonly waitingFor?: { readonly key: string; readonly taskId: string }
  /**
   * The run that commits: the commit is refused with `ExecutionNotOwned`
   * unless this owner still holds the execution and its lease has not
   * expired on the storage's clock (a stalled process whose lease ran out
   * stores nothing, whether or not another process has claimed the
   * execution since). Absent for commits made on behalf of anyone (cancel,
   * approve). A `Writer` sets it.
   */
  readonly owner?: string
  /**
   * With `status: "waiting"`: what the execution waits for, and until when. A commit that sets another
   * status clears it.
   *
   * @since 0.2.0
   */
  readonly wait?: {
    /** Stored as the record's `waitingFor`. */
    readonly for: string
    /** Stored as the record's `wakeAt`: any engine claims the execution then (`wakeDue`). */
    readonly wakeAt?: number
    /** Refuses the commit with `SignalPending` while a signal of this name is in the inbox. */
    readonly unlessSignal?: string
  }
  /**
   * Puts a signal in the execution's inbox, with the `seq` of this commit's first event (its
   * `signal_received`); an execution waiting for it (`signal:<name>`) is set `running`, held by no one.
   *
   * @since 0.2.0
   */
  readonly signal?: { readonly name: string; readonly payload: unknown }
  /**
   * Takes the inbox signal with this `seq` out of the inbox: the body received it (this commit's journal
   * entry holds its payload).
   *
   * @since 0.2.0
   */
  readonly consume?: number
  /**
   * Sends a signal to another execution (the parent of this one, as it ends) in the same transaction:
   * `event` (its `signal_received`) is appended to that execution's log and the signal put in its inbox
   * under the event's `seq`, and it is set `running` if it waits for it. Nothing is sent to an
   * execution that has finished.
   *
   * @since 0.2.0
   */
  readonly signalParent?: {
    readonly parent: string
    readonly name: string
    readonly payload: unknown
    readonly event: WorkflowEvent
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface NewExecution {
  readonly id: string
  readonly workflow: string
  readonly input: unknown
  readonly status: ExecutionStatus
  /** The execution whose body starts this one. */
  readonly parent?: string
  /** With `parent`: its end is signalled to the parent (see `ExecutionRecord.awaitedByParent`). @since 0.2.0 */
  readonly awaitedByParent?: boolean
  /** The workflow's version (see `ExecutionRecord.version`). @since 0.2.0 */
  readonly version?: string
  /**
   * Claims the new execution for `owner` in the same write, as `claim`
   * would: a start that runs what it creates then writes once. A storage
   * that does says so with `claimed: true`; one that does not is claimed
   * afterwards.
   *
   * @since 0.2.0
   */
  readonly claim?: { readonly owner: string; readonly leaseMs: number }
  /**
   * Queues it (status `created`, no claim) for a worker serving `queue` to claim (`claimQueued`).
   *
   * @since 0.2.0
   */
  readonly queue?: string
  /** Higher first, among the executions queued in one queue (default 0). @since 0.2.0 */
  readonly priority?: number
  /**
   * While an execution of the same queue with this key is unfinished (`created`, `running` or
   * `waiting`), `create` creates nothing and returns that one (`created: false`).
   *
   * @since 0.2.0
   */
  readonly dedupKey?: string
}

/**
 * The limits every worker serving a queue keeps to, stored with the executions (`defineQueue`) so that
 * every process agrees on them.
 *
 * @since 0.2.0
 * @category models
 */
export interface QueueLimits {
  readonly name: string
  /** At most this many of its executions `running` at once, fleet-wide. */
  readonly concurrency?: number
  /** At most `limit` of its executions claimed per `periodMs`, fleet-wide. */
  readonly rateLimit?: { readonly limit: number; readonly periodMs: number }
}

/**
 * What a worker asks `claimQueued` for.
 *
 * @since 0.2.0
 * @category models
 */
export interface QueueClaim {
  readonly queue: string
  /** The workflows the worker runs: executions of others stay queued for other workers. */
  readonly workflows: ReadonlyArray<string>
  /** At most this many (the worker's own free capacity). */
  readonly limit: number
  readonly owner: string
  readonly leaseMs: number
}

/**
 * What `claimQueued` answers: the executions claimed (now `running`, held by the owner), and, when the
 * queue's rate limit stopped it, in how many ms it may claim again.
 *
 * @since 0.2.0
 * @category models
 */
export interface QueueClaimed {
  readonly claimed: ReadonlyArray<ExecutionRecord>
  readonly retryInMs?: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ListFilter {
  readonly status?: ExecutionStatus | ReadonlyArray<ExecutionStatus>
  readonly workflow?: string
  /** Only the executions started from this execution's body. */
  readonly parent?: string
  /**
   * Only the executions whose id starts with this (an id's unique prefix, as people type it).
   *
   * @since 0.2.0
   */
  readonly idPrefix?: string
  readonly limit?: number
  /** The `cursor` of a previous page. */
  readonly cursor?: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ExecutionPage {
  readonly executions: ReadonlyArray<ExecutionRecord>
  /** Present when more executions match: pass it back to read the next page. */
  readonly cursor?: string
}

/**
 * The errors a commit fails with, as opposed to defects.
 *
 * @since 0.1.0
 * @category errors
 */
export type CommitError =
  | ExecutionNotFound
  | ExecutionFinished
  | ExecutionNotOwned
  | ApprovalNotPending
  | SignalPending
  | InvalidPayload
  | StorageError

/**
 * @since 0.1.0
 * @category models
 */
export interface WriterOptions {
  /** The engine running the execution: every commit of the writer is guarded by it. */
  readonly owner: string
  /** Told of each commit once it is stored (to wake subscribers). */
  readonly onStored?: (commit: Commit) => void
  /**
   * Told when a write starts (its last commit, when held-back commits are merged into it); the function it
   * returns is told when the write ends, with its failure, if any (the engine's commit spans and metrics).
   * Either may be called outside any fiber.
   *
   * @since 0.2.0
   */
  readonly onWrite?: (commit: Commit) => (failure: unknown) => void
  /**
   * Creates the execution with the writer's first write, claimed for `owner` (its `claim`), in the same
   * transaction: a start that runs what it creates, and whose run commits soon, writes once. Given only
   * to the writers of this package's storages that can (SQLite with `synchronous: "FULL"`, PostgreSQL);
   * a writer of your own is never asked.
   *
   * @since 0.2.0
   */
  readonly create?: NewExecution
  /**
   * With `create`: told once, when the write that creates the execution has ended, with its failure, if
   * any (a failure to prepare it, `InvalidPayload`, included). May be called outside any fiber.
   *
   * @since 0.2.0
   */
  readonly onCreated?: (failure: unknown) => void
}

/**
 * The one way a run commits. The storage chooses its fast path once, when it
 * hands the writer out: a synchronous write, a step's start merged with its
 * end, commits of concurrent runs grouped in one transaction.
 *
 * @since 0.1.0
 * @category models
 */
export interface Writer {
  /**
   * Stores a commit of the run: the returned Effect completes once it is
   * stored, and fails as `ExecutionStorageService.commit` does. A writer
   * that stores synchronously stores it when `commit` is called and returns
   * a completed `Exit` (call it from a running fiber); others may start
   * the write at once, or when the Effect runs.
   *
   * With `hold`, the writer may keep the commit back and store it together
   * with the run's next commit (a step's start with its end, a step's end
   * with the run's outcome), at the latest a moment later. A next commit
   * that journals another entry (the next step's start) is stored only
   * after it. The returned Effect then only says whether it could be
   * encoded, and a failure to store it fails the run's next commit. Closing
   * the writer's scope stores anything held back.
   */
  readonly commit: (commit: Commit, options?: { readonly hold?: boolean }) => Effect.Effect<void, CommitError>
}

/**
 * How an execution is followed (`ExecutionStorageService.follow`).
 *
 * @since 0.2.0
 */
export interface FollowOptions {
  /** Only the end is awaited: its steps need not be hinted. */
  readonly endsOnly?: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ExecutionStorageService {
  /**
   * Creates the execution unless one with the same id exists; returns the stored record either way, and
   * whether it was created claimed (see `NewExecution.claim`).
   */
  readonly create: (
    execution: NewExecution
  ) => Effect.Effect<
    { readonly record: ExecutionRecord; readonly created: boolean; readonly claimed?: boolean },
    InvalidPayload | StorageError
  >
  readonly get: (id: string) => Effect.Effect<ExecutionRecord, ExecutionNotFound | StorageError>
  readonly list: (filter?: ListFilter) => Effect.Effect<ExecutionPage, InvalidCursor | StorageError>
  /**
   * Applies events, a journal entry, an approval answer and a status change
   * atomically: all of it is stored or none. Fails with `ExecutionFinished`
   * when the execution already has a terminal status, with `ExecutionNotOwned`
   * when `commit.owner` no longer holds it (or its lease has expired). Succeeds only once the commit is
   * stored. Returns the new `lastSeq`.
   */
  readonly commit: (id: string, commit: Commit) => Effect.Effect<number, CommitError>
  /** The writer a run of the execution commits through, for as long as the scope lasts. */
  readonly writer: (id: string, options: WriterOptions) => Effect.Effect<Writer, never, Scope.Scope>
  /**
   * Events with `seq >= fromSeq`, in `seq` order, at most `limit` of them: fewer only when no more are
   * stored (a follower takes a short page for everything stored when it read). A read sees every event a
   * `get` that returned before it counted in `lastSeq`: a watcher that reads no event at a seq that a
   * `get` since says is stored reads once more, and then fails with a `StorageError` (a log short of its
   * record), so a storage must not answer reads from a copy that lags behind its records.
   */
  readonly events: (
    id: string,
    options: { readonly fromSeq: number; readonly limit: number }
  ) => Effect.Effect<ReadonlyArray<StoredEvent>, StorageError>
  readonly journal: (id: string) => Effect.Effect<ReadonlyArray<JournalEntry>, StorageError>
  /**
   * Makes `owner` the one process that runs the execution for the next
   * `leaseMs` milliseconds, counted on the storage's clock (the database's,
   * read as the statement runs; never the caller's): the stored `leaseUntil`
   * is the storage's now plus `leaseMs`. A lease is held while the storage's
   * now is before its `leaseUntil`; a `leaseMs` of 0 or less gives one that
   * has already expired. Succeeds with `false` when the execution has
   * finished or another owner still holds its lease.
   */
  readonly claim: (id: string, owner: string, leaseMs: number) => Effect.Effect<boolean, StorageError>
  /**
   * Extends the leases `owner` still holds on these executions to the
   * storage's now plus `leaseMs`, if they have not finished (a run whose
   * execution was cancelled elsewhere hears of it here); returns the ids it
   * extended. A lease that expired is extended too, unless another owner
   * claimed the execution meanwhile.
   */
  readonly renew: (
    owner: string,
    ids: ReadonlyArray<string>,
    leaseMs: number
  ) => Effect.Effect<ReadonlyArray<string>, StorageError>
  /** Gives up `owner`'s lease, so another process may run the execution at once. */
  readonly release: (id: string, owner: string) => Effect.Effect<void, StorageError>
  /**
   * Commits made by other processes on this storage, as they are made (PostgreSQL: `LISTEN/NOTIFY`).
   * Hints, not data: the storage stays the truth, and a hint may be lost (then `Missed` says so, or it
   * costs only the engine's poll). Absent where the storage cannot tell; engines then poll. A storage
   * with `follow` hints the commits that set no status (a step's events) or end an execution only of
   * executions followed, and ends also of queues followed (`followQueue`).
   *
   * @since 0.2.0
   */
  readonly changes?: Stream.Stream<StorageChange>
  /**
   * Has `changes` hint every commit to `id` (its steps and its end too) while the scope is open: the
   * engine follows the executions whose events or result it waits for. Settles once such commits are
   * heard, or after a while if they cannot be yet (on PostgreSQL: its channel listened on, then the
   * execution marked followed, so that its commits notify at all; 2 s at most each): whoever follows
   * reads storage again before it waits. Absent where `changes` hints every commit (or none).
   * With `endsOnly`, the follower waits only for the execution's end (a `result`): a storage may then
   * leave its steps unhinted (PostgreSQL then listens, and marks nothing).
   *
   * @since 0.2.0
   */
  readonly follow?: (id: string, options?: FollowOptions) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Has `changes` hint the end of every execution of `queue` while the scope is open: the engine's
   * workers of a queue with a fleet-wide limit follow it, to claim as soon as room opens. Absent where
   * `follow` is.
   *
   * @since 0.2.0
   */
  readonly followQueue?: (queue: string) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Stores a queue's limits (replacing what was stored for it). Absent on storages without queues.
   *
   * @since 0.2.0
   */
  readonly defineQueue?: (limits: QueueLimits) => Effect.Effect<void, StorageError>
  /**
   * Claims executions queued in a queue, highest priority first, then oldest, within the queue's
   * stored limits: its concurrency (executions `running`) and its rate (executions claimed in the last
   * period), judged atomically with the claim, so that workers claiming at once never exceed them. Each
   * execution is claimed once (it becomes `running`, held by `owner` for `leaseMs`, as `claim` would).
   * Absent on storages without queues.
   *
   * @since 0.2.0
   */
  readonly claimQueued?: (request: QueueClaim) => Effect.Effect<QueueClaimed, StorageError>
  /**
   * Claims executions waiting with a `wakeAt` at or before `request.now`, earliest first (each becomes
   * `running`, held by the owner, as `claim` would, its wait cleared), and answers the next `wakeAt` to
   * come: one indexed read, however many executions wait. Absent on storages without durable sleep.
   *
   * @since 0.2.0
   */
  readonly wakeDue?: (request: WakeClaim) => Effect.Effect<WakeClaimed, StorageError>
  /**
   * The signals sent to an execution that its body has not received, in the order sent; only those named
   * `name` when given. Absent on storages without signals.
   *
   * @since 0.2.0
   */
  readonly inbox?: (id: string, name?: string) => Effect.Effect<ReadonlyArray<InboxSignal>, StorageError>
  /**
   * Deletes finished executions (never an unfinished one) with their events, journal and inbox, in one
   * transaction, and answers how many. Absent on storages that keep everything.
   *
   * @since 0.2.0
   */
  readonly purge?: (request: PurgeRequest) => Effect.Effect<number, StorageError>
  /**
   * The stored schedules. Absent on storages without schedules.
   *
   * @since 0.2.0
   */
  readonly schedules?: ScheduleStore
  /**
   * Creates a new execution from a snapshot of another (see `ForkRequest`), in one transaction; or, when
   * one with the new id exists, returns it (`created: false`) and copies nothing. Absent on storages
   * that cannot fork.
   *
   * @since 0.2.0
   */
  readonly fork?: (
    request: ForkRequest
  ) => Effect.Effect<{ readonly record: ExecutionRecord; readonly created: boolean }, ExecutionNotFound | StorageError>
}

/**
 * A hint from `ExecutionStorageService.changes`.
 *
 * @since 0.2.0
 * @category models
 */
export type StorageChange =
  /** Another process committed to the execution: events, and its new status if the commit set one. */
  | {
    readonly _tag: "Committed"
    readonly executionId: string
    readonly status?: ExecutionStatus
    /** The queue a new execution (`created`) waits in: only that queue's workers need to look. */
    readonly queue?: string
  }
  /** Hints may have been lost (the channel was down): anything may have changed meanwhile. */
  | { readonly _tag: "Missed" }

export {
  /**
   * An execution's input checked and copied as the built-in storages store
   * it (see `checkPayloads`).
   *
   * @since 0.2.0
   * @category payloads
   */
  checkInput,
  /**
   * A commit checked and copied as the built-in storages store it: every
   * payload must read back from JSON as it is (else `InvalidPayload`, naming
   * what, where and the fix), and what is stored is a frozen copy. A storage
   * written outside this package calls it before it writes, so that a replay
   * never sees a different value than the first run.
   *
   * @since 0.2.0
   * @category payloads
   */
  checkPayloads
} from "./internal/storage/payload.js"

export {
  /**
   * One page of `list`, computed from all records in memory: for storages
   * that cannot filter and page themselves.
   *
   * @since 0.2.0
   * @category constructors
   */
  listPage
} from "./internal/storage/listing.js"

export {
  /**
   * A writer for a storage that has only `commit`: each commit is stored
   * through it, in order, and nothing is held back.
   *
   * @since 0.2.0
   * @category constructors
   */
  fromCommit as writerFromCommit
} from "./internal/storage/writer.js"

export {
  /**
   * The ephemeral in-process storage, the default.
   *
   * @since 0.1.0
   * @category layers
   */
  layer as layerMemory,
  /**
   * @since 0.1.0
   * @category constructors
   */
  make as makeMemory
} from "./internal/storage/memory.js"

/**
 * A storage layer whose driver module is imported when the layer is built,
 * not when this module is: importing the package loads no SQL driver, and
 * each storage pays only for its own (see "What loads when" in docs/design.md).
 */
const loaded = <M, R>(
  load: () => Promise<M>,
  missing: string,
  layer: (module: M) => Layer.Layer<Tag, StorageError, R>
): Layer.Layer<Tag, StorageError, R> =>
  Layer.unwrapEffect(
    Effect.tryPromise({
      try: load,
      catch: (cause) => new StorageError({ operation: "connect", reason: missing, cause })
    }).pipe(Effect.map(layer))
  )

/**
 * The embedded storage: a SQLite file (WAL; `synchronous` NORMAL by default,
 * FULL as an option). `@effect/sql` and better-sqlite3 are loaded when the
 * layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite = (options: SqliteOptions): Layer.Layer<Tag, StorageError> =>
  loaded(
    () => import("./internal/storage/sqlite.js"),
    "the SQLite storage could not load @effect/sql or better-sqlite3 (npm install @effect/sql better-sqlite3)",
    (sqlite) => sqlite.layer(options)
  )

/**
 * @since 0.1.0
 * @category models
 */
export interface SqliteOptions {
  /** The database file; its directory is created if needed. */
  readonly filename: string
  /**
   * `NORMAL` (default): a commit is durable once the WAL is checkpointed or
   * the OS flushes it; a power loss may lose the last commits, never corrupt
   * the file. `FULL`: every commit is fsynced before it returns.
   */
  readonly synchronous?: "NORMAL" | "FULL"
  /** How long a writer waits for another process's lock before failing (default 5 seconds). */
  readonly busyTimeoutMs?: number
  /**
   * Writes the commits that concurrent executions make within one microtask
   * in one transaction, so that they share its sync to disk; each commit is
   * still stored or refused on its own, and completes only once stored.
   * Default: on with `synchronous: "FULL"`, where that sync is most of a
   * commit's cost; off with `NORMAL`, where a commit is then written at once
   * (on, many concurrent executions gain about a quarter; a run with a
   * subscriber loses more than half, see docs/design.md).
   */
  readonly groupCommit?: boolean
  /**
   * Checkpoints the WAL (copies it into the database file, and syncs both) on
   * a worker thread with a connection of its own, started once the process
   * has committed a few hundred transactions, instead of inside the commit
   * that fills it. Default: on with `NORMAL`, where no commit then waits for
   * a checkpoint's syncs and many concurrent executions gain about a fifth;
   * off with `FULL`, where every commit syncs anyway and the worker's syncs
   * beside them made sequential steps slower (docs/design.md). Off, or where
   * the worker cannot run, SQLite checkpoints as it does by default.
   *
   * @since 0.2.0
   */
  readonly backgroundCheckpoints?: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PgOptions {
  /** A `postgres://` connection URL. */
  readonly url: string
  readonly maxConnections?: number
  /**
   * Whether commits notify other processes, and this one listens for theirs (`LISTEN/NOTIFY`, one
   * connection per layer): subscribers, result waiters and cancels then hear of another process's commit
   * at once instead of at their next poll. Default true.
   *
   * @since 0.2.0
   */
  readonly notifications?: boolean
}

/**
 * The SQL storage over any `SqlClient` in context, after running its
 * migrations. Its implementation (and `@effect/sql`'s Migrator) is loaded
 * when the layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql: Layer.Layer<Tag, StorageError, SqlClient.SqlClient> = loaded(
  () => import("./internal/storage/sql.js"),
  "the SQL storage could not load @effect/sql (npm install @effect/sql)",
  (sql) => sql.layer
)

export {
  /**
   * The largest JSON payload a SQL storage accepts, in characters.
   *
   * @since 0.1.0
   * @category constants
   */
  MAX_PAYLOAD_CHARS
} from "./internal/storage/payload.js"

/**
 * The PostgreSQL storage. `@effect/sql-pg` is an optional peer dependency,
 * loaded only when this layer is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPg = (options: PgOptions): Layer.Layer<Tag, StorageError> =>
  loaded(
    () => import("./internal/storage/pg.js"),
    "the PostgreSQL storage needs the optional dependency @effect/sql-pg: npm install @effect/sql-pg",
    (pg) => pg.layer(options)
  )
