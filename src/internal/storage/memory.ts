/**
 * The ephemeral storage: everything lives in this process and is gone when it
 * exits. Payloads are stored as copies, refused where JSON could not hold them
 * as they are: a run on memory sees what a run on SQLite would. A run's writer commits
 * synchronously, with no Effect per commit.
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Mutable } from "effect/Types"
import type {
  Commit,
  ExecutionStorageService,
  ForkRequest,
  JournalEntry,
  QueueClaim,
  QueueClaimed,
  QueueLimits,
  WakeClaim,
  WakeClaimed
} from "../../ExecutionStorage.js"
import type { StoredEvent } from "../../WorkflowEvent.js"
import * as Forking from "./forking.js"
import { listPage } from "./listing.js"
import type { Entry } from "./memoryEntry.js"
import { newEntry, snapshot } from "./memoryEntry.js"
import { memoryScheduleStore } from "./memorySchedules.js"
import { checkCommit, faithful, thaw } from "./payload.js"
import {
  ApprovalNotPending,
  ExecutionFinished,
  ExecutionNotFound,
  ExecutionNotOwned,
  ExecutionStorage,
  isCommitError,
  isTerminal,
  SignalPending
} from "./service.js"
import type { InvalidPayload } from "./service.js"
import * as Writer from "./writer.js"

/** Queues in memory: as the SQL storages keep them (queueProgram.ts), each claim in one synchronous step. */
const memoryQueues = (entries: Map<string, Entry>, clock: Clock.Clock) => {
  /** The unfinished execution of `queue` holding the deduplication key, if any. */
  const holderOf = (queue: string | undefined, key: string | undefined) => {
    if (key === undefined) return undefined
    for (const entry of entries.values()) {
      if (entry.dedupKey === key && entry.queue === queue && !isTerminal(entry.status)) return entry
    }
    return undefined
  }

  const limits = new Map<string, QueueLimits>()

  const claimQueued = ({ leaseMs, limit, owner, queue, workflows }: QueueClaim): QueueClaimed => {
    const now = clock.unsafeCurrentTimeMillis()
    const inQueue = Array.from(entries.values()).filter((entry) => entry.queue === queue)
    const stored = limits.get(queue)
    let room = Math.max(0, Math.floor(limit))
    let retryInMs: number | undefined
    if (stored?.concurrency !== undefined) {
      const active = inQueue.filter((entry) => entry.status === "running" || entry.status === "waiting").length
      room = Math.min(room, stored.concurrency - active)
    }
    const rate = stored?.rateLimit
    if (room > 0 && rate !== undefined) {
      const started = inQueue.flatMap((entry) =>
        entry.startedAt !== undefined && entry.startedAt > now - rate.periodMs ? [entry.startedAt] : []
      )
      const free = rate.limit - started.length
      // Cut short by the rate: more may be claimed once the oldest claim leaves the window.
      // (With none in the window, the ones claimed now leave it a period from now.)
      if (free < room) {
        retryInMs = started.length > 0 ? Math.max(1, Math.min(...started) + rate.periodMs - now) : rate.periodMs
      }
      room = Math.min(room, free)
    }
    const runnable = new Set(workflows)
    const claimed = inQueue
      .filter((entry) => entry.status === "created" && runnable.has(entry.workflow))
      // Stable, over the entries in insertion order: first come, first served among equal priorities.
      .sort((a, b) => b.priority - a.priority)
      .slice(0, Math.max(0, room))
      .map((entry) => {
        entry.status = "running"
        entry.owner = owner
        entry.leaseUntil = now + leaseMs
        entry.startedAt = now
        entry.updatedAt = now
        return snapshot(entry)
      })
    return retryInMs === undefined ? { claimed } : { claimed, retryInMs }
  }

  return { holderOf, limits, claimQueued }
}

/** Durable sleep in memory: as the SQL storages wake executions (waitProgram.ts), in one synchronous step. */
const wakeDue =
  (entries: Map<string, Entry>, clock: Clock.Clock) =>
  ({ leaseMs, limit, now, owner, workflows }: WakeClaim): WakeClaimed => {
    const runnable = new Set(workflows)
    // One pass: the due ones (only they are sorted), and the next wake-up among the others.
    const due: Array<Entry> = []
    let next: number | undefined
    for (const entry of entries.values()) {
      if (entry.status !== "waiting" || entry.wakeAt === undefined || !runnable.has(entry.workflow)) continue
      if (entry.wakeAt <= now) due.push(entry)
      else if (next === undefined || entry.wakeAt < next) next = entry.wakeAt
    }
    due.sort((a, b) => a.wakeAt! - b.wakeAt!)
    const woken = due.splice(0, Math.max(0, Math.floor(limit)))
    // Due, and left for the next claim: the next wake-up is now.
    if (due.length > 0) next = due[0]!.wakeAt
    const at = clock.unsafeCurrentTimeMillis()
    const claimed = woken.map((entry) => {
      entry.status = "running"
      entry.waitingFor = undefined
      entry.wakeAt = undefined
      entry.owner = owner
      entry.leaseUntil = at + leaseMs
      entry.updatedAt = at
      return snapshot(entry)
    })
    return next === undefined ? { claimed } : { claimed, next }
  }

/** Puts a signal in an execution's inbox; one waiting for it is set running, held by no one. */
const deliver = (entry: Entry, seq: number, name: string, payload: unknown): void => {
  entry.inbox.push({ seq, name, payload, receivedBy: undefined })
  if (entry.status === "waiting" && entry.waitingFor === `signal:${name}`) {
    entry.status = "running"
    entry.waitingFor = undefined
    entry.wakeAt = undefined
    entry.owner = undefined
  }
}

/**
 * A fork in one synchronous step (see `ForkRequest`): journal entries are shared (an entry is replaced,
 * never changed, when it changes), events copied under the new execution's id and seqs.
 */
const forkIn = (entries: Map<string, Entry>, clock: Clock.Clock) => (request: ForkRequest) => {
  const existing = entries.get(request.id)
  if (existing !== undefined) return { record: snapshot(existing), created: false }
  const source = entries.get(request.source)
  if (source === undefined) throw new ExecutionNotFound({ executionId: request.source })
  const received = new Map<number, string>()
  for (const signal of source.inbox) if (signal.receivedBy !== undefined) received.set(signal.seq, signal.receivedBy)
  const chosen = Forking.plan(
    Array.from(source.journal.values()),
    source.events.map((event) => ({ seq: event.seq, event })),
    received,
    request.from
  )
  const { id } = request
  const fork = newEntry(
    {
      id,
      workflow: source.workflow,
      input: source.input,
      status: "running",
      claim: request.claim,
      ...(source.version !== undefined ? { version: source.version } : {})
    },
    source.input,
    clock.unsafeCurrentTimeMillis()
  )
  for (const journaled of source.journal.values()) if (chosen.keys.has(journaled.key)) fork.journal.set(journaled)
  for (const { event } of chosen.events) {
    fork.events.push(Object.freeze({ ...event, workflowInstanceId: id, seq: ++fork.lastSeq }))
  }
  entries.set(id, fork)
  return { record: snapshot(fork), created: true }
}

/** One commit, all checks first: it throws what `commit` fails with, and then nothing is stored. */
const applyTo = (entries: Map<string, Entry>, clock: Clock.Clock) =>
(
  id: string,
  given: Commit,
  owner: string | undefined
): number => {
  // Stored as SQLite would store it: refused if JSON cannot hold it as it is, else as a copy.
  const commit = checkCommit(id, given, true)
  const entry = entries.get(id)
  if (entry === undefined) throw new ExecutionNotFound({ executionId: id })
  if (isTerminal(entry.status)) {
    throw new ExecutionFinished({ executionId: id, status: entry.status })
  }
  const now = clock.unsafeCurrentTimeMillis()
  // As in the SQL storages: a run whose lease expired, or whose execution another owner claimed, stores nothing.
  if (owner !== undefined && (entry.owner !== owner || entry.leaseUntil <= now)) {
    throw new ExecutionNotOwned({ executionId: id, owner })
  }
  const waitingFor = commit.waitingFor
  if (waitingFor !== undefined && entry.journal.get(waitingFor.key)?.state !== "waiting") {
    throw new ApprovalNotPending({ executionId: id, taskId: waitingFor.taskId })
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
    if (answered === undefined) throw new ApprovalNotPending({ executionId: id, taskId })
  }
  const unless = commit.wait?.unlessSignal
  if (unless !== undefined && entry.inbox.some((signal) => signal.name === unless && signal.receivedBy === undefined)) {
    throw new SignalPending({ executionId: id, name: unless })
  }
  const firstSeq = entry.lastSeq + 1
  // Every check has passed: from here on the commit cannot fail, so it is all-or-nothing.
  if (commit.events !== undefined) {
    for (const event of commit.events) {
      // The events are copies of its own: stamped in place.
      const stored = event as Mutable<StoredEvent>
      stored.workflowInstanceId = id
      stored.seq = ++entry.lastSeq
      entry.events.push(stored)
      Object.freeze(stored)
    }
  }
  if (answered !== undefined) {
    entry.journal.set({
      ...answered,
      state: "completed",
      result: { _tag: "Success", value: commit.answer!.value }
    })
  }
  if (commit.journal !== undefined) entry.journal.set(commit.journal)
  if (commit.status !== undefined) {
    entry.status = commit.status
    entry.waitingFor = commit.wait?.for
    entry.wakeAt = commit.wait?.wakeAt
  }
  if (commit.consume !== undefined) {
    const received = entry.inbox.find((signal) => signal.seq === commit.consume)
    if (received !== undefined) received.receivedBy = commit.journal?.key ?? ""
  }
  if (commit.signal !== undefined) deliver(entry, firstSeq, commit.signal.name, commit.signal.payload)
  // A finished execution is held by nobody: its end releases the lease.
  if (isTerminal(entry.status)) entry.owner = undefined
  if (commit.output !== undefined) entry.output = commit.output
  if (commit.error !== undefined) entry.error = commit.error
  const toParent = commit.signalParent
  const parent = toParent === undefined ? undefined : entries.get(toParent.parent)
  if (toParent !== undefined && parent !== undefined && !isTerminal(parent.status)) {
    const event = toParent.event as Mutable<StoredEvent>
    event.workflowInstanceId = parent.id
    event.seq = ++parent.lastSeq
    parent.events.push(event)
    Object.freeze(event)
    deliver(parent, event.seq, toParent.name, toParent.payload)
    parent.updatedAt = now
  }
  entry.updatedAt = now
  return entry.lastSeq
}

export const make: Effect.Effect<ExecutionStorageService> = Effect.gen(function*() {
  const clock = yield* Effect.clock
  const entries = new Map<string, Entry>()
  const find = (id: string) =>
    Effect.suspend(() => {
      const entry = entries.get(id)
      return entry === undefined ? Effect.fail(new ExecutionNotFound({ executionId: id })) : Effect.succeed(entry)
    })

  const apply = applyTo(entries, clock)
  const applyEffect = (id: string, commit: Commit, owner: string | undefined) =>
    Effect.suspend(() => {
      try {
        return Effect.succeed(apply(id, commit, owner))
      } catch (error) {
        return isCommitError(error) ? Effect.fail(error) : Effect.die(error)
      }
    })

  const queues = memoryQueues(entries, clock)
  const holderOf = queues.holderOf

  const service: ExecutionStorageService = {
    defineQueue: (queue) => Effect.sync(() => void queues.limits.set(queue.name, queue)),
    claimQueued: (request) => Effect.sync(() => queues.claimQueued(request)),
    wakeDue: (request) => Effect.sync(() => wakeDue(entries, clock)(request)),
    schedules: memoryScheduleStore(),
    fork: (request) =>
      Effect.try({
        try: () => forkIn(entries, clock)(request),
        catch: (error) => error as ExecutionNotFound
      }),
    purge: ({ before, limit, statuses, workflow }) =>
      Effect.sync(() => {
        const purgeable = new Set<string>(statuses)
        const picked = Array.from(entries.values())
          .filter((entry) =>
            isTerminal(entry.status) && purgeable.has(entry.status) && entry.updatedAt <= before &&
            (workflow === undefined || entry.workflow === workflow)
          )
          .sort((a, b) => a.createdAt - b.createdAt)
          .slice(0, Math.max(0, Math.floor(limit)))
        for (const entry of picked) entries.delete(entry.id)
        return picked.length
      }),
    inbox: (id, name) =>
      Effect.sync(() =>
        (entries.get(id)?.inbox ?? []).flatMap(({ name: sent, payload, receivedBy, seq }) =>
          receivedBy !== undefined || (name !== undefined && sent !== name)
            ? []
            : [{ seq, name: sent, payload: thaw(payload) }]
        )
      ),
    create: (execution) =>
      Effect.try({
        try: () => {
          const existing = entries.get(execution.id) ?? holderOf(execution.queue, execution.dedupKey)
          if (existing !== undefined) return { record: snapshot(existing), created: false }
          const input = faithful(`the input of execution "${execution.id}"`, "input", execution.input, true)
          const entry = newEntry(execution, input, clock.unsafeCurrentTimeMillis())
          entries.set(execution.id, entry)
          return { record: snapshot(entry), created: true, claimed: execution.claim !== undefined }
        },
        catch: (error) => error as InvalidPayload
      }),

    get: (id) => Effect.map(find(id), snapshot),

    list: (filter = {}) => Effect.suspend(() => listPage(Array.from(entries.values(), snapshot), filter)),

    commit: (id, commit) => applyEffect(id, commit, commit.owner),

    writer: Writer.direct(applyEffect, apply),

    events: (id, { fromSeq, limit }) =>
      Effect.sync(() => {
        const events = entries.get(id)?.events
        if (events === undefined) return []
        const start = Math.max(0, fromSeq - 1)
        return events.slice(start, start + limit)
      }),

    // Copies: a body changing a replayed result changes nothing stored. (Events stay shared: they are frozen.)
    journal: (id) => Effect.sync(() => Array.from(entries.get(id)?.journal.values() ?? [], thaw)),

    // Leases on this storage's clock, as the SQL storages keep them on the database's: held while now is
    // before `leaseUntil`.
    claim: (id, owner, leaseMs) =>
      Effect.sync(() => {
        const entry = entries.get(id)
        if (entry === undefined || isTerminal(entry.status)) return false
        const now = clock.unsafeCurrentTimeMillis()
        if (entry.owner !== undefined && entry.owner !== owner && entry.leaseUntil > now) return false
        entry.owner = owner
        entry.leaseUntil = now + leaseMs
        return true
      }),

    renew: (owner, ids, leaseMs) =>
      Effect.sync(() => {
        const leaseUntil = clock.unsafeCurrentTimeMillis() + leaseMs
        return ids.filter((id) => {
          const entry = entries.get(id)
          if (entry === undefined || entry.owner !== owner || isTerminal(entry.status)) return false
          entry.leaseUntil = leaseUntil
          return true
        })
      }),

    release: (id, owner) =>
      Effect.sync(() => {
        const entry = entries.get(id)
        if (entry !== undefined && entry.owner === owner) entry.owner = undefined
      })
  }
  return service
})

export const layer: Layer.Layer<ExecutionStorage> = Layer.effect(ExecutionStorage, make)
