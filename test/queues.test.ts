/**
 * Queues on every storage: executions started in a queue run on a worker
 * serving it, within the queue's limits. Limits are checked from what the
 * step bodies record (when each ran), never from counters.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Layer, Schedule } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { startEngine } from "./helpers.js"
import { pgUrl, suiteDatabase } from "./pg.js"

interface Interval {
  readonly input: number
  readonly start: number
  end?: number
}

/** A workflow whose one step records when it ran, taking `ms`. */
const recorded = (name: string, ms: number) => {
  const intervals: Array<Interval> = []
  const workflow = Workflow.make({
    name,
    run: (input: number) =>
      Workflow.step(
        "work",
        Effect.gen(function*() {
          const interval: Interval = { input, start: performance.now() }
          intervals.push(interval)
          yield* Effect.sleep(ms)
          interval.end = performance.now()
          return input
        })
      )
  })
  return { workflow, intervals }
}

/** The most intervals running at one instant. */
const mostAtOnce = (intervals: ReadonlyArray<Interval>): number => {
  const edges = intervals.flatMap((i) => [[i.start, 1], [i.end!, -1]] as const)
  // Ends before starts at the same instant: touching intervals do not overlap.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let now = 0
  let most = 0
  for (const [, delta] of edges) most = Math.max(most, now += delta)
  return most
}

/** Holds until `check` does, looking every 10 ms. */
const eventually = <E>(check: Effect.Effect<boolean, E>) =>
  check.pipe(
    Effect.flatMap((holds) => holds ? Effect.void : Effect.fail("not yet" as const)),
    Effect.retry(Schedule.spaced("10 millis")),
    Effect.orDie
  )

/** `effect`, or a failure after a generous limit, well below the tests' hourly polls. */
const within = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.timeoutFail(effect, {
    duration: "30 seconds",
    onTimeout: () => new Error("timed out: nothing woke the worker")
  })

const queueSuite = (name: string, layer: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>) =>
  describe(`queues on ${name}`, () => {
    const withStorage = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(Effect.scoped(effect), layer)

    it.live("runs a queued execution on a worker serving the queue, started by name from a client", () =>
      withStorage(Effect.gen(function*() {
        const { intervals, workflow } = recorded(`${name}-client`, 1)
        const worker = yield* startEngine({ queues: [{ name: "work" }] })
        yield* worker.engine.register(workflow)
        // The client has no workflow code: nothing registered, the workflow named.
        const client = yield* startEngine({ recover: false })
        const handle = yield* client.engine.start(workflow.name, 21, { queue: "work" })
        expect(handle.created).toBe(true)
        expect(yield* handle.result).toBe(21)
        expect(intervals.map((i) => i.input)).toEqual([21])
        expect((yield* client.engine.status(handle.id)).queue).toBe("work")
      })))

    it.live("keeps the queue's concurrency across workers, and each worker's own", () =>
      withStorage(Effect.gen(function*() {
        const { intervals, workflow } = recorded(`${name}-limits`, 40)
        const queues = [{ name: "limited", concurrency: 3, workerConcurrency: 2 }]
        const workers = [yield* startEngine({ queues }), yield* startEngine({ queues })]
        yield* Effect.forEach(workers, ({ engine }) => engine.register(workflow))
        const client = yield* startEngine({ recover: false })
        const handles = yield* Effect.forEach(
          Array.from({ length: 12 }, (_, i) => i),
          (i) => client.engine.start(workflow.name, i, { queue: "limited" })
        )
        expect(yield* Effect.forEach(handles, (handle) => handle.result)).toEqual(handles.map((_, i) => i))
        expect(intervals).toHaveLength(12)
        // Never more than the queue's 3 at once; with two workers of 2, it did reach 3.
        expect(mostAtOnce(intervals)).toBe(3)
      })))

    it.live("keeps the engine's concurrency across all the queues it serves", () =>
      withStorage(Effect.gen(function*() {
        const { intervals, workflow } = recorded(`${name}-engine-limit`, 40)
        const worker = yield* startEngine({ queues: [{ name: "left" }, { name: "right" }], concurrency: 3 })
        yield* worker.engine.register(workflow)
        const client = yield* startEngine({ recover: false })
        const handles = yield* Effect.forEach(
          Array.from({ length: 12 }, (_, i) => i),
          (i) => client.engine.start(workflow.name, i, { queue: i % 2 === 0 ? "left" : "right" })
        )
        yield* Effect.forEach(handles, (handle) => handle.result)
        // Never more than 3 here at once, from both queues together; it did reach 3.
        expect(mostAtOnce(intervals)).toBe(3)
      })))

    it.live("wakes the loop that had no room under the engine's limit when another gives its room back", () =>
      withStorage(Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const gated = Workflow.make({
          name: `${name}-given-back`,
          run: (input: number) =>
            Workflow.step("gated", Effect.as(input === 0 ? Deferred.await(gate) : Effect.void, input))
        })
        // Polls hourly: only wake-ups can start the second execution in time.
        const worker = yield* startEngine({
          queues: [{ name: "first" }, { name: "second" }],
          concurrency: 1,
          pollInterval: "1 hour"
        })
        yield* worker.engine.register(gated)
        const client = yield* startEngine({ recover: false })
        const running = yield* client.engine.start(gated.name, 0, { queue: "first" })
        yield* eventually(Effect.map(client.engine.status(running.id), (r) => r.status === "running"))
        const queued = yield* client.engine.start(gated.name, 1, { queue: "second" })
        yield* Deferred.succeed(gate, undefined)
        expect(yield* running.result).toBe(0)
        expect(yield* within(queued.result)).toBe(1)
      })))

    it.live("an execution of a limited queue that ends outside the worker's loops makes room at once", () =>
      withStorage(Effect.gen(function*() {
        const asking = Workflow.make({
          name: `${name}-asking`,
          run: (input: number) =>
            input === 0
              ? Effect.map(Workflow.approval({ taskId: "go", dataForApproval: input }), () => input)
              : Effect.succeed(input)
        })
        const worker = yield* startEngine({ queues: [{ name: "single", concurrency: 1 }], pollInterval: "1 hour" })
        yield* worker.engine.register(asking)
        const waiting = yield* worker.engine.start(asking.name, 0, { queue: "single" })
        yield* eventually(Effect.map(worker.engine.status(waiting.id), (r) => r.status === "waiting"))
        const queued = yield* worker.engine.start(asking.name, 1, { queue: "single" })
        // Resumed by the answer, not by a worker loop; its end frees the queue's one place.
        yield* worker.engine.approve(waiting.id, "go", { status: "approved" })
        expect(yield* waiting.result).toBe(0)
        expect(yield* within(queued.result)).toBe(1)
      })))

    it.live("a claim the rate limit cut short claims the rest when the window opens, not at a run's end or the next poll", () =>
      withStorage(Effect.gen(function*() {
        // Long runs: no run's end wakes the loop before the window opens.
        const { intervals, workflow } = recorded(`${name}-rate-short`, 2_000)
        const worker = yield* startEngine({
          queues: [{ name: "trickle", rateLimit: { limit: 2, period: "300 millis" } }],
          pollInterval: "1 hour"
        })
        yield* worker.engine.register(workflow)
        const client = yield* startEngine({ recover: false })
        const handles = yield* Effect.forEach(
          Array.from({ length: 6 }, (_, i) => i),
          (i) => client.engine.start(workflow.name, i, { queue: "trickle" })
        )
        yield* Effect.forEach(handles, (handle) => handle.result)
        // All six began before any ended: the loop woke as the window opened, not at a run's end.
        expect(Math.max(...intervals.map((i) => i.start))).toBeLessThan(Math.min(...intervals.map((i) => i.end!)))
      })))

    it.live("runs higher priorities first, then the oldest", () =>
      withStorage(Effect.gen(function*() {
        const { intervals, workflow } = recorded(`${name}-priority`, 1)
        const client = yield* startEngine({ recover: false })
        const priorities = [0, 5, 0, 9, 5]
        const handles = yield* Effect.forEach(
          priorities,
          (priority, i) => client.engine.start(workflow.name, i, { queue: "ordered", priority })
        )
        // One worker running one at a time, started once everything is queued.
        const worker = yield* startEngine({ queues: [{ name: "ordered", workerConcurrency: 1 }] })
        yield* worker.engine.register(workflow)
        yield* Effect.forEach(handles, (handle) => handle.result)
        expect(intervals.map((i) => i.input)).toEqual([3, 1, 4, 0, 2])
      })))

    it.live("starts a deduplicated execution once while it is unfinished, and again after", () =>
      withStorage(Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        // The fourth start's own gate: it stays unfinished (holding the key) until the key is tried again.
        const fourth = yield* Deferred.make<void>()
        const gated = Workflow.make({
          name: `${name}-dedup`,
          run: (input: number) => Workflow.step("gated", Effect.as(Deferred.await(input === 4 ? fourth : gate), input))
        })
        const worker = yield* startEngine({ queues: [{ name: "dedup" }] })
        yield* worker.engine.register(gated)
        const client = yield* startEngine({ recover: false })
        const first = yield* client.engine.start(gated.name, 1, { queue: "dedup", dedupKey: "report-42" })
        const second = yield* client.engine.start(gated.name, 2, { queue: "dedup", dedupKey: "report-42" })
        expect(second.id).toBe(first.id)
        expect(second.created).toBe(false)
        // Another key, or another queue, is another execution.
        const other = yield* client.engine.start(gated.name, 3, { queue: "dedup", dedupKey: "report-43" })
        expect(other.id).not.toBe(first.id)
        yield* Deferred.succeed(gate, undefined)
        expect(yield* second.result).toBe(1)
        const again = yield* client.engine.start(gated.name, 4, { queue: "dedup", dedupKey: "report-42" })
        expect(again.created).toBe(true)
        // The key is the queue's: another workflow's start with it finds the same execution.
        const elsewhere = yield* client.engine.start(`${name}-dedup-other`, 5, {
          queue: "dedup",
          dedupKey: "report-42"
        })
        expect({ id: elsewhere.id, created: elsewhere.created, workflow: elsewhere.workflow }).toEqual({
          id: again.id,
          created: false,
          workflow: gated.name
        })
        yield* Deferred.succeed(fourth, undefined)
        expect(yield* again.result).toBe(4)
      })))

    it.live("starts at most the rate limit's number in any period", () =>
      withStorage(Effect.gen(function*() {
        const { intervals, workflow } = recorded(`${name}-rate`, 1)
        const worker = yield* startEngine({
          queues: [{ name: "rated", rateLimit: { limit: 3, period: "600 millis" } }],
          pollInterval: "5 seconds"
        })
        yield* worker.engine.register(workflow)
        const client = yield* startEngine({ recover: false })
        const handles = yield* Effect.forEach(
          Array.from({ length: 7 }, (_, i) => i),
          (i) => client.engine.start(workflow.name, i, { queue: "rated" })
        )
        yield* Effect.forEach(handles, (handle) => handle.result)
        const starts = intervals.map((i) => i.start).sort((a, b) => a - b)
        expect(starts).toHaveLength(7)
        // Any 4 consecutive starts span at least the period (less a margin for when bodies begin after
        // their claim); the third batch waited for the first to leave the window.
        for (let i = 3; i < starts.length; i++) expect(starts[i]! - starts[i - 3]!).toBeGreaterThan(550)
        expect(starts[6]! - starts[0]!).toBeGreaterThan(1100)
      })))

    it.effect("refuses a key or a priority without a queue, and a priority that is not an integer", () =>
      withStorage(Effect.gen(function*() {
        const client = yield* startEngine({ recover: false })
        const refused = (options: Record<string, unknown>) =>
          Effect.flip(client.engine.start("anything", 1, options)).pipe(Effect.map((error) => error._tag))
        expect(yield* refused({ dedupKey: "k" })).toBe("InvalidOption")
        expect(yield* refused({ priority: 1 })).toBe("InvalidOption")
        expect(yield* refused({ queue: "q", priority: 1.5 })).toBe("InvalidOption")
        expect(yield* refused({ queue: "" + "\u0000" })).toBe("InvalidOption")
        expect(Exit.isSuccess(yield* Effect.exit(client.engine.start("anything", 1, { queue: "q" })))).toBe(true)
      })))
  })

const dir = mkdtempSync(join(tmpdir(), "workflow-queues-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

queueSuite("memory", ExecutionStorage.layerMemory)
queueSuite("SQLite", ExecutionStorage.layerSqlite({ filename: join(dir, "queues.db") }))
describe.skipIf(pgUrl === undefined)("PostgreSQL", () => {
  const database = suiteDatabase()
  queueSuite("PostgreSQL", Layer.suspend(() => ExecutionStorage.layerPg({ url: database.url() })))
})
