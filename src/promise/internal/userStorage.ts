import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type {
  Commit,
  ExecutionRecord,
  ExecutionStatus,
  ExecutionStorageService,
  NewExecution
} from "../../ExecutionStorage.js"
import {
  ApprovalNotPending,
  checkInput,
  checkPayloads,
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

const call = <A>(operation: string, f: () => Promise<A>) =>
  Effect.tryPromise({
    try: f,
    catch: (cause) =>
      new StorageError({ operation, reason: cause instanceof Error ? cause.message : String(cause), cause })
  })

/** A stored execution as the engine's record; an unknown status is a storage error. */
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

const load = (storage: WorkflowExecutionStorage, id: string) =>
  Effect.flatMap(
    call("load", () => storage.loadExecution(id)),
    (execution) =>
      execution === null ? Effect.fail(new ExecutionNotFound({ executionId: id })) : Effect.succeed(execution)
  )

/** The record of an execution, with its error read by `loadError` when the execution row has none. */
const get = (storage: WorkflowExecutionStorage, id: string) =>
  Effect.flatMap(load(storage, id), (execution) =>
    execution.error === undefined && execution.status === "failed"
      ? Effect.flatMap(call("load error", () => storage.loadError(id)), (error) =>
        toRecord(error === undefined ? execution : { ...execution, error }))
      : toRecord(execution))

/**
 * A commit as calls of the user's storage: every check first (finished,
 * approval pending), then the writes in order: events, journal, output,
 * error, status. Returns the last `seq`.
 */
const commitTo = (storage: WorkflowExecutionStorage, id: string, given: Commit) =>
  Effect.gen(function*() {
    // Held to the JSON contract of every storage: a replay sees what the first run saw.
    const commit = yield* checkPayloads(id, given)
    const record = yield* toRecord(yield* load(storage, id))
    if (isTerminal(record.status)) {
      return yield* new ExecutionFinished({ executionId: id, status: record.status })
    }
    const answer = commit.answer
    const journal = yield* call("load journal", () => storage.loadJournal(id))
    const answered = answer === undefined ?
      undefined :
      journal.find((entry) => entry.kind === "approval" && entry.taskId === answer.taskId && entry.state === "waiting")
    if (answer !== undefined && answered === undefined) {
      return yield* new ApprovalNotPending({ executionId: id, taskId: answer.taskId })
    }
    const waitingFor = commit.waitingFor
    if (waitingFor !== undefined && journal.find((entry) => entry.key === waitingFor.key)?.state !== "waiting") {
      return yield* new ApprovalNotPending({ executionId: id, taskId: waitingFor.taskId })
    }
    let seq = record.lastSeq
    for (const event of commit.events ?? []) {
      const stored = { ...event, workflowInstanceId: id, seq: ++seq } as StoredEvent
      yield* call("append event", () => storage.appendEvent(id, stored))
    }
    const entries = [
      ...(answered !== undefined && answer !== undefined
        ? [{ ...answered, state: "completed" as const, result: { _tag: "Success" as const, value: answer.value } }]
        : []),
      ...(commit.journal !== undefined ? [commit.journal] : [])
    ]
    for (const entry of entries) yield* call("save journal entry", () => storage.saveJournalEntry(id, entry))
    if (commit.output !== undefined) yield* call("store output", () => storage.storeOutput(id, commit.output))
    const error = commit.error
    if (error !== undefined) yield* call("store error", () => storage.storeError(id, error))
    const status = commit.status
    if (status !== undefined && status !== record.status) {
      yield* call("update status", () => storage.updateStatus(id, status))
    }
    return seq
  })

/** Creates the execution unless one with its id exists (then returns that one, not created). */
const create = (storage: WorkflowExecutionStorage, execution: NewExecution) =>
  Effect.flatMap(call("load", () => storage.loadExecution(execution.id)), (existing) =>
    existing !== null
      ? Effect.map(toRecord(existing), (record) => ({ record, created: false }))
      : Effect.flatMap(checkInput(execution.id, execution.input), (input) =>
        call("create", async () => {
          await storage.createExecution({
            id: execution.id,
            workflowId: execution.workflow,
            input,
            status: execution.status,
            ...(execution.parent !== undefined ? { parentId: execution.parent } : {})
          })
          await storage.rememberExecution(execution.id)
        })).pipe(Effect.zipRight(get(storage, execution.id)), Effect.map((record) => ({ record, created: true }))))
    .pipe(
      Effect.catchTag("ExecutionNotFound", (error) =>
        Effect.fail(
          new StorageError({ operation: "create", reason: `${error.message} right after creating it` })
        ))
    )

/**
 * The engine's storage over a user's `WorkflowExecutionStorage`. Every
 * operation reads and writes through it; commits are serialised so that the
 * events of one execution keep their order, and are not interrupted half-way.
 * A commit is only as atomic as the user's storage makes it: all checks
 * happen before the first write, but a process that dies between two writes
 * leaves the first.
 */
export const make = (storage: WorkflowExecutionStorage): Effect.Effect<ExecutionStorageService> =>
  Effect.map(Effect.makeSemaphore(1), (writes) => {
    // Uninterruptible: once the first write is made, the rest of the commit is made too.
    const commit: ExecutionStorageService["commit"] = (id, commit) =>
      Effect.uninterruptible(writes.withPermits(1)(commitTo(storage, id, commit)))
    const service: ExecutionStorageService = {
      create: (execution) => writes.withPermits(1)(create(storage, execution)),
      get: (id) => get(storage, id),
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
