/**
 * A run that storage stops (a commit fails: a full disk, a lost
 * connection) leaves its execution as stored, and its followers in this
 * process are told: their event streams fail with that storage failure
 * instead of waiting for events nobody will write. `result` still waits for
 * the end (recovery or `resume` goes on once storage is back), and a new run
 * of the execution is followed as usual.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Fiber } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { collect, startEngine } from "./helpers.js"

const full = new ExecutionStorage.StorageError({ operation: "commit", reason: "database or disk is full" })

/** The storage in context, whose run writers refuse every commit while `failing.on`. */
const withFailingWriters = <A, E, R>(failing: { on: boolean }, effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(
    ExecutionStorage.ExecutionStorage,
    (storage) =>
      Effect.provideService(effect, ExecutionStorage.ExecutionStorage, {
        ...storage,
        writer: (id, options) =>
          Effect.map(storage.writer(id, options), (writer) => ({
            commit: (commit, hold) => failing.on ? Effect.fail(full) : writer.commit(commit, hold)
          }))
      })
  )

describe("a run stopped by storage", () => {
  it.live("fails its followers' streams with the storage failure; the execution stays running, to be resumed", () =>
    Effect.gen(function*() {
      const failing = { on: false }
      let filled = false
      const reached = yield* Deferred.make<void>()
      const steps = Workflow.make({
        name: "steps",
        run: () =>
          Effect.gen(function*() {
            yield* Workflow.step("one", Effect.succeed(1))
            yield* Deferred.succeed(reached, undefined)
            // The disk fills while the second step runs, the first time only.
            yield* Workflow.step("two", Effect.sync(() => (failing.on ||= !filled, filled = true, 2)))
            return yield* Workflow.step("three", Effect.succeed(3))
          })
      })
      const { engine } = yield* withFailingWriters(failing, startEngine({ recover: false }))
      const handle = yield* engine.start(steps, undefined)
      const result = yield* Effect.fork(handle.result)
      yield* Deferred.await(reached)
      const followed = yield* Effect.flip(collect(handle.events))
      expect(followed).toEqual(full)
      // A stream opened after the stop hears it too, once it has read what was stored.
      expect(yield* Effect.flip(collect(engine.events(handle.id)))).toEqual(full)
      const record = yield* engine.status(handle.id)
      expect(record.status).toBe("running")
      expect(yield* Fiber.poll(result)).toMatchObject({ _tag: "None" })

      // Storage is back: a new run goes on from the journal, and its followers see it end.
      failing.on = false
      yield* engine.resume(handle.id)
      const events = yield* collect(engine.events(handle.id))
      expect(events.at(-1)).toMatchObject({ type: "final_output", data: 3 })
      expect(yield* Fiber.join(result)).toBe(3)
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))

  it.live("a stream opened after the stop hears it when it has read what was stored, not at the next poll", () =>
    Effect.gen(function*() {
      const failing = { on: false }
      const steps = Workflow.make({
        name: "stops",
        run: () =>
          Effect.gen(function*() {
            yield* Workflow.step("one", Effect.succeed(1))
            // The disk fills while the second step runs.
            return yield* Workflow.step("two", Effect.sync(() => (failing.on = true, 2)))
          })
      })
      // Polling hourly: a stream that waited for the poll to hear of the stop would not end in this test.
      const { engine } = yield* withFailingWriters(failing, startEngine({ recover: false, pollInterval: "1 hour" }))
      const handle = yield* engine.start(steps, undefined)
      expect(yield* Effect.flip(collect(handle.events))).toEqual(full)
      // That stream's reader is gone with it; this one's starts after the stop, with the log shorter than a page.
      const late = yield* Effect.flip(collect(engine.events(handle.id)).pipe(Effect.timeout("60 seconds")))
      expect(late).toEqual(full)
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))

  it.live("a resume asked for as soon as the stream failed runs the execution again, though the stopped run is still ending", () =>
    Effect.gen(function*() {
      const failing = { on: false }
      // The stopped run's last act, giving its lease up, is held until the test opens the gate: the run
      // has stopped (its followers heard it) but its fiber has not ended yet.
      const gate = yield* Deferred.make<void>()
      let bodies = 0
      const steps = Workflow.make({
        name: "stops-then-resumes",
        run: () =>
          Effect.gen(function*() {
            yield* Workflow.step("one", Effect.sync(() => (failing.on ||= ++bodies === 1, 1)))
            return yield* Workflow.step("two", Effect.succeed(2))
          })
      })
      const { engine } = yield* withFailingWriters(
        failing,
        Effect.flatMap(
          ExecutionStorage.ExecutionStorage,
          (storage) =>
            Effect.provideService(startEngine({ recover: false }), ExecutionStorage.ExecutionStorage, {
              ...storage,
              release: (id, owner) => Effect.zipRight(Deferred.await(gate), storage.release(id, owner))
            })
        )
      )
      const handle = yield* engine.start(steps, undefined)
      expect(yield* Effect.flip(collect(handle.events))).toEqual(full)
      // Storage is back; the caller resumes at once, as the stream's failure invites it to.
      failing.on = false
      const resuming = yield* Effect.fork(engine.resume(handle.id))
      yield* Effect.sleep("20 millis")
      yield* Deferred.succeed(gate, undefined)
      const resumed = yield* Fiber.join(resuming)
      // It runs again and finishes; it does not wait for a run that nobody launched.
      expect(yield* Effect.either(Effect.timeout(resumed.result, "5 seconds"))).toEqual(Either.right(2))
      expect(bodies).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))
})
