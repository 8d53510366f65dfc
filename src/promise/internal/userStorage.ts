import { Effect, Layer } from "effect"
import type { ExecutionRecord, ExecutionStatus, ExecutionStorageService } from "../../ExecutionStorage.js"
import {
  ApprovalNotPending,
  ExecutionFinished,
  ExecutionNotFound,
  ExecutionStatus as ExecutionStatusSchema,
  ExecutionStorage,
  isTerminal,
  listPage,
  StorageError,
  writerFromCommit
} from "../../ExecutionStorage.js"
import type { StoredEvent } from "../../WorkflowEvent.js"
import type { StoredExecution, WorkflowExecutionStorage } from "../WorkflowExecutionStorage.js"

/** Statuses written by the original package's storages, read as ours. */
const legacyStatuses: Record<string, ExecutionStatus> = { started: "running", complete: "completed" }
const statuses = new Set<string>(ExecutionStatusSchema.literals)

/** A stored status as ours, or undefined when it is not one we know. */
const statusOf = (status: string): ExecutionStatus | undefined =>
  statuses.has(status) ? status as ExecutionStatus : legacyStatuses[status]

/**
 * The engine's storage over a user's `WorkflowExecutionStorage`. Every
 * operation reads and writes through it; commits are serialised so that the
 * events of one execution keep their order, and are not interrupted half-way.
 * A commit is only as atomic as the user's storage makes it: all checks
 * happen before the first write, but a process that dies between two writes
 * leaves the first.
 */
export const make = (storage: WorkflowExecutionStorage): Effect.Effect<ExecutionStorageService> =>
  Effect.gen(function*() {
    const writes = yield* Effect.makeSemaphore(1)
    const call = <A>(operation: string, f: () => Promise<A>) =>
      Effect.tryPromise({
        try: f,
        catch: (cause) =>
          new StorageError({ operation, reason: cause instanceof Error ? cause.message : String(cause), cause })
      })

    const toRecord = (execution: StoredExecution) =>
      Effect.suspend(() => {
        const status = statusOf(execution.status)
        if (status === undefined) {
          return Effect.fail(
            new StorageError({
              operation: "load",
              reason: `execution "${execution.id}" has unknown status "${execution.status}"`
            })
          )
        }
        const record: ExecutionRecord = {
          id: execution.id,
          workflow: execution.workflowId,
          input: execution.input,
          status,
          createdAt: execution.createdAt ?? 0,
          updatedAt: execution.updatedAt ?? execution.createdAt ?? 0,
          lastSeq: execution.events.length,
          ...(execution.parentId !== undefined ? { parent: execution.parentId } : {}),
          ...(execution.output !== undefined ? { output: execution.output } : {}),
          ...(execution.error !== undefined ? { error: execution.error } : {})
        }
        return Effect.succeed(record)
      })

    const load = (id: string) =>
      Effect.flatMap(
        call("load", () => storage.loadExecution(id)),
        (execution) =>
          execution === null ? Effect.fail(new ExecutionNotFound({ executionId: id })) : Effect.succeed(execution)
      )

    const get = (id: string) =>
      Effect.flatMap(load(id), (execution) =>
        execution.error === undefined && execution.status === "failed"
          ? Effect.flatMap(call("load error", () => storage.loadError(id)), (error) =>
            toRecord(error === undefined ? execution : { ...execution, error }))
          : toRecord(execution))

    // Uninterruptible: once the first write is made, the rest of the commit is made too.
    const commit: ExecutionStorageService["commit"] = (id, commit) =>
      Effect.uninterruptible(
        writes.withPermits(1)(Effect.gen(function*() {
          const execution = yield* load(id)
          const record = yield* toRecord(execution)
          if (isTerminal(record.status)) {
            return yield* new ExecutionFinished({ executionId: id, status: record.status })
          }
          const journal = yield* call("load journal", () => storage.loadJournal(id))
          const answered = commit.answer === undefined ?
            undefined :
            journal.find((entry) =>
              entry.kind === "approval" && entry.taskId === commit.answer!.taskId && entry.state === "waiting"
            )
          if (commit.answer !== undefined && answered === undefined) {
            return yield* new ApprovalNotPending({ executionId: id, taskId: commit.answer.taskId })
          }
          let seq = record.lastSeq
          for (const event of commit.events ?? []) {
            const stored = { ...event, workflowInstanceId: id, seq: ++seq } as StoredEvent
            yield* call("append event", () => storage.appendEvent(id, stored))
          }
          if (answered !== undefined) {
            const completed = {
              ...answered,
              state: "completed" as const,
              result: { _tag: "Success" as const, value: commit.answer!.value }
            }
            yield* call("save journal entry", () => storage.saveJournalEntry(id, completed))
          }
          if (commit.journal !== undefined) {
            const entry = commit.journal
            yield* call("save journal entry", () => storage.saveJournalEntry(id, entry))
          }
          if (commit.output !== undefined) yield* call("store output", () => storage.storeOutput(id, commit.output))
          if (commit.error !== undefined) yield* call("store error", () => storage.storeError(id, commit.error!))
          if (commit.status !== undefined && commit.status !== record.status) {
            yield* call("update status", () => storage.updateStatus(id, commit.status!))
          }
          return seq
        }))
      )

    const service: ExecutionStorageService = {
      create: (execution) =>
        writes.withPermits(1)(
          Effect.flatMap(call("load", () => storage.loadExecution(execution.id)), (existing) =>
            existing !== null
              ? Effect.map(toRecord(existing), (record) => ({ record, created: false }))
              : call("create", async () => {
                await storage.createExecution({
                  id: execution.id,
                  workflowId: execution.workflow,
                  input: execution.input,
                  status: execution.status,
                  ...(execution.parent !== undefined ? { parentId: execution.parent } : {})
                })
                await storage.rememberExecution(execution.id)
              }).pipe(Effect.zipRight(get(execution.id)), Effect.map((record) => ({ record, created: true })))).pipe(
              Effect.catchTag("ExecutionNotFound", (error) =>
                Effect.fail(
                  new StorageError({ operation: "create", reason: `${error.message} right after creating it` })
                ))
            )
        ),

      get,

      list: (filter = {}) =>
        Effect.flatMap(
          call("list", () => storage.listExecutions()),
          (executions) => Effect.flatMap(Effect.forEach(executions, toRecord), (records) => listPage(records, filter))
        ),

      commit,

      writer: writerFromCommit(commit),

      events: (id, { fromSeq, limit }) =>
        Effect.map(
          call("load", () => storage.loadExecution(id)),
          (execution) =>
            (execution?.events ?? []).slice(Math.max(0, fromSeq - 1), Math.max(0, fromSeq - 1) + limit).map((
              event,
              i
            ) => ({
              ...event,
              workflowInstanceId: id,
              seq: event.seq ?? fromSeq + i
            }))
        ),

      journal: (id) => call("load journal", () => storage.loadJournal(id)),

      // A user's storage has no way to record an owner: executions are taken as owned by this process,
      // which is right as long as one process uses the storage at a time.
      claim: (id) =>
        Effect.map(
          call("load", () => storage.loadExecution(id)),
          (execution) => execution !== null && !isTerminal(statusOf(execution.status) ?? "failed")
        ),
      renew: (_owner, ids) => Effect.succeed(ids),
      release: () => Effect.void
    }
    return service
  })

export const layer = (storage: WorkflowExecutionStorage): Layer.Layer<ExecutionStorage> =>
  Layer.effect(ExecutionStorage, make(storage))
