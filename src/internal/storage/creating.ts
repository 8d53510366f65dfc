/**
 * Creating an execution in the SQL storages: one insert (claimed, queued or
 * deduplicated as asked), shared by the three drivers, each running it on
 * its own connection.
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Commit, ExecutionRecord, NewExecution } from "../../ExecutionStorage.js"
import type { Dialect, Query, Rows } from "./commitProgram.js"
import { dbNow } from "./commitProgram.js"
import type { EncodedCommit } from "./payload.js"
import { encodeSync, inputWhat } from "./payload.js"
import type { ExecutionNotFound, InvalidPayload } from "./service.js"
import { isTerminal, StorageError } from "./service.js"
import { nextLogKey } from "./sqliteLog.js"

/** A lease's length as the statements take it: whole ms, and at most 0 for one that has already expired. */
export const leaseLength = (leaseMs: number): number =>
  Number.isFinite(leaseMs) ? Math.trunc(leaseMs) : leaseMs > 0 ? 2 ** 52 : 0

const insertTexts: Record<Dialect, Array<string>> = { pg: [], sqlite: [] }

/** The key of a new execution's log, on SQLite (sqliteLog.ts): a column and its value, to append. */
export const logKeyColumn: Record<Dialect, string> = { pg: "", sqlite: ", log_key" }
export const logKeyValue: Record<Dialect, string> = { pg: "", sqlite: `, ${nextLogKey}` }

/**
 * The insert of a new execution, `?` placeholders: nothing when one with its id exists (insert-or-ignore
 * keeps start idempotent when two callers use one id at once), or an unfinished one with its queue and
 * deduplication key; else a row with the lease it was claimed with, if any (set on the database's clock).
 */
const insertExecution = (dialect: Dialect, execution: NewExecution, input: string, at: number): Query => {
  const claim = execution.claim
  const deduplicated = execution.dedupKey !== undefined
  const text = insertTexts[dialect][(claim === undefined ? 0 : 1) + (deduplicated ? 2 : 0)] ??=
    `insert into workflow_executions
      (id, workflow, input, status, created_at, updated_at, last_seq, parent, awaited_by_parent, workflow_version,
       queue, priority, dedup_key, owner, lease_until${logKeyColumn[dialect]})
    values (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ${claim === undefined ? "null" : `${dbNow[dialect]} + ?`}${
      logKeyValue[dialect]
    })
    on conflict ${deduplicated ? "" : "(id) "}do nothing
    returning lease_until`
  const params = [execution.id, execution.workflow, input, execution.status, at, at, execution.parent ?? null]
  params.push(execution.parent !== undefined && execution.awaitedByParent === true ? 1 : 0, execution.version ?? null)
  params.push(execution.queue ?? null, Math.trunc(execution.priority ?? 0), execution.dedupKey ?? null)
  params.push(claim?.owner ?? null)
  if (claim !== undefined) params.push(leaseLength(claim.leaseMs))
  return { text, params }
}

/**
 * The record of a new execution created at `at`, as a read would give it: `input` is its stored input read
 * back, `leaseUntil` the lease it was claimed with, if any.
 */
export const newRecord = (
  execution: NewExecution,
  input: unknown,
  at: number,
  leaseUntil?: number
): ExecutionRecord => ({
  id: execution.id,
  workflow: execution.workflow,
  input,
  status: execution.status,
  createdAt: at,
  updatedAt: at,
  lastSeq: 0,
  ...(leaseUntil !== undefined ? { leaseUntil } : {}),
  ...(execution.parent !== undefined ? { parent: execution.parent } : {}),
  ...(execution.parent !== undefined && execution.awaitedByParent === true ? { awaitedByParent: true } : {}),
  ...(execution.version !== undefined ? { version: execution.version } : {}),
  ...(execution.queue !== undefined ? { queue: execution.queue } : {})
})

/** The input of a new execution as stored; throws `InvalidPayload` when it cannot be. */
const storedInput = (execution: NewExecution): string => encodeSync(inputWhat(execution.id), execution.input, "input")

/** A new execution claimed for the run that writes it, to be created with its writer's first write. */
export interface Creation {
  readonly execution: NewExecution
  /** Its input, as stored. */
  readonly input: string
  /** When it was created (`created_at`). */
  readonly at: number
}

/** The creation of `execution` at `at`; throws `InvalidPayload` when its input cannot be stored. */
export const creation = (execution: NewExecution, at: number): Creation => ({
  execution,
  input: storedInput(execution),
  at
})

/**
 * The creation and its first commit as one insert (PostgreSQL's single statement, in place of the
 * commit's `update`): the row as the commit leaves it, answering as the update does (`last_seq`, `queue`,
 * `followed_until`), and nothing when the id is taken.
 */
export const createdAsCommitted = (
  { at, execution, input }: Creation,
  commit: Commit,
  encoded: EncodedCommit,
  now: number
): Query => {
  // An end releases the lease it was created with, as the update's does.
  const held = execution.claim !== undefined && !(commit.status !== undefined && isTerminal(commit.status))
  const waiting = commit.status === undefined ? undefined : commit.wait
  return {
    text: `insert into workflow_executions
        (id, workflow, input, status, created_at, updated_at, last_seq, parent, awaited_by_parent, workflow_version,
         owner, lease_until, waiting_for, wake_at, output, error)
      values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${held ? `${dbNow.pg} + ?` : "?"}, ?, ?, ?, ?)
      on conflict (id) do nothing
      returning last_seq, queue, followed_until`,
    params: [
      execution.id,
      execution.workflow,
      input,
      commit.status ?? execution.status,
      at,
      now,
      encoded.events.length,
      execution.parent ?? null,
      execution.parent !== undefined && execution.awaitedByParent === true ? 1 : 0,
      execution.version ?? null,
      held ? execution.claim!.owner : null,
      held ? leaseLength(execution.claim!.leaseMs) : null,
      waiting?.for ?? null,
      waiting?.wakeAt ?? null,
      encoded.output,
      encoded.error
    ]
  }
}

/** The insert of a creation, as a statement of its own, before its first commit in the same transaction. */
export const creationQuery = (dialect: Dialect, { at, execution, input }: Creation): Query =>
  insertExecution(dialect, execution, input, at)

/** The insert, notifying `notice` on `channel` when it inserts (PostgreSQL; see pgNotices.ts). */
const insertNotifying = (insert: Query, notice: { readonly channel: string; readonly payload: string }): Query => ({
  text: `with inserted as (${insert.text}), notified as (select pg_notify(?, ?) from inserted)
    select lease_until from inserted, (select count(*) from notified) as sent`,
  params: [...insert.params, notice.channel, notice.payload]
})

/** The unfinished execution holding a queue's deduplication key, if any. */
const holderOf = (queue: string | undefined, key: string): Query => ({
  text: `select id from workflow_executions
          where queue ${queue === undefined ? "is null" : "= ?"} and dedup_key = ?
            and status in ('created', 'running', 'waiting')`,
  params: queue === undefined ? [key] : [queue, key]
})

/**
 * `create` over a way to run one statement, shared by the storages (each runs it on its own driver). The
 * record of a new execution is built from what was inserted, without reading it back; its input is a copy
 * of the stored text, as a read would give.
 */
export const creating = <E>(
  dialect: Dialect,
  clock: Clock.Clock,
  execute: (query: Query) => Effect.Effect<Rows, E>,
  get: (id: string) => Effect.Effect<ExecutionRecord, ExecutionNotFound | StorageError>,
  /** What a new queued execution notifies, if anything (workers waiting for work hear of it). */
  queuedNotice?: (execution: NewExecution) => { readonly channel: string; readonly payload: string } | undefined
): (execution: NewExecution) => Effect.Effect<
  { readonly record: ExecutionRecord; readonly created: boolean; readonly claimed?: boolean },
  InvalidPayload | StorageError
> =>
(execution) =>
  Effect.gen(function*() {
    const input = yield* Effect.try({ try: () => storedInput(execution), catch: (error) => error as InvalidPayload })
    const run = (query: Query) =>
      execute(query).pipe(
        Effect.mapError((cause) =>
          new StorageError({
            operation: "create",
            reason: cause instanceof Error ? cause.message : String(cause),
            cause
          })
        )
      )
    const at = clock.unsafeCurrentTimeMillis()
    const insert = insertExecution(dialect, execution, input, at)
    const notice = execution.queue === undefined ? undefined : queuedNotice?.(execution)
    const [inserted] = yield* run(notice === undefined ? insert : insertNotifying(insert, notice))
    if (inserted !== undefined) {
      const leaseUntil = inserted.lease_until
      const record = newRecord(
        execution,
        JSON.parse(input),
        at,
        execution.status === "running" && leaseUntil !== null && leaseUntil !== undefined
          ? Number(leaseUntil)
          : undefined
      )
      return { record, created: true, claimed: execution.claim !== undefined }
    }
    const key = execution.dedupKey
    if (key !== undefined) {
      // Not inserted: its id is taken, or its key is held; the holder may have finished since (then again).
      const found = (id: string) =>
        get(id).pipe(Effect.map(Option.some), Effect.catchTag("ExecutionNotFound", () => Effect.succeedNone))
      const existing = yield* found(execution.id)
      if (Option.isSome(existing)) return { record: existing.value, created: false }
      const [holder] = yield* run(holderOf(execution.queue, key))
      const held = holder === undefined ? Option.none() : yield* found(String(holder.id))
      if (Option.isSome(held)) return { record: held.value, created: false }
      return yield* creating(dialect, clock, execute, get, queuedNotice)(execution)
    }
    const record = yield* get(execution.id).pipe(
      Effect.catchTag("ExecutionNotFound", () =>
        new StorageError({ operation: "create", reason: `execution "${execution.id}" vanished after its insert` }))
    )
    return { record, created: false }
  })
