import { Context, Effect, Schema } from "effect"
import type { ErrorInfo, StoredEvent, WorkflowEvent } from "../WorkflowEvent.js"

/** @internal */
export const ExecutionStatus = Schema.Literal("created", "running", "waiting", "completed", "failed", "cancelled")

/** @internal */
export type ExecutionStatus = typeof ExecutionStatus.Type

/** @internal */
export const isTerminal = (status: ExecutionStatus): boolean =>
  status === "completed" || status === "failed" || status === "cancelled"

/** @internal */
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
   * While it is `running`: until when (ms since the epoch) the process
   * running it has claimed it; absent when none has. (A run that stops to
   * wait, or ends, gives its claim up: in other statuses it means nothing.)
   */
  readonly leaseUntil?: number
}

/** @internal */
export type JournalResult =
  | { readonly _tag: "Success"; readonly value: unknown }
  | { readonly _tag: "Failure"; readonly error: unknown }
  | { readonly _tag: "Die"; readonly defect: ErrorInfo }

/** @internal */
export interface JournalEntry {
  /** Position of the entry in the workflow body: "3", or "3.1.0" inside nested steps and branches. */
  readonly key: string
  readonly name: string
  readonly kind: "step" | "emit" | "approval"
  readonly state: "started" | "completed" | "waiting"
  readonly result?: JournalResult
  readonly taskId?: string
}

/** @internal */
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
   * The run that commits: the commit is refused with `ExecutionNotOwned`
   * unless this owner still holds the execution (another process may have
   * claimed it after this one's lease expired). Absent for commits made on
   * behalf of anyone (cancel, approve).
   */
  readonly owner?: string
}

/** @internal */
export interface NewExecution {
  readonly id: string
  readonly workflow: string
  readonly input: unknown
  readonly status: ExecutionStatus
}

/** @internal */
export interface ListFilter {
  readonly status?: ExecutionStatus | ReadonlyArray<ExecutionStatus>
  readonly workflow?: string
  readonly limit?: number
  /** The `cursor` of a previous page. */
  readonly cursor?: string
}

/** @internal */
export interface ExecutionPage {
  readonly executions: ReadonlyArray<ExecutionRecord>
  /** Present when more executions match: pass it back to read the next page. */
  readonly cursor?: string
}

/** @internal */
export class ExecutionNotFound extends Schema.TaggedError<ExecutionNotFound>()("ExecutionNotFound", {
  executionId: Schema.String
}) {
  override get message(): string {
    return `No execution with id "${this.executionId}"`
  }
}

/** @internal */
export class ExecutionFinished extends Schema.TaggedError<ExecutionFinished>()("ExecutionFinished", {
  executionId: Schema.String,
  status: ExecutionStatus
}) {
  override get message(): string {
    return `Execution "${this.executionId}" has already finished with status "${this.status}"`
  }
}

/** @internal */
export class ApprovalNotPending extends Schema.TaggedError<ApprovalNotPending>()("ApprovalNotPending", {
  executionId: Schema.String,
  taskId: Schema.String
}) {
  override get message(): string {
    return `Execution "${this.executionId}" is not waiting for approval of task "${this.taskId}"`
  }
}

/**
 * A commit from a run whose execution another owner has claimed since (its
 * lease expired): nothing of it is stored.
 *
 * @internal
 */
export class ExecutionNotOwned extends Schema.TaggedError<ExecutionNotOwned>()("ExecutionNotOwned", {
  executionId: Schema.String,
  owner: Schema.String
}) {
  override get message(): string {
    return `Execution "${this.executionId}" is no longer owned by "${this.owner}": another process has claimed it`
  }
}

/** @internal */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  operation: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `Execution storage failed during ${this.operation}: ${this.reason}`
  }
}

/**
 * A value that a durable storage cannot store: not JSON, or too large.
 *
 * @internal
 */
export class InvalidPayload extends Schema.TaggedError<InvalidPayload>()("InvalidPayload", {
  what: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.what} cannot be stored: ${this.reason}`
  }
}

/** @internal */
export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()("InvalidCursor", {
  cursor: Schema.String
}) {
  override get message(): string {
    return `Invalid execution list cursor "${this.cursor}"`
  }
}

/** @internal */
export interface ExecutionStorageService {
  /** Creates the execution unless one with the same id exists; returns the stored record either way. */
  readonly create: (
    execution: NewExecution
  ) => Effect.Effect<{ readonly record: ExecutionRecord; readonly created: boolean }, InvalidPayload | StorageError>
  readonly get: (id: string) => Effect.Effect<ExecutionRecord, ExecutionNotFound | StorageError>
  readonly list: (filter?: ListFilter) => Effect.Effect<ExecutionPage, InvalidCursor | StorageError>
  /**
   * Applies events, a journal entry, an approval answer and a status change
   * atomically: all of it is stored or none. Fails with `ExecutionFinished`
   * when the execution already has a terminal status, with `ExecutionNotOwned`
   * when `commit.owner` no longer holds it. Succeeds only once the commit is
   * stored. Returns the new `lastSeq`.
   */
  readonly commit: (id: string, commit: Commit) => Effect.Effect<number, CommitError>
  /**
   * Optional: `commit` for storages that can store at once, as a plain call.
   * It throws what `commit` would fail with. The engine uses it on the hot
   * path of every step when it is there.
   */
  readonly commitSync?: (id: string, commit: Commit) => number
  /**
   * Optional: takes a step's start to store later, with the execution's next
   * commit (in one transaction) or a microtask later, whichever comes first;
   * `written` is called when it is stored on its own. A payload that cannot
   * be stored is refused at once (it throws `InvalidPayload`); a failure to
   * store it later fails the execution's next commit.
   */
  readonly holdStart?: (id: string, commit: Commit, written: () => void) => void
  /** Events with `seq >= fromSeq`, in `seq` order, at most `limit` of them. */
  readonly events: (
    id: string,
    options: { readonly fromSeq: number; readonly limit: number }
  ) => Effect.Effect<ReadonlyArray<StoredEvent>, StorageError>
  readonly journal: (id: string) => Effect.Effect<ReadonlyArray<JournalEntry>, StorageError>
  /**
   * Makes `owner` the one process that runs the execution, until `leaseUntil`
   * (ms since the epoch). Succeeds with `false` when the execution has
   * finished or another owner's lease has not expired at `now`.
   */
  readonly claim: (
    id: string,
    owner: string,
    now: number,
    leaseUntil: number
  ) => Effect.Effect<boolean, StorageError>
  /** Extends the leases `owner` still holds on these executions; returns the ids it extended. */
  readonly renew: (
    owner: string,
    ids: ReadonlyArray<string>,
    leaseUntil: number
  ) => Effect.Effect<ReadonlyArray<string>, StorageError>
  /** Gives up `owner`'s lease, so another process may run the execution at once. */
  readonly release: (id: string, owner: string) => Effect.Effect<void, StorageError>
}

/** @internal */
export class ExecutionStorage extends Context.Tag("@token-ring/workflow/ExecutionStorage")<
  ExecutionStorage,
  ExecutionStorageService
>() {}

const encodeCursor = (record: ExecutionRecord): string => `${record.createdAt}:${record.id}`

const decodeCursor = (cursor: string): { readonly createdAt: number; readonly id: string } | undefined => {
  const at = cursor.indexOf(":")
  if (at <= 0) return undefined
  const createdAt = Number(cursor.slice(0, at))
  return Number.isFinite(createdAt) ? { createdAt, id: cursor.slice(at + 1) } : undefined
}

const statusFilter = (status: ListFilter["status"]): ReadonlySet<ExecutionStatus> | undefined =>
  status === undefined ? undefined : new Set(typeof status === "string" ? [status] : status)

const newestFirst = (a: ExecutionRecord, b: { readonly createdAt: number; readonly id: string }): number =>
  b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)

/**
 * One page of `list`, computed from all records in memory: for storages that
 * cannot filter and page themselves.
 *
 * @internal
 */
export const listPage = (
  records: Iterable<ExecutionRecord>,
  filter: ListFilter
): Effect.Effect<ExecutionPage, InvalidCursor> => {
  const after = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor)
  if (filter.cursor !== undefined && after === undefined) {
    return Effect.fail(new InvalidCursor({ cursor: filter.cursor }))
  }
  const statuses = statusFilter(filter.status)
  const limit = Math.max(1, filter.limit ?? 100)
  const matching: Array<ExecutionRecord> = []
  for (const record of records) {
    if (statuses !== undefined && !statuses.has(record.status)) continue
    if (filter.workflow !== undefined && record.workflow !== filter.workflow) continue
    if (after !== undefined && newestFirst(record, after) <= 0) continue
    matching.push(record)
  }
  matching.sort(newestFirst)
  const page = matching.slice(0, limit)
  return Effect.succeed(
    matching.length > limit ? { executions: page, cursor: encodeCursor(page[page.length - 1]!) } : { executions: page }
  )
}

/** The errors a commit fails with, as opposed to defects. @internal */
export type CommitError =
  | ExecutionNotFound
  | ExecutionFinished
  | ExecutionNotOwned
  | ApprovalNotPending
  | InvalidPayload
  | StorageError

/** @internal */
export const isCommitError = (error: unknown): error is CommitError =>
  error instanceof ExecutionNotFound || error instanceof ExecutionFinished || error instanceof ExecutionNotOwned ||
  error instanceof ApprovalNotPending || error instanceof InvalidPayload || error instanceof StorageError

/**
 * The `commit` of a storage that has `commitSync`: the same call as an Effect.
 *
 * @internal
 */
export const commitFromSync = (
  commitSync: (id: string, commit: Commit) => number
): ExecutionStorageService["commit"] =>
(id, commit) =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(commitSync(id, commit))
    } catch (error) {
      return isCommitError(error) ? Effect.fail(error) : Effect.die(error)
    }
  })
