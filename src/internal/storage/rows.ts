/**
 * Rows read back from the SQL storages' tables, decoded at once: a page of
 * rows is one Effect (`decodeWith`), not one per row. A row that does not
 * decode throws the `StorageError` naming it.
 */
import type * as Effect from "effect/Effect"
import type { Mutable } from "effect/Types"
import type { ExecutionRecord, ExecutionStatus as Status, JournalEntry } from "../../ExecutionStorage.js"
import type { StoredEvent } from "../../WorkflowEvent.js"
import { decodeWith, parseStored } from "./payload.js"
import { ExecutionStatus, StorageError } from "./service.js"

const statuses = new Set<string>(ExecutionStatus.literals)

export interface ExecutionRow {
  readonly id: string
  readonly workflow: string
  readonly input: string
  readonly status: string
  readonly output: string | null
  readonly error: string | null
  readonly created_at: number | string
  readonly updated_at: number | string
  readonly last_seq: number | string
  /** While it runs: the last seq of its log, and the time of its last event (`recordColumns`). */
  readonly logged_seq?: number | string | null
  readonly logged_at?: number | string | null
  readonly lease_until?: number | string | null
  readonly parent?: string | null
  readonly queue?: string | null
  readonly waiting_for?: string | null
  readonly wake_at?: number | string | null
  readonly awaited_by_parent?: number | string | null
  readonly workflow_version?: string | null
}

export interface JournalRow {
  readonly key: string
  readonly name: string
  readonly kind: string
  readonly state: string
  readonly task_id: string | null
  readonly result: string | null
  readonly wake_at: number | string | null
}

/** An execution's row read back; throws a `StorageError` (`parseStored`) when it does not decode. */
export const recordOf = (row: ExecutionRow): ExecutionRecord => {
  if (!statuses.has(row.status)) {
    throw new StorageError({
      operation: "decode",
      reason: `execution "${row.id}" has unknown status "${row.status}"`
    })
  }
  const input = parseStored(() => `the input of execution "${row.id}"`, row.input)
  const output = parseStored(() => `the output of execution "${row.id}"`, row.output)
  const error = parseStored(() => `the error of execution "${row.id}"`, row.error)
  return {
    id: row.id,
    workflow: row.workflow,
    input,
    status: row.status as Status,
    createdAt: Number(row.created_at),
    updatedAt: Math.max(Number(row.updated_at), Number(row.logged_at ?? 0)),
    lastSeq: Math.max(Number(row.last_seq), Number(row.logged_seq ?? 0)),
    ...(row.status === "running" && row.lease_until !== null && row.lease_until !== undefined
      ? { leaseUntil: Number(row.lease_until) }
      : {}),
    ...(row.parent !== null && row.parent !== undefined ? { parent: row.parent } : {}),
    ...(Number(row.awaited_by_parent ?? 0) === 1 ? { awaitedByParent: true } : {}),
    ...(row.workflow_version !== null && row.workflow_version !== undefined ? { version: row.workflow_version } : {}),
    ...(row.queue !== null && row.queue !== undefined ? { queue: row.queue } : {}),
    ...(row.status === "waiting" && row.waiting_for !== null && row.waiting_for !== undefined
      ? { waitingFor: row.waiting_for }
      : {}),
    ...(row.status === "waiting" && row.wake_at !== null && row.wake_at !== undefined
      ? { wakeAt: Number(row.wake_at) }
      : {}),
    ...(output !== undefined ? { output } : {}),
    ...(error !== undefined ? { error: error as ExecutionRecord["error"] & {} } : {})
  }
}

export const toRecord = (row: ExecutionRow): Effect.Effect<ExecutionRecord, StorageError> =>
  decodeWith(() => recordOf(row))

/** A journal row read back; throws (`parseStored`) when its result is not JSON. */
export const toJournalEntry = (executionId: string, row: JournalRow): JournalEntry => {
  const result = parseStored(() => `the journal entry "${row.key}" of execution "${executionId}"`, row.result)
  return {
    key: row.key,
    name: row.name,
    kind: row.kind as JournalEntry["kind"],
    state: row.state as JournalEntry["state"],
    ...(row.task_id !== null ? { taskId: row.task_id } : {}),
    ...(row.wake_at !== null ? { wakeAt: Number(row.wake_at) } : {}),
    ...(result !== undefined ? { result: result as JournalEntry["result"] & {} } : {})
  }
}

/**
 * An event row (`seq`, `payload`) of execution `id` read back: its payload, parsed here and so a copy of
 * its own, is stamped in place (a spread of it cost more than parsing it).
 */
export const eventOf = (id: string, row: Record<string, unknown>): StoredEvent => {
  const seq = Number(row.seq)
  const what = () => `event ${seq} of execution "${id}"`
  const payload = parseStored(what, row.payload as string)
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new StorageError({ operation: "decode", reason: `${what()} is not a JSON object` })
  }
  const event = payload as Mutable<StoredEvent>
  event.workflowInstanceId = id
  event.seq = seq
  return event
}
