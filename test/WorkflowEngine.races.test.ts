/**
 * Races and edge cases of the engine: launches, cancels and approvals that
 * meet a run at awkward moments, runs started from inside flows, bodies that
 * end in odd ways, and bad options.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Option, Schema } from "effect"
import { ExecutionStorage, Flow, Workflow } from "../src/index.js"
import { collect, interruptAndRestart, startEngine, waitForEvent } from "./helpers.js"

/** The memory storage with reads that take a little time, as any storage doing I/O does. */
const slowStorage = Layer.effect(
  ExecutionStorage.ExecutionStorage,
  Effect.map(ExecutionStorage.ExecutionStorage, (storage) => ({
    ...storage,
    // Commits that go through an Effect each, as a storage doing I/O makes them.
    writer: ExecutionStorage.writerFromCommit(storage.commit),
    journal: (id: string) => Effect.delay(storage.journal(id), "20 millis")
  }))
).pipe(Layer.provide(ExecutionStorage.layerMemory))

const within = <A, E, R>(ms: number, effect: Effect.Effect<A, E, R>) => Effect.timeoutOption(effect, `${ms} millis`)
const forever = (name: string) => Workflow.make({ name, run: () => Workflow.step("wait", Effect.never) })

describe("WorkflowEngine races", () => {
  it.live("cancel right after start interrupts the run that is still loading its journal", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const handle = yield* engine.start(forever("starting"), undefined)
      expect(Option.isSome(yield* within(1000, handle.cancel))).toBe(true)
      expect((yield* handle.status).status).toBe("cancelled")
      expect(yield* Effect.flip(handle.result)).toMatchObject({ _tag: "WorkflowCancelled" })
    }).pipe(Effect.scoped, Effect.provide(slowStorage)))

  it.live("resume and approve of a run that is starting return at once instead of waiting for it", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const handle = yield* engine.start(forever("starting2"), undefined)
      expect(Option.isSome(yield* within(1000, engine.resume(handle.id)))).toBe(true)
      expect(Option.isSome(yield* within(1000, engine.resume(handle.id)))).toBe(true)
      yield* handle.cancel
    }).pipe(Effect.scoped, Effect.provide(slowStorage)))

  it.live("an answer given while a resumed run replays its journal reaches that run", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const two = Workflow.make({
        name: "two-approvals",
        run: () =>
          Effect.zipRight(
            Effect.sleep("50 millis"), // work before the approvals: the resumed run is busy when y is answered
            Flow.all("ask", [
              Workflow.approval({ taskId: "x", dataForApproval: 1 }),
              Workflow.approval({ taskId: "y", dataForApproval: 2 })
            ])
          )
      })
      const handle = yield* engine.start(two, undefined)
      yield* waitForEvent(engine, handle.id, (e) => e.type === "human_approval_required" && e.taskId === "y")
      yield* Effect.sleep("10 millis")
      yield* engine.approve(handle.id, "x", { status: "approved" })
      yield* Effect.sleep("10 millis")
      yield* engine.approve(handle.id, "y", { status: "rejected" })
      const result = yield* within(2000, handle.result)
      expect(Option.getOrNull(result)).toEqual([{ status: "approved" }, { status: "rejected" }])
      expect((yield* handle.status).status).toBe("completed")
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))

  it.live("cancel that loses the race with completion says the execution finished", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const quick = Workflow.make({ name: "quick", run: () => Workflow.step("s", Effect.succeed(1)) })
      const handle = yield* engine.start(quick, undefined)
      yield* handle.result
      expect(yield* Effect.flip(handle.cancel)).toMatchObject({ _tag: "ExecutionFinished", status: "completed" })
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))
})

describe("WorkflowEngine edge cases", () => {
  it.live("executions started from inside a flow do not share its task cache", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const echo = Workflow.make({
        name: "echo",
        input: Schema.Number,
        run: (n: number) => Flow.flow("compute", Effect.succeed(n * 10))
      })
      const handles = yield* Flow.flow("batch", Effect.forEach([1, 2], (n) => engine.start(echo, n)))
      expect(yield* Effect.forEach(handles, (handle) => handle.result)).toEqual([10, 20])
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))

  it.live("a body that ends interrupted on its own fails instead of staying running", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const selfInterrupting = Workflow.make({
        name: "self-interrupting",
        run: () => Effect.zipRight(Workflow.step("a", Effect.succeed(1)), Effect.interrupt)
      })
      const handle = yield* engine.start(selfInterrupting, undefined)
      const error = yield* within(1000, Effect.flip(handle.result))
      expect(Option.getOrNull(error)).toMatchObject({ _tag: "WorkflowFailed", error: { name: "Interrupted" } })
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))

  it.live("a step result its schema cannot encode fails the first run as it would fail a replay", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const half = Workflow.make({
        name: "half",
        run: () =>
          Effect.gen(function*() {
            const n = yield* Workflow.step("half", Effect.succeed(1.5), { success: Schema.Int })
            yield* Workflow.approval({ taskId: "t", dataForApproval: n })
            return n
          })
      })
      const handle = yield* engine.start(half, undefined)
      const error = yield* Effect.flip(handle.result)
      expect(error).toMatchObject({ _tag: "WorkflowFailed", error: { message: expect.stringContaining("integer") } })
      const types = (yield* collect(handle.events)).map((e) => e.type)
      expect(types).toEqual(["step_start", "step_end", "workflow_error"])
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))

  it.live("queue task numbers do not depend on how fast the first run's branches were", () =>
    Effect.gen(function*() {
      const branch = (name: string, ms: number) =>
        Effect.gen(function*() {
          yield* Workflow.step(name, Effect.sleep(`${ms} millis`))
          const result = yield* Flow.queue({ name: "q", fn: Effect.succeed(name) })
          yield* Effect.sleep("200 millis") // still running when the process stops
          return result
        })
      const racing = Workflow.make({
        name: "racing",
        run: () => Flow.all("p", [branch("slow", 50), branch("fast", 5)])
      })
      const { engine, id } = yield* interruptAndRestart(racing, undefined, () => Effect.sleep("100 millis"))
      yield* engine.resume(id)
      expect(Either.getOrNull(yield* Effect.either(engine.result(id)))).toEqual(["slow", "fast"])
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))

  it.effect("rejects bad engine options and a bad fromSeq with errors naming them", () =>
    Effect.gen(function*() {
      const pageSize = yield* Effect.flip(startEngine({ pageSize: Number("oops") }))
      expect(pageSize).toMatchObject({ _tag: "InvalidOption", option: "pageSize" })
      expect(pageSize.message).toBe("Invalid pageSize: NaN (expected an integer of at least 1)")
      const poll = yield* Effect.flip(startEngine({ pollInterval: -5 }))
      expect(poll).toMatchObject({ _tag: "InvalidOption", option: "pollInterval" })
      const { engine } = yield* startEngine()
      const handle = yield* engine.start(Workflow.make({ name: "one", run: () => Effect.succeed(1) }), undefined)
      yield* handle.result
      const fromSeq = yield* Effect.flip(collect(engine.events(handle.id, { fromSeq: 0.5 })))
      expect(fromSeq).toMatchObject({ _tag: "InvalidOption", option: "fromSeq" })
      expect(yield* collect(engine.events(handle.id, { fromSeq: 99 }))).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))
})
