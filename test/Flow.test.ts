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
    it.effect("retries a failing task up to `retries` times after the first attempt", () =>
      Effect.gen(function*() {
        let attempts = 0
        const fiber = yield* Effect.fork(Effect.flip(Flow.queue({
          name: "q",
          retries: 2,
          fn: Effect.suspend(() => (attempts++, Effect.fail("x failed")))
        })))
        yield* TestClock.adjust("100 millis")
        expect(attempts).toBe(2)
        yield* TestClock.adjust("200 millis")
        expect(yield* Fiber.join(fiber)).toBe("x failed")
        expect(attempts).toBe(3)
        yield* TestClock.adjust("10 seconds")
        expect(attempts).toBe(3)
      }))

    it.effect("succeeds once an attempt succeeds, on a custom backoff; retries 3 times by default", () =>
      Effect.gen(function*() {
        let attempts = 0
        const fiber = yield* Effect.fork(Flow.queue({
          name: "q",
          backoff: Schedule.spaced("1 second"),
          fn: Effect.suspend(() => ++attempts < 4 ? Effect.fail("not yet") : Effect.succeed(attempts))
        }))
        yield* TestClock.adjust("3 seconds")
        expect(yield* Fiber.join(fiber)).toBe(4)
      }))

    it.effect("shares a named queue's concurrency limit within a root flow, however deep the caller", () =>
      Effect.gen(function*() {
        const { probe, track } = concurrencyProbe()
        const results = yield* Flow.flow(
          "root",
          Flow.all(
            "fan",
            [1, 2, 3, 4, 5, 6].map((n) =>
              Flow.flow(`inner${n}`, Flow.queue({ name: "q", concurrency: 2, fn: track(n + 1) }))
            )
          )
        )
        expect(results).toEqual([2, 3, 4, 5, 6, 7])
        expect(probe.max).toBe(2)
      }))
  })

  it.effect("defers a task until it is called, then shares its result within the root flow", () =>
    Effect.gen(function*() {
      let runs = 0
      const lazy = Flow.deferred("lazy", (n: number) => Effect.sync(() => (runs++, n * 2)))
      expect(runs).toBe(0)
      const [a, b] = yield* Flow.flow("root", Effect.all([lazy(2), lazy(3)]))
      expect([a, b, runs]).toEqual([4, 4, 1])
      expect(yield* lazy(5)).toBe(10)
      expect(runs).toBe(2)
    }))

  it.effect("processes recursively, pass by pass, up to maxPasses", () =>
    Effect.gen(function*() {
      interface Task {
        readonly n: number
        result?: number
      }
      const processed: Array<[number, number]> = []
      const subtasks: Array<Task> = []
      const root = yield* Flow.recursiveProcessor<Task, number, never, never>({ n: 1 }, {
        processor: (task, { pass }) => Effect.sync(() => (processed.push([task.n, pass]), task.n * 10)),
        generateSubtaskData: (result) => {
          const generated = [{ n: result / 10 + 1 }, { n: result / 10 + 2 }]
          subtasks.push(...generated)
          return generated
        },
        maxPasses: 3,
        concurrency: 2
      })
      expect(root).toBe(10)
      // pass 1: 1; pass 2: 2, 3; pass 3: 3, 4, 4, 5 (no pass 4)
      expect(processed.map(([, pass]) => pass).sort()).toEqual([1, 2, 2, 3, 3, 3, 3])
      // By default each subtask receives its result.
      expect(subtasks.map((task) => [task.n, task.result])).toEqual([
        [2, 20],
        [3, 30],
        [3, 30],
        [4, 40],
        [4, 40],
        [5, 50]
      ])
      const stored: Array<[number, number]> = []
      yield* Flow.recursiveProcessor(0, {
        processor: (n: number) => Effect.succeed(n),
        generateSubtaskData: (n, pass) => (pass === 1 ? [n + 1, n + 2] : []),
        storeSubtaskResult: (n, result) => {
          stored.push([n, result])
        },
        maxPasses: 5
      })
      expect(stored.sort()).toEqual([[1, 1], [2, 2]])
    }))

  it.scoped("journals flows inside a workflow, so a resumed execution skips finished branches", () =>
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
              const doubled = yield* Flow.all(
                "doubled",
                squares.map((n) => Flow.queue({ name: "double", fn: Effect.as(count(`double${n}`), n * 2) }))
              )
              return yield* Flow.flow(
                "sum",
                Effect.succeed(doubled.reduce((a, b) =>
                  a + b, 0))
              )
            })
        })
        const { engine, id } = yield* interruptAndRestart(fanOut, undefined, () =>
          Deferred.await(stuck))
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
        const times = (name: string) => started.filter((n) => n === name).length
        // Each branch started once; each numbers its own queue pushes.
        expect(["squares", "squares[0]", "squares[2]", "doubled", "doubled[3]", "sum"].map(times)).toEqual([
          1,
          1,
          1,
          1,
          1,
          1
        ])
        expect(times("double#0")).toBe(4)
        expect(stepNames(events, "step_end")).toHaveLength(started.length)
      }),
      ExecutionStorage.layerMemory
    ))
})
