/**
 * The ephemeral storage: everything lives in this process and is gone when it
 * exits. Payloads are kept by reference, not copied.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import {
  ApprovalNotPending,
  decodeCursor,
  encodeCursor,
  ExecutionFinished,
  ExecutionNotFound,
  ExecutionStorage,
  InvalidCursor,
  isTerminal,
  statusFilter
} from "../internal/executionStorage.js"
import type { ExecutionRecord, ExecutionStorageService, JournalEntry } from "../internal/executionStorage.js"
import type { StoredEvent } from "../WorkflowEvent.js"

interface Entry {
  record: ExecutionRecord
  readonly events: Array<StoredEvent>
  readonly journal: Map<string, JournalEntry>
}

const newestFirst = (a: ExecutionRecord, b: ExecutionRecord): number =>
  b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<ExecutionStorageService> = Effect.gen(function*() {
  const clock = yield* Effect.clock
  const entries = new Map<string, Entry>()
  const find = (id: string) => {
    const entry = entries.get(id)
    return entry === undefined ? Effect.fail(new ExecutionNotFound({ executionId: id })) : Effect.succeed(entry)
  }

  const service: ExecutionStorageService = {
    create: (execution) =>
      Effect.sync(() => {
        const existing = entries.get(execution.id)
        if (existing !== undefined) return { record: existing.record, created: false }
        const now = clock.unsafeCurrentTimeMillis()
        const record: ExecutionRecord = { ...execution, createdAt: now, updatedAt: now, lastSeq: 0 }
        entries.set(execution.id, { record, events: [], journal: new Map() })
        return { record, created: true }
      }),

    get: (id) => Effect.map(find(id), (entry) => entry.record),

    list: (filter = {}) =>
      Effect.suspend(() => {
        const after = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor)
        if (filter.cursor !== undefined && after === undefined) {
          return Effect.fail(new InvalidCursor({ cursor: filter.cursor }))
        }
        const statuses = statusFilter(filter.status)
        const limit = Math.max(1, filter.limit ?? 100)
        const matching: Array<ExecutionRecord> = []
        for (const { record } of entries.values()) {
          if (statuses !== undefined && !statuses.has(record.status)) continue
          if (filter.workflow !== undefined && record.workflow !== filter.workflow) continue
          if (after !== undefined && newestFirst(record, { ...record, ...after }) <= 0) continue
          matching.push(record)
        }
        matching.sort(newestFirst)
        const page = matching.slice(0, limit)
        return Effect.succeed(
          matching.length > limit ? { executions: page, cursor: encodeCursor(page[page.length - 1]!) } : {
            executions: page
          }
        )
      }),

    commit: (id, commit) =>
      Effect.flatMap(find(id), (entry): Effect.Effect<number, ExecutionFinished | ApprovalNotPending> => {
        const record = entry.record
        if (isTerminal(record.status)) {
          return Effect.fail(new ExecutionFinished({ executionId: id, status: record.status }))
        }
        let answered: JournalEntry | undefined
        if (commit.answer !== undefined) {
          const taskId = commit.answer.taskId
          for (const journaled of entry.journal.values()) {
            if (journaled.kind === "approval" && journaled.taskId === taskId && journaled.state === "waiting") {
              answered = journaled
              break
            }
          }
          if (answered === undefined) return Effect.fail(new ApprovalNotPending({ executionId: id, taskId }))
        }
        // Every check has passed: from here on the commit cannot fail, so it is all-or-nothing.
        let seq = record.lastSeq
        if (commit.events !== undefined) {
          for (const event of commit.events) {
            entry.events.push({ ...event, workflowInstanceId: id, seq: ++seq })
          }
        }
        if (answered !== undefined) {
          entry.journal.set(answered.key, {
            ...answered,
            state: "completed",
            result: { _tag: "Success", value: commit.answer!.value }
          })
        }
        if (commit.journal !== undefined) entry.journal.set(commit.journal.key, commit.journal)
        entry.record = {
          ...record,
          status: commit.status ?? record.status,
          ...(commit.output !== undefined ? { output: commit.output } : {}),
          ...(commit.error !== undefined ? { error: commit.error } : {}),
          updatedAt: clock.unsafeCurrentTimeMillis(),
          lastSeq: seq
        }
        return Effect.succeed(seq)
      }),

    events: (id, { fromSeq, limit }) =>
      Effect.sync(() => {
        const events = entries.get(id)?.events
        if (events === undefined) return []
        const start = Math.max(0, fromSeq - 1)
        return events.slice(start, start + limit)
      }),

    journal: (id) => Effect.sync(() => Array.from(entries.get(id)?.journal.values() ?? []))
  }
  return service
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<ExecutionStorage> = Layer.effect(ExecutionStorage, make)
