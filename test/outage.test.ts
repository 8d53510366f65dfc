/**
 * Watchers over a storage that fails for a while (a lost connection): `result`
 * and event streams retry storage errors with a bounded backoff, and fail with
 * the storage's error once an outage lasts too long. Nothing else is retried.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { collect, startEngine } from "./helpers.js"

const twoSteps = Workflow.make({
  name: "two-steps",
  run: () =>
    Effect.zipWith(Workflow.step("a", Effect.succeed(1)), Workflow.step("b", Effect.succeed(2)), (a, b) => a + b)
})

/** The memory storage, whose reads fail while `down` holds; `reads` counts the reads tried. */
const flaky = Effect.gen(function*() {
  const storage = yield* ExecutionStorage.makeMemory
  const state = { down: false, reads: 0, decoding: false }
  const lost = (operation: string) =>
    state.decoding
      ? new ExecutionStorage.StorageError({ operation: "decode", reason: "the output is not valid JSON" })
      : new ExecutionStorage.StorageError({ operation, reason: "connection lost" })
  const service: ExecutionStorage.ExecutionStorageService = {
    ...storage,
    get: (id) => Effect.suspend(() => (state.reads++, state.down ? Effect.fail(lost("get")) : storage.get(id))),
    events: (id, options) =>
      Effect.suspend(() => (state.reads++, state.down ? Effect.fail(lost("events")) : storage.events(id, options)))
  }
  return { service, state }
})

describe("watching through a storage outage", () => {
  it.effect("result and events go on once the storage answers again, and fail after about a minute", () =>
    Effect.gen(function*() {
      const { service, state } = yield* flaky
      yield* Effect.gen(function*() {
        const { engine } = yield* startEngine({ recover: false })
        const handle = yield* engine.start(twoSteps, undefined)
        expect(yield* handle.result).toBe(3)

        // A short outage: the reads are retried until the storage answers again.
        state.down = true
        const result = yield* Effect.fork(engine.result(handle.id))
        const events = yield* Effect.fork(collect(engine.events(handle.id)))
        yield* TestClock.adjust("20 seconds")
        expect(Option.isNone(yield* Fiber.poll(result))).toBe(true)
        expect(Option.isNone(yield* Fiber.poll(events))).toBe(true)
        state.down = false
        yield* TestClock.adjust("5 seconds")
        expect(yield* Fiber.join(result)).toBe(3)
        expect((yield* Fiber.join(events)).map((e) => e.type)).toEqual([
          "step_start",
          "step_end",
          "step_start",
          "step_end",
          "final_output"
        ])

        // Backing off: tries 100 ms apart at first, at most 5 s apart later, so about twenty in a minute.
        state.down = true
        state.reads = 0
        const failing = yield* Effect.fork(Effect.flip(engine.result(handle.id)))
        yield* TestClock.adjust("2 minutes")
        const error = yield* Fiber.join(failing)
        expect(error).toMatchObject({ _tag: "StorageError", operation: "get", reason: "connection lost" })
        expect(state.reads).toBeGreaterThan(10)
        expect(state.reads).toBeLessThan(30)

        // What a retry cannot change fails at once (with no time passing): a stored value that does not
        // decode, a missing execution.
        state.decoding = true
        expect(yield* Effect.flip(engine.result(handle.id))).toMatchObject({
          _tag: "StorageError",
          operation: "decode"
        })
        state.down = false
        expect(yield* Effect.flip(engine.result("no-such-execution"))).toMatchObject({ _tag: "ExecutionNotFound" })
      }).pipe(Effect.provideService(ExecutionStorage.ExecutionStorage, service), Effect.scoped)
    }))
})
