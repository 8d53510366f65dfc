/**
 * Many subscribers of one execution: those that are caught up share one read
 * of each new page (the execution's shared tail); one that falls behind, or
 * starts from an old seq, reads storage on its own, so the shared window stays
 * bounded; every one of them gets every event once, in order; the reader goes
 * when the last of them does; and subscribers in another engine still follow
 * by polling.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, RuntimeFlags, RuntimeFlagsPatch, Stream, Supervisor, TestClock } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExecutionStorage, Workflow } from "../src/index.js"
import type { WorkflowEngine, WorkflowEvent } from "../src/index.js"
import { Tail } from "../src/internal/engine/tail.js"
import { collect, expectContiguous, startEngine, untilSleeping, waitForEvent } from "./helpers.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-subscribers-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshFile = () => join(dir, `subscribers-${files++}.db`)

/** What the storage was asked to read: `events` reads (with the page size asked for; those that found none) and `get`s. */
interface Reads {
  events: number
  empty: number
  gets: number
  limits: Array<number>
}

const noReads = (): Reads => ({ events: 0, empty: 0, gets: 0, limits: [] })

/** `effect` over a SQLite file whose reads are counted in `reads`. */
const onCountedSqlite = <A, E, R>(reads: Reads, effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(
    ExecutionStorage.ExecutionStorage,
    (storage) =>
      Effect.provideService(effect, ExecutionStorage.ExecutionStorage, {
        ...storage,
        get: (id) => Effect.suspend(() => (reads.gets++, storage.get(id))),
        events: (id, options) =>
          Effect.suspend(() => (reads.events++, reads.limits.push(options.limit), storage.events(id, options))).pipe(
            Effect.tap((page) => {
              if (page.length === 0) reads.empty++
            })
          )
      })
  ).pipe(Effect.provide(ExecutionStorage.layerSqlite({ filename: freshFile() })), Effect.scoped)

/** A workflow that logs, waits for `gate`, then runs `steps` steps, each yielding and followed by a log with details. */
const gated = (gate: Deferred.Deferred<void>, steps: number) =>
  Workflow.make({
    name: "gated",
    run: () =>
      Effect.gen(function*() {
        yield* Workflow.log("info", "ready")
        yield* Deferred.await(gate)
        for (let i = 0; i < steps; i++) {
          yield* Workflow.step(`s${i}`, Effect.yieldNow())
          yield* Workflow.log("debug", `after ${i}`, { step: i })
        }
        return "done"
      })
  })

/** Counts the Effect operations `effect` runs (in its fiber and in those it forks) as it runs. */
class OperationCount extends Supervisor.AbstractSupervisor<number> {
  operations = 0
  get value() {
    return Effect.sync(() => this.operations)
  }
  override onEffect() {
    this.operations++
  }
}

const operationsOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const count = new OperationCount()
    return effect.pipe(
      Effect.supervised(count),
      Effect.withRuntimeFlagsPatch(RuntimeFlagsPatch.enable(RuntimeFlags.OpSupervision)),
      Effect.map(() => count.operations)
    )
  })

/** Subscribes to `events`, returning once the subscription has its first event; the fiber collects the rest. */
const subscribe = <E>(events: Stream.Stream<WorkflowEvent.StoredEvent, E>) =>
  Effect.gen(function*() {
    const attached = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(collect(Stream.tap(events, () => Deferred.succeed(attached, undefined))))
    yield* Deferred.await(attached)
    return fiber
  })

/**
 * `subscribers` subscribers follow a run of `steps` steps from its first event: the storage reads made from
 * the moment they are all attached to the end, and what each one saw.
 */
const fanOut = (subscribers: number, steps: number) => {
  const reads = noReads()
  return onCountedSqlite(
    reads,
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const gate = yield* Deferred.make<void>()
      const handle = yield* engine.start(gated(gate, steps), undefined)
      const followers = yield* Effect.forEach(Array.from({ length: subscribers }), () => subscribe(handle.events))
      const before = { ...reads }
      yield* Deferred.succeed(gate, undefined)
      const logs = yield* Effect.forEach(followers, Fiber.join)
      const eventReads = reads.events - before.events
      const empty = reads.empty - before.empty
      const gets = reads.gets - before.gets
      const stored = yield* collect(engine.events(handle.id))
      return { during: eventReads + gets, eventReads, empty, gets, logs, stored }
    })
  )
}

describe("subscribers of one execution", () => {
  it.effect("that are caught up share the reads of new events: storage reads do not grow with their number", () =>
    Effect.gen(function*() {
      const steps = 40
      const one = yield* fanOut(1, steps)
      const hundred = yield* fanOut(100, steps)
      for (const { logs, stored } of [one, hundred]) {
        expectContiguous(stored)
        expect(stored).toHaveLength(1 + 3 * steps + 1)
        for (const log of logs) expect(log).toEqual(stored)
      }
      // Each subscriber reading on its own made about 100 times as many reads for 100 of them.
      expect(one.during).toBeGreaterThan(0)
      expect(hundred.during).toBeLessThanOrEqual(2 * one.during)
    }))

  it.effect("are fed by one read per wake: a page short of a full one has all there was, so the reader waits", () =>
    Effect.gen(function*() {
      const steps = 40
      const { empty, eventReads, gets, logs, stored } = yield* fanOut(1, steps)
      expectContiguous(stored)
      expect(logs[0]).toEqual(stored)
      // Woken several times as the run goes, the reader read the new events each time; reading again right
      // after a short page (finding nothing), then asking for the execution, made three reads of each wake.
      expect(eventReads).toBeGreaterThanOrEqual(5)
      expect(empty).toBeLessThanOrEqual(2)
      expect(gets).toBeLessThanOrEqual(2)
    }))

  it.effect("that are caught up each cost little more Effect work than an empty stream: nothing per event", () =>
    onCountedSqlite(
      noReads(),
      Effect.gen(function*() {
        const { engine } = yield* startEngine()
        const gate = yield* Deferred.make<void>()
        const handle = yield* engine.start(gated(gate, 2), undefined)
        // The tail is set up (its reader forked) by a subscriber of its own, whose work is not counted.
        const first = yield* subscribe(handle.events)
        const counted = yield* Effect.forEach(
          Array.from({ length: 5 }),
          () => Effect.fork(operationsOf(Stream.runCount(handle.events)))
        )
        yield* Effect.yieldNow()
        yield* Deferred.succeed(gate, undefined)
        const pages = yield* Stream.runCount(Stream.chunks(handle.events))
        const operations = yield* Effect.forEach(counted, Fiber.join)
        yield* Fiber.join(first)
        const empty = yield* operationsOf(Stream.runCount(Stream.empty))
        // A few pages, each taken from the tail's window and written out as it is: an Effect only to wait for
        // the next. Pulling each page through Effects of its own, as before, took about 1.7 times an empty
        // stream's operations.
        expect(pages).toBeLessThanOrEqual(4)
        for (const count of operations) expect(count).toBeLessThan(1.5 * empty)
      })
    ))

  it.effect("share events no one of them can change: what one does to an event, another does not see; all are read-only", () =>
    onCountedSqlite(
      noReads(),
      Effect.gen(function*() {
        const { engine } = yield* startEngine()
        const gate = yield* Deferred.make<void>()
        const handle = yield* engine.start(gated(gate, 2), undefined)
        const changed: Array<string> = []
        const tryTo = (what: string, change: () => void) => {
          try {
            change()
            changed.push(what)
          } catch {
            // Refused: the event is frozen.
          }
        }
        // The first subscriber tries to change every event it gets, and what it holds; the second only collects.
        const tampering = yield* subscribe(Stream.tap(handle.events, (event) =>
          Effect.sync(() => {
            if (event.type !== "log") return
            tryTo("message", () => (event as { message: string }).message = "changed")
            if (event.details !== undefined) tryTo("details", () => (event.details as { step: number }).step = -1)
          })))
        const watching = yield* subscribe(handle.events)
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(tampering)
        const seen = yield* Fiber.join(watching)
        expect(seen.flatMap((event) => event.type === "log" ? [[event.message, event.details]] : [])).toEqual([
          ["ready", undefined],
          ["after 0", { step: 0 }],
          ["after 1", { step: 1 }]
        ])
        expect(changed).toEqual([])
        // One reading on its own (a replay of the finished execution) gets read-only events too.
        const replayed = yield* collect(engine.events(handle.id))
        expect(replayed).toEqual(seen)
        const details = replayed.flatMap((event) => event.type === "log" && event.details ? [event.details] : [])
        expect([...replayed, ...details].every((value) => Object.isFrozen(value))).toBe(true)
      })
    ))

  it.effect("one that falls behind gets every event, read back from storage a page at a time, not buffered", () => {
    const reads = noReads()
    return onCountedSqlite(
      reads,
      Effect.gen(function*() {
        const pageSize = 8
        const { engine } = yield* startEngine({ pageSize })
        const gate = yield* Deferred.make<void>()
        const handle = yield* engine.start(gated(gate, 100), undefined)
        const fast = yield* Effect.forEach(Array.from({ length: 3 }), () => subscribe(handle.events))
        // The slow one stops at its second event until everyone else is done.
        const release = yield* Deferred.make<void>()
        const slow = yield* subscribe(
          Stream.tap(handle.events, (event) => event.seq === 2 ? Deferred.await(release) : Effect.void)
        )
        yield* Deferred.succeed(gate, undefined)
        // A late subscriber from the start, while the others follow the run live, replays it all.
        yield* waitForEvent(engine, handle.id, (event) => event.seq === 150)
        const late = yield* Effect.fork(collect(engine.events(handle.id)))
        expect(yield* handle.result).toBe("done")
        const logs = yield* Effect.forEach([...fast, late], Fiber.join)
        const stored = yield* collect(engine.events(handle.id))
        expectContiguous(stored)
        expect(stored).toHaveLength(1 + 3 * 100 + 1)
        for (const log of logs) expect(log).toEqual(stored)

        reads.events = 0
        reads.limits = []
        yield* Deferred.succeed(release, undefined)
        const behind = yield* Fiber.join(slow)
        expect(behind).toEqual(stored)
        // What it missed came from storage, a page at a time (nothing held it for the slow one); only the
        // last few events were still in the shared window.
        expect(reads.events).toBeGreaterThanOrEqual(Math.floor((stored.length - 3 * pageSize) / pageSize))
        expect(Math.max(...reads.limits)).toBeLessThanOrEqual(pageSize)
        for (const seq of [20, 100, 250]) expect(behind[seq - 1]).not.toBe(logs[0]![seq - 1])
      })
    )
  })

  it.effect("lets their shared reader go with the last of them: nothing reads the execution after", () => {
    const reads = noReads()
    return onCountedSqlite(
      reads,
      Effect.gen(function*() {
        const { engine } = yield* startEngine()
        const asking = Workflow.make({
          name: "asking",
          run: () => Workflow.approval({ taskId: "t", dataForApproval: null })
        })
        const handle = yield* engine.start(asking, undefined)
        const followers = yield* Effect.forEach(Array.from({ length: 5 }), () => subscribe(handle.events))
        // While they wait, their reader polls storage for other processes' commits.
        reads.events = 0
        reads.gets = 0
        yield* TestClock.adjust("10 seconds")
        expect(reads.events + reads.gets).toBeGreaterThan(0)
        expect(reads.events + reads.gets).toBeLessThanOrEqual(2 * 11)
        yield* Effect.forEach(followers, Fiber.interrupt)
        reads.events = 0
        reads.gets = 0
        yield* TestClock.adjust("1 minute")
        expect(reads).toMatchObject({ events: 0, gets: 0 })
      })
    )
  })

  it.effect("whose shared reader failed read on their own, failing as their own reads do; a later one reads afresh", () =>
    Effect.gen(function*() {
      const memory = yield* ExecutionStorage.makeMemory
      const damaged = { on: false }
      const undecodable = new ExecutionStorage.StorageError({ operation: "decode", reason: "not valid JSON" })
      const storage: ExecutionStorage.ExecutionStorageService = {
        ...memory,
        events: (id, options) =>
          damaged.on && options.fromSeq > 1 ? Effect.fail(undecodable) : memory.events(id, options)
      }
      yield* Effect.gen(function*() {
        const { engine } = yield* startEngine()
        const asking = Workflow.make({
          name: "asking",
          run: () => Workflow.approval({ taskId: "t", dataForApproval: null })
        })
        const handle = yield* engine.start(asking, undefined)
        const followers = yield* Effect.forEach(Array.from({ length: 3 }), () => subscribe(handle.events))
        damaged.on = true
        yield* engine.approve(handle.id, "t", { status: "approved" })
        for (const follower of followers) expect(yield* Effect.flip(Fiber.join(follower))).toEqual(undecodable)
        damaged.on = false
        const events = yield* collect(handle.events)
        expectContiguous(events)
        expect(events.map((e) => e.type)).toEqual([
          "human_approval_required",
          "human_approval_completed",
          "final_output"
        ])
      }).pipe(Effect.provideService(ExecutionStorage.ExecutionStorage, storage), Effect.scoped)
    }))

  it.effect("in another engine end at the poll that finds the execution ended, not at the next one", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const storageA = yield* Layer.build(ExecutionStorage.layerSqlite({ filename }))
      const storageB = yield* Layer.build(ExecutionStorage.layerSqlite({ filename }))
      const a = yield* Effect.provide(startEngine({ recover: false }), storageA)
      // Nothing tells b of a's commits (no hints between SQLite processes): only its poll.
      const b = yield* Effect.provide(startEngine({ pollInterval: "7 seconds", recover: false }), storageB)
      const gate = yield* Deferred.make<void>()
      const handle = yield* a.engine.start(gated(gate, 1), undefined)
      yield* waitForEvent(a.engine, handle.id, (event) => event.type === "log")
      const follower = yield* subscribe(b.engine.events(handle.id))
      yield* untilSleeping("7 seconds")
      yield* Deferred.succeed(gate, undefined)
      expect(yield* a.engine.result(handle.id)).toBe("done")
      yield* TestClock.adjust("7 seconds")
      // The poll reads the run's last events; a reader that took them for all there was would wait a poll more.
      const outcome = yield* Effect.raceFirst(
        Effect.as(Fiber.join(follower), "ended"),
        Effect.as(untilSleeping("7 seconds").pipe(Effect.catchAllDefect(() => Effect.never)), "polled again")
      )
      expect(outcome).toBe("ended")
      expect(yield* Fiber.join(follower)).toEqual(yield* collect(a.engine.events(handle.id)))
    }).pipe(Effect.scoped))

  it.live(
    "in another engine follow by polling, and go on alone once the engine that serves them closes",
    () =>
      Effect.gen(function*() {
        const filename = freshFile()
        const storageA = yield* Layer.build(ExecutionStorage.layerSqlite({ filename }))
        const storageB = yield* Layer.build(ExecutionStorage.layerSqlite({ filename }))
        const on = (context: typeof storageA, options?: WorkflowEngine.EngineOptions) =>
          Effect.provide(startEngine(options), context)
        const a = yield* on(storageA)
        const gate = yield* Deferred.make<void>()
        const paced = Workflow.make({
          name: "paced",
          run: () =>
            Effect.gen(function*() {
              yield* Workflow.log("info", "ready")
              for (let i = 0; i < 20; i++) {
                if (i === 10) yield* Deferred.await(gate)
                yield* Workflow.step(`s${i}`, Effect.sleep("2 millis"))
              }
              return "done"
            })
        })
        const handle = yield* a.engine.start(paced, undefined)
        const b = yield* on(storageB, { pollInterval: "20 millis", recover: false })
        const watchers = yield* Effect.forEach(Array.from({ length: 10 }), () => subscribe(b.engine.events(handle.id)))
        yield* waitForEvent(b.engine, handle.id, (event) => event.type === "step_end" && event.runnableName === "s9")
        // b closes: its followers' shared reader stops, and they read (and poll) on their own.
        yield* b.stop
        yield* Deferred.succeed(gate, undefined)
        expect(yield* a.engine.result(handle.id)).toBe("done")
        const stored = yield* collect(a.engine.events(handle.id))
        expectContiguous(stored)
        expect(stored).toHaveLength(1 + 2 * 20 + 1)
        for (const log of yield* Effect.forEach(watchers, Fiber.join)) expect(log).toEqual(stored)
      }).pipe(Effect.scoped),
    30_000
  )
})

describe("the shared window", () => {
  it("holds at most twice its capacity, however far behind a follower is", () => {
    const tail = new Tail(1, 8)
    const event = (seq: number) => ({ type: "log", timestamp: 0, level: "info", message: `${seq}`, seq }) as const
    let largest = 0
    for (let seq = 1; seq <= 1000; seq += 5) {
      tail.append(Array.from({ length: 5 }, (_, i) => event(seq + i) as unknown as WorkflowEvent.StoredEvent))
      largest = Math.max(largest, tail.size)
    }
    expect(largest).toBeLessThanOrEqual(16)
    expect(tail.next).toBe(1001)
    expect(tail.take(1, 8)).toBeUndefined()
    expect(tail.take(tail.start - 1, 8)).toBeUndefined()
    expect(tail.take(995, 8)?.map((e) => e.seq)).toEqual([995, 996, 997, 998, 999, 1000])
    expect(tail.take(1001, 8)).toBeUndefined()
  })
})
