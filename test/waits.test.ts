/**
 * Durable waits on every storage: `Workflow.sleep` and `Workflow.signal`.
 * Long sleeps run on `TestClock` (an hour costs no real time); the
 * execution's stored state (waiting, for what, until when, held by no one)
 * and its events are read from storage, and every step body counts its
 * runs, so that a wait that ran a step again fails.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Schema, TestClock } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { breathe, startEngine, stored, until, waiting } from "./helpers.js"
import { onEveryStorage } from "./pg.js"

const HOUR = 60 * 60 * 1000

const eventsOf = (id: string) =>
  Effect.flatMap(ExecutionStorage.ExecutionStorage, (storage) => storage.events(id, { fromSeq: 1, limit: 1_000 }))

/** A workflow: a step, a sleep of `ms`, a step; each step body counts its runs. */
const sleeper = (name: string, ms: number) => {
  const runs = { before: 0, after: 0 }
  const workflow = Workflow.make({
    name,
    run: (input: number) =>
      Effect.gen(function*() {
        const doubled = yield* Workflow.step("before", Effect.sync(() => (runs.before++, input * 2)))
        yield* Workflow.sleep(ms)
        return yield* Workflow.step("after", Effect.sync(() => (runs.after++, doubled + 1)))
      })
  })
  return { workflow, runs }
}

const Payment = Schema.Struct({ amount: Schema.Number })

const waitSuite = (name: string, layer: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>) =>
  describe(`durable waits on ${name}`, () => {
    const withStorage = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(Effect.scoped(effect), layer)

    it.effect("sleeps an hour with no process holding the execution, and wakes on the engine's clock", () =>
      withStorage(Effect.gen(function*() {
        const { runs, workflow } = sleeper(`${name}-hour`, HOUR)
        // A long lease: fewer renewal rounds for the TestClock to step through in an hour.
        const { engine } = yield* startEngine({ lease: "10 minutes" })
        const startedAt = yield* TestClock.currentTimeMillis
        const handle = yield* engine.start(workflow, 20)
        yield* until("it sleeps", waiting(handle.id))
        const asleep = yield* stored(handle.id)
        expect(asleep.waitingFor).toBe("sleep")
        expect(asleep.wakeAt).toBe(startedAt + HOUR)
        expect(asleep.leaseUntil).toBeUndefined()
        // A minute short of the hour: still asleep.
        yield* TestClock.adjust(HOUR - 60_000)
        for (let i = 0; i < 20; i++) yield* breathe
        expect((yield* stored(handle.id)).status).toBe("waiting")
        yield* TestClock.adjust(60_000)
        expect(yield* handle.result).toBe(41)
        expect(runs).toEqual({ before: 1, after: 1 })
        const events = yield* eventsOf(handle.id)
        const started = events.find((event) => event.type === "wait_started")
        expect(started).toMatchObject({ wait: "sleep", wakeAt: startedAt + HOUR })
        expect(events.map((event) => event.type)).toEqual([
          "step_start",
          "step_end",
          "wait_started",
          "wait_ended",
          "step_start",
          "step_end",
          "final_output"
        ])
      })))

    it.effect("wakes a sleep that ended while no engine ran, in the next engine, running no step twice", () =>
      withStorage(Effect.gen(function*() {
        const { runs, workflow } = sleeper(`${name}-restart`, HOUR)
        const first = yield* startEngine()
        const handle = yield* first.engine.start(workflow, 1)
        yield* until("it sleeps", waiting(handle.id))
        yield* first.stop
        // The hour passes while no engine runs.
        yield* TestClock.adjust(2 * HOUR)
        const second = yield* startEngine()
        yield* second.engine.register(workflow)
        yield* until("it completed", Effect.map(stored(handle.id), (record) => record.status === "completed"))
        expect((yield* stored(handle.id)).output).toBe(3)
        expect(runs).toEqual({ before: 1, after: 1 })
      })))

    it.live("wakes many sleepers, each once and none before its time", () =>
      withStorage(Effect.gen(function*() {
        const woke: Array<{ readonly ms: number; readonly at: number }> = []
        const workflow = Workflow.make({
          name: `${name}-many`,
          run: (ms: number) =>
            Effect.gen(function*() {
              yield* Workflow.sleep(ms)
              yield* Workflow.step("woke", Effect.sync(() => woke.push({ ms, at: Date.now() })))
              return ms
            })
        })
        const { engine } = yield* startEngine()
        const delays = Array.from({ length: 30 }, (_, i) => 300 + ((i * 37) % 30) * 10)
        const startedAt = Date.now()
        const handles = yield* Effect.forEach(delays, (ms) => engine.start(workflow, ms))
        expect(yield* Effect.forEach(handles, (handle) => handle.result)).toEqual(delays)
        // Each woke once, and none before its time.
        expect(woke.map(({ ms }) => ms).sort((a, b) => a - b)).toEqual(delays.slice().sort((a, b) => a - b))
        for (const { at, ms } of woke) expect(at - startedAt).toBeGreaterThanOrEqual(ms)
      })))

    it.live("delivers signals sent before the body waits, in the order sent, and one sent while it waits", () =>
      withStorage(Effect.gen(function*() {
        const workflow = Workflow.make({
          name: `${name}-signals`,
          run: () =>
            Effect.gen(function*() {
              yield* Workflow.sleep(50)
              const first = yield* Workflow.signal("pay", Payment)
              const second = yield* Workflow.signal("pay", Payment)
              const third = yield* Workflow.signal("pay", Payment)
              return [first.amount, second.amount, third.amount]
            })
        })
        const { engine } = yield* startEngine()
        const handle = yield* engine.start(workflow, null)
        // Two before the body gets to its waits: kept in the inbox.
        yield* engine.signal(handle.id, "pay", { amount: 1 })
        yield* engine.signal(handle.id, "pay", { amount: 2 })
        yield* until("it waits for the third", Effect.map(stored(handle.id), (r) => r.waitingFor === "signal:pay"))
        expect((yield* stored(handle.id)).leaseUntil).toBeUndefined()
        yield* engine.signal(handle.id, "pay", { amount: 3 })
        expect(yield* handle.result).toEqual([1, 2, 3])
        const types = (yield* eventsOf(handle.id)).map((event) => event.type)
        expect(types.filter((type) => type === "signal_received")).toHaveLength(3)
        expect(types.filter((type) => type === "wait_ended")).toHaveLength(4)
      })))

    it.effect("gives Option.none() when no signal comes before the timeout, on the engine's clock", () =>
      withStorage(Effect.gen(function*() {
        const workflow = Workflow.make({
          name: `${name}-timeout`,
          run: () =>
            Effect.map(Workflow.signal("go", Schema.String, { timeout: "1 hour" }), Option.getOrElse(() => "none"))
        })
        const { engine } = yield* startEngine({ lease: "10 minutes" })
        const handle = yield* engine.start(workflow, null)
        yield* until("it waits", waiting(handle.id))
        expect((yield* stored(handle.id)).wakeAt).toBe((yield* TestClock.currentTimeMillis) + HOUR)
        yield* TestClock.adjust(HOUR)
        expect(yield* handle.result).toBe("none")
        const ended = (yield* eventsOf(handle.id)).find((event) => event.type === "wait_ended")
        expect(ended).toMatchObject({ wait: "signal", name: "go", timedOut: true })
        // Sent after it gave up: refused, the execution has finished.
        const late = yield* Effect.flip(engine.signal(handle.id, "go", "late"))
        expect(late._tag).toBe("ExecutionFinished")
      })))

    it.live("refuses a payload the workflow's declared schema refuses, and a name it does not declare", () =>
      withStorage(Effect.gen(function*() {
        const workflow = Workflow.make({
          name: `${name}-declared`,
          signals: { pay: Payment },
          run: () => Effect.map(Workflow.signal("pay", Payment), (payment) => payment.amount)
        })
        const { engine } = yield* startEngine()
        const handle = yield* engine.start(workflow, null)
        yield* until("it waits", waiting(handle.id))
        const before = (yield* stored(handle.id)).lastSeq
        const bad = yield* Effect.flip(engine.signal(handle.id, "pay", { amount: "ten" }))
        expect(bad._tag).toBe("InvalidSignal")
        expect(bad.message).toContain("amount")
        const unknown = yield* Effect.flip(engine.signal(handle.id, "__proto__", { amount: 1 }))
        expect(unknown._tag).toBe("InvalidSignal")
        expect(unknown.message).toContain("declares no such signal (it declares: pay)")
        // Nothing stored for either: still waiting, no event.
        const after = yield* stored(handle.id)
        expect([after.status, after.lastSeq]).toEqual(["waiting", before])
        expect(Exit.isFailure(yield* Effect.exit(engine.signal("no-such-execution", "pay", { amount: 1 })))).toBe(true)
        yield* engine.signal(handle.id, "pay", { amount: 10 })
        expect(yield* handle.result).toBe(10)
      })))

    it.live("skips, with a warning in the log, a signal the body cannot decode when none was declared", () =>
      withStorage(Effect.gen(function*() {
        const workflow = Workflow.make({
          name: `${name}-undeclared`,
          run: () => Effect.map(Workflow.signal("pay", Payment), (payment) => payment.amount)
        })
        const { engine } = yield* startEngine()
        const handle = yield* engine.start(workflow, null)
        yield* engine.signal(handle.id, "pay", { amount: "ten" })
        yield* engine.signal(handle.id, "pay", { amount: 7 })
        expect(yield* handle.result).toBe(7)
        const warning = (yield* eventsOf(handle.id)).find((event) => event.type === "log")
        expect(warning).toMatchObject({ level: "warn" })
        expect(warning?.type === "log" && warning.message).toContain("skipped")
      })))

    it.live("says a wait began once per wait: again after a skipped signal, never on a replay", () =>
      withStorage(Effect.gen(function*() {
        const workflow = Workflow.make({
          name: `${name}-said-once`,
          run: () => Effect.map(Workflow.signal("pay", Payment), (payment) => payment.amount)
        })
        const { engine } = yield* startEngine()
        const handle = yield* engine.start(workflow, null)
        const waitsBegun = Effect.map(
          eventsOf(handle.id),
          (events) => events.filter((event) => event.type === "wait_started").length
        )
        yield* until("it waits", waiting(handle.id))
        // Replays of the waiting body (resumed twice): its log already says it waits.
        for (let i = 0; i < 2; i++) {
          const before = (yield* stored(handle.id)).lastSeq
          yield* engine.resume(handle.id)
          yield* until("it waits again", Effect.map(stored(handle.id), (r) => r.status === "waiting"))
          expect((yield* stored(handle.id)).lastSeq).toBe(before)
        }
        expect(yield* waitsBegun).toBe(1)
        // A signal it skips: the wait goes on, and says so once more.
        yield* engine.signal(handle.id, "pay", { amount: "ten" })
        yield* until(
          "it waits after the skip",
          Effect.map(eventsOf(handle.id), (events) => events.at(-1)?.type === "wait_started")
        )
        expect(yield* waitsBegun).toBe(2)
        yield* engine.signal(handle.id, "pay", { amount: 7 })
        expect(yield* handle.result).toBe(7)
      })))

    it.live("resumes a waiting execution signalled from an engine that does not have its workflow", () =>
      withStorage(Effect.gen(function*() {
        const workflow = Workflow.make({
          name: `${name}-client`,
          run: () => Workflow.signal("go", Schema.Number)
        })
        const worker = yield* startEngine({ lease: "1 second" })
        const handle = yield* worker.engine.start(workflow, null)
        yield* until("it waits", waiting(handle.id))
        const client = yield* startEngine({ recover: false })
        yield* client.engine.signal(handle.id, "go", 5)
        expect(yield* handle.result).toBe(5)
      })))
  })

onEveryStorage(waitSuite)
