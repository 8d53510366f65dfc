/**
 * The Clock rules a workflow: under `TestClock`, every time the engine and a
 * body record (event timestamps, step durations, record times) is the test
 * clock's, and a body that waits on the clock waits on it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { collect, startEngine } from "./helpers.js"

const START = Date.UTC(2001, 0, 1)

describe("the Clock rules a workflow", () => {
  it.effect("timestamps, durations and record times come from TestClock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(START)
      const { engine } = yield* startEngine()
      const timed = Workflow.make({
        name: "timed",
        run: () =>
          Effect.gen(function*() {
            yield* Workflow.log("info", "before")
            // A step that waits 5 seconds on the clock: nothing moves until the test moves it.
            yield* Workflow.step("wait", Effect.sleep("5 seconds"))
            yield* Workflow.emit({ type: "output_chunk", data: "no timestamp given" })
            return "done"
          })
      })
      const handle = yield* engine.start(timed, undefined)
      const result = yield* Effect.fork(handle.result)
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(result)).toBe("done")
      const events = yield* collect(handle.events)
      const at = (type: string) => events.find((event) => event.type === type)!
      expect(at("log").timestamp).toBe(START)
      expect(at("step_start").timestamp).toBe(START)
      expect(at("step_end")).toMatchObject({ timestamp: START + 5000, durationMs: 5000 })
      expect(at("output_chunk").timestamp).toBe(START + 5000)
      expect(at("final_output").timestamp).toBe(START + 5000)
      const record = yield* handle.status
      expect(record).toMatchObject({ createdAt: START, updatedAt: START + 5000 })
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))
})
