/**
 * Retention on every storage: `engine.purge` deletes finished executions with
 * their events, journal and inbox, in bounded batches, and never touches an
 * unfinished one, even while it runs or waits; a retention policy purges on
 * its own.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Schema } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { startEngine, until } from "./helpers.js"
import { onEveryStorage } from "./pg.js"

const exists = (id: string) =>
  Effect.flatMap(ExecutionStorage.ExecutionStorage, (storage) =>
    storage.get(id).pipe(
      Effect.as(true),
      Effect.catchTag("ExecutionNotFound", () => Effect.succeed(false))
    ))

const purgeSuite = (name: string, layer: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>) =>
  describe(`retention on ${name}`, () => {
    const withStorage = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(Effect.scoped(effect), layer)

    it.live("deletes finished executions in batches, with their logs, and none that is unfinished, during live runs", () =>
      withStorage(Effect.gen(function*() {
        const storage = yield* ExecutionStorage.ExecutionStorage
        const gate = yield* Deferred.make<void>()
        const finished = Workflow.make({
          name: `${name}-finished`,
          run: (n: number) => n % 2 === 0 ? Workflow.step("ok", Effect.succeed(n)) : Effect.fail(`odd ${n}`)
        })
        const running = Workflow.make({
          name: `${name}-running`,
          run: () => Workflow.step("gate", Deferred.await(gate))
        })
        const waiting = Workflow.make({ name: `${name}-waiting`, run: () => Workflow.signal("go", Schema.Number) })
        const { engine } = yield* startEngine()
        const done = yield* Effect.forEach([0, 1, 2, 3, 4], (n) => engine.start(finished, n))
        yield* Effect.forEach(done, (handle) => Effect.either(handle.result))
        const live = yield* engine.start(running, null)
        const asleep = yield* engine.start(waiting, null)
        yield* engine.signal(asleep.id, "other", 1)
        yield* until("it waits", Effect.map(storage.get(asleep.id), (r) => r.status === "waiting"))

        // Younger than an hour: nothing goes.
        expect(yield* engine.purge({ olderThan: "1 hour" })).toBe(0)
        // Failed ones only, two per batch.
        expect(yield* engine.purge({ olderThan: 0, status: "failed", batchSize: 2 })).toBe(2)
        expect(yield* Effect.forEach(done, (handle) => exists(handle.id))).toEqual([true, false, true, false, true])
        // The rest of the finished ones, with everything stored for them.
        expect(yield* engine.purge({ olderThan: 0, batchSize: 2 })).toBe(3)
        for (const handle of done) {
          expect(yield* exists(handle.id)).toBe(false)
          expect(yield* storage.events(handle.id, { fromSeq: 1, limit: 10 })).toEqual([])
          expect(yield* storage.journal(handle.id)).toEqual([])
        }
        // The unfinished ones are untouched, and go on.
        expect(yield* exists(live.id)).toBe(true)
        expect((yield* storage.inbox!(asleep.id)).map((signal) => signal.name)).toEqual(["other"])
        yield* Deferred.succeed(gate, undefined)
        yield* engine.signal(asleep.id, "go", 7)
        expect([yield* live.result, yield* asleep.result]).toEqual([undefined, 7])
        // Finished now, with an inbox: purged with it.
        expect(yield* engine.purge({ olderThan: 0, workflow: waiting.name })).toBe(1)
        expect(yield* storage.inbox!(asleep.id)).toEqual([])
        expect(yield* exists(live.id)).toBe(true)
      })))

    it.live("refuses a status that is not a finished one, and a negative age", () =>
      withStorage(Effect.gen(function*() {
        const { engine } = yield* startEngine()
        const refused = (options: Parameters<typeof engine.purge>[0]) =>
          Effect.map(Effect.flip(engine.purge(options)), (error) => error._tag)
        expect(yield* refused({ olderThan: 0, status: "running" as never })).toBe("InvalidOption")
        expect(yield* refused({ olderThan: -1 })).toBe("InvalidOption")
        expect(yield* refused({ olderThan: 0, batchSize: 0 })).toBe("InvalidOption")
      })))

    it.live("purges on its own with a retention policy", () =>
      withStorage(Effect.gen(function*() {
        const quick = Workflow.make({ name: `${name}-quick`, run: () => Workflow.step("ok", Effect.succeed(1)) })
        const { engine } = yield* startEngine({ retention: { olderThan: 0, every: "20 millis" } })
        const handle = yield* engine.start(quick, null)
        yield* handle.result
        yield* until("it is purged", Effect.map(exists(handle.id), (found) => !found))
      })))
  })

onEveryStorage(purgeSuite)
