/**
 * An execution as the memory storage keeps it: a mutable entry, and the snapshots readers get of it.
 */
import type {
  ExecutionRecord,
  ExecutionStatus,
  InboxSignal,
  JournalEntry,
  NewExecution
} from "../../ExecutionStorage.js"
import type { ErrorInfo, StoredEvent } from "../../WorkflowEvent.js"
import { thaw } from "./payload.js"

/** Mutable on purpose: a commit updates the entry in place, and readers get snapshots. */
export interface Entry {
  readonly id: string
  readonly workflow: string
  readonly input: unknown
  readonly parent: string | undefined
  readonly awaitedByParent: boolean
  readonly version: string | undefined
  readonly createdAt: number
  status: ExecutionStatus
  output: unknown
  error: ErrorInfo | undefined
  updatedAt: number
  lastSeq: number
  owner: string | undefined
  leaseUntil: number
  readonly queue: string | undefined
  readonly priority: number
  readonly dedupKey: string | undefined
  /** When a worker claimed it from its queue (rate limits count those). */
  startedAt: number | undefined
  /** While waiting: what for, and until when. */
  waitingFor: string | undefined
  wakeAt: number | undefined
  /** Signals sent, in the order sent; once received, the key of the entry that received it ("" if skipped). */
  readonly inbox: Array<InboxSignal & { receivedBy: string | undefined }>
  readonly events: Array<StoredEvent>
  readonly journal: Journal
}

/**
 * An entry's journal by key. A commit appends its entry (most journal one: a step's start or end, on every
 * step's path); the map by key takes in what was appended when it is next read. A push costs a run of steps
 * next to nothing, a set into a map of thousands of keys about as much as the rest of the commit, and a
 * running execution's journal is read only when it suspends, forks or is answered. Until then an entry
 * replaces the one appended just before it at the same key (a step's end, its start), so a run of steps
 * keeps one per step; one replaced later (by parallel branches) is kept until the map is built.
 */
export class Journal {
  private readonly byKey = new Map<string, JournalEntry>()
  private appended: Array<JournalEntry> = []

  /** The entry at its key from now on (a later one at the same key replaces it). */
  set(entry: JournalEntry): void {
    const last = this.appended.length - 1
    if (last >= 0 && this.appended[last]!.key === entry.key) this.appended[last] = entry
    else this.appended.push(entry)
  }

  get(key: string): JournalEntry | undefined {
    return this.settled().get(key)
  }

  /** The entries, each key once, in the order its first entry was appended. */
  values(): IterableIterator<JournalEntry> {
    return this.settled().values()
  }

  private settled(): Map<string, JournalEntry> {
    if (this.appended.length > 0) {
      for (const entry of this.appended) this.byKey.set(entry.key, entry)
      this.appended = []
    }
    return this.byKey
  }
}

export const snapshot = (entry: Entry): ExecutionRecord => {
  const record: {
    -readonly [K in keyof ExecutionRecord]: ExecutionRecord[K]
  } = {
    id: entry.id,
    workflow: entry.workflow,
    // Copies: a caller changing what it read changes nothing stored (as on SQL storages).
    input: thaw(entry.input),
    status: entry.status,
    createdAt: entry.createdAt,
    updatedAt: entry.updatedAt,
    lastSeq: entry.lastSeq
  }
  if (entry.owner !== undefined && entry.status === "running") record.leaseUntil = entry.leaseUntil
  if (entry.parent !== undefined) record.parent = entry.parent
  if (entry.awaitedByParent) record.awaitedByParent = true
  if (entry.version !== undefined) record.version = entry.version
  if (entry.queue !== undefined) record.queue = entry.queue
  if (entry.status === "waiting") {
    if (entry.waitingFor !== undefined) record.waitingFor = entry.waitingFor
    if (entry.wakeAt !== undefined) record.wakeAt = entry.wakeAt
  }
  if (entry.output !== undefined) record.output = thaw(entry.output)
  if (entry.error !== undefined) record.error = thaw(entry.error)
  return record
}

/** A new execution's entry, with its input as checked. */
export const newEntry = (execution: NewExecution, input: unknown, now: number): Entry => ({
  id: execution.id,
  workflow: execution.workflow,
  input,
  parent: execution.parent,
  awaitedByParent: execution.parent !== undefined && execution.awaitedByParent === true,
  version: execution.version,
  createdAt: now,
  status: execution.status,
  output: undefined,
  error: undefined,
  updatedAt: now,
  lastSeq: 0,
  owner: execution.claim?.owner,
  leaseUntil: execution.claim === undefined ? 0 : now + execution.claim.leaseMs,
  queue: execution.queue,
  priority: Math.trunc(execution.priority ?? 0),
  dedupKey: execution.dedupKey,
  startedAt: undefined,
  waitingFor: undefined,
  wakeAt: undefined,
  inbox: [],
  events: [],
  journal: new Journal()
})
