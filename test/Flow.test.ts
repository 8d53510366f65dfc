import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Schedule, TestClock } from "effect"
import { ExecutionStorage, Flow, Workflow } from "../src/index.js"
import { collect, expectContiguous, interruptAndRestart, stepNames } from "./helpers.js"

/** Tracks how many tasks run at once. */
const concurrencyProbe = () => {
  const probe = { current: 0, max: 0 }
  const track = <A>(value: A) =>
    Effect.gen(function*() {
      probe.current++
      probe.max = Math.max(probe.max, probe.current)
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
      probe.current--
      return value
    })
  return { probe, track }
}

describe("Flow", () => {
  it.effect("runs a task once per path within a root flow", () =>
    Effect.gen(function*() {
      let runs = 0
      const child = Flow.flow("child", Effect.sync(() => ++runs))
      const result = yield* Flow.flow(
        "root",
        Effect.gen(function*() {
          const a = yield* child
          const b = yield* child
          const c = yield* Flow.flow("other", child)
          return [a, b, c]
        })
      )
      expect(result).toEqual([1, 1, 2])
      // A new root has a cache of its own.
      expect(yield* Flow.flow("root", child)).toBe(3)
    }))

  it.effect("always completes, with the task's own failure", () =>
    Effect.gen(function*() {
      const failing = Flow.flow("root", Flow.flow("child", Effect.fail("broken")))
      expect(yield* Effect.flip(failing)).toBe("broken")
      const twice = Flow.flow(
        "root",
        Effect.gen(function*() {
          const task = Flow.flow("child", Effect.fail("once"))
          const first = yield* Effect.flip(task)
          const second = yield* Effect.flip(task)
          return [first, second]
        })
      )
      expect(yield* twice).toEqual(["once", "once"])
    }))

  it.effect("fans out with parallel and all, in order, within the concurrency limit", () =>
    Effect.gen(function*() {
      const { probe, track } = concurrencyProbe()
      const results = yield* Flow.parallel("fan", 10, (i) => track(i * i), { concurrency: 3 })
      expect(results).toEqual([0, 1, 4, 9, 16, 25, 36, 49, 64, 81])
      expect(probe.max).toBe(3)
      const unbounded = concurrencyProbe()
      const all = yield* Flow.all("all", ["a", "b", "c", "d"].map(unbounded.track))
      expect(all).toEqual(["a", "b", "c", "d"])
      expect(unbounded.probe.max).toBe(4)
      const failed = yield* Effect.flip(Flow.all("bad", [Effect.succeed(1), Effect.fail("no")]))
      expect(failed).toBe("no")
    }))

  describe("queue", () => {
    it.effect("retries a failing item up to `retries` times after the first attempt", () =>
      Effect.gen(function*() {
        let attempts = 0
        const q = yield* Flow.queue({
          name: "q",
          retries: 2,
          fn: (item: string) => Effect.suspend(() => (attempts++, Effect.fail(`${item} failed`)))
        })
        const fiber = yield* Effect.fork(Effect.flip(q.push("x")))
        yield* TestClock.adjust("100 millis")
        expect(attempts).toBe(2)
        yield* TestClock.adjust("200 millis")
        expect(yield* Fiber.join(fiber)).toBe("x failed")
        expect(attempts).toBe(3)
        yield* TestClock.adjust("10 seconds")
        expect(attempts).toBe(3)
      }))

    it.effect("succeeds once an attempt succeeds, on a custom backoff", () =>
      Effect.gen(function*() {
        let attempts = 0
        const q = yield* Flow.queue({
          name: "q",
          retries: 5,
          backoff: Schedule.spaced("1 second"),
          fn: (n: number) =>
            Effect.suspend(() => ++attempts < 3 ? Effect.fail("not yet") : Effect.succeed(n + attempts))
        })
        const fiber = yield* Effect.fork(q.push(10))
        yield* TestClock.adjust("2 seconds")
        expect(yield* Fiber.join(fiber)).toBe(13)
      }))

    it.effect("processes pushed items within its concurrency, reachable inside a flow", () =>
      Effect.gen(function*() {
        const { probe, track } = concurrencyProbe()
        const results = yield* Flow.flow(
          "root",
          Effect.gen(function*() {
            const q = yield* Flow.queue({ name: "q", retries: 0, concurrency: 2, fn: (n: number) => track(n + 1) })
            return yield* Flow.flow("inner", q.pushAll([1, 2, 3, 4, 5, 6]))
          })
        )
        expect(results).toEqual([2, 3, 4, 5, 6, 7])
        expect(probe.max).toBe(2)
      }))
  })

  it.effect("defers a task until it is first awaited, then shares its result", () =>
    Effect.gen(function*() {
      let runs = 0
      const lazy = yield* Flow.deferred("lazy", Effect.sync(() => ++runs))
      expect(runs).toBe(0)
      expect(yield* lazy).toBe(1)
      expect(yield* lazy).toBe(1)
      expect(runs).toBe(1)
    }))

  it.effect("processes recursively, pass by pass, up to maxPasses", () =>
    Effect.gen(function*() {
      const processed: Array<[number, number]> = []
      const tree = yield* Flow.recursiveProcessor(1, {
        processor: (n: number, pass) => Effect.sync(() => (processed.push([n, pass]), n * 10)),
        generateSubtaskData: (_result, n) => [n + 1, n + 2],
        maxPasses: 3,
        storeSubtaskResult: (result, subtaskResults) => result + subtaskResults.reduce((a, b) => a + b, 0),
        concurrency: 2
      })
      // pass 1: 1; pass 2: 2, 3; pass 3: 3, 4, 4, 5 (no pass 4)
      expect(processed.map(([, pass]) => pass).sort()).toEqual([1, 2, 2, 3, 3, 3, 3])
      expect(tree.subtasks.map((s) => s.data)).toEqual([2, 3])
      expect(tree.subtasks[0]!.subtasks.map((s) => s.result)).toEqual([30, 40])
      expect(tree.subtasks[0]!.result).toBe(20 + 30 + 40)
      expect(tree.result).toBe(10 + (20 + 30 + 40) + (30 + 40 + 50))
    }))

  it.effect("journals flows inside a workflow, so a resumed execution skips finished branches", () =>
    Effect.provide(
      Effect.gen(function*() {
        const runs: Record<string, number> = {}
        const count = (name: string) => Effect.sync(() => (runs[name] = (runs[name] ?? 0) + 1))
        const stuck = yield* Deferred.make<void>()
        const fanOut = Workflow.make({
          name: "fan-out",
          run: () =>
            Effect.gen(function*() {
              const squares = yield* Flow.parallel("squares", 4, (i) =>
                Effect.flatMap(count(`square${i}`), (n) =>
                  i === 2 && n === 1
                    ? Effect.zipRight(Deferred.succeed(stuck, undefined), Effect.never)
                    : Effect.succeed(i * i)))
              const q = yield* Flow.queue({
                name: "double",
                retries: 0,
                fn: (n: number) => Effect.as(count(`double${n}`), n * 2)
              })
              const doubled = yield* q.pushAll(squares)
              return yield* Flow.flow(
                "sum",
                Effect.succeed(doubled.reduce((a, b) =>
                  a + b, 0))
              )
            })
        })
        const { engine, id } = yield* interruptAndRestart(fanOut, undefined, () => Deferred.await(stuck))
        const resumed = yield* engine.resume(id)
        expect(yield* resumed.result).toBe(2 * (0 + 1 + 4 + 9))
        expect(runs).toEqual({
          square0: 1,
          square1: 1,
          square2: 2,
          square3: 1,
          double0: 1,
          double1: 1,
          double4: 1,
          double9: 1
        })
        const events = yield* collect(resumed.events)
        expectContiguous(events)
        const started = stepNames(events, "step_start")
        expect(new Set(started).size).toBe(started.length)
        expect(started).toEqual(expect.arrayContaining(["squares", "squares[2]", "double[3]", "sum"]))
        expect(stepNames(events, "step_end")).toHaveLength(started.length)
      }),
      ExecutionStorage.layerMemory
    ))
})
