import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Schedule, Schema, Stream, TestClock } from "effect"
import type { Layer } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import {
  collect,
  expectContiguous,
  interruptAndRestart,
  startEngine,
  stepNames,
  untilSleeping,
  waitForEvent
} from "./helpers.js"

const greet = Workflow.make({
  name: "greet",
  description: "Greets someone in two steps",
  input: Schema.Struct({ name: Schema.String }),
  output: Schema.Struct({ greeting: Schema.String }),
  run: ({ name }) =>
    Effect.gen(function*() {
      const upper = yield* Workflow.step("upper", Effect.sync(() => name.toUpperCase()))
      yield* Workflow.log("info", `greeting ${upper}`)
      yield* Workflow.chunk("Hello, ")
      const greeting = yield* Workflow.step("compose", Effect.succeed(`Hello, ${upper}!`))
      return { greeting }
    })
})

/** Counts how often each step body really ran. */
const counter = () => {
  const counts: Record<string, number> = {}
  const count = (name: string) => Effect.sync(() => (counts[name] = (counts[name] ?? 0) + 1))
  return { counts, count }
}

/** The engine's behaviour, written once and run over each storage. */
export const engineSuite = (name: string, layer: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>) =>
  describe(`WorkflowEngine over ${name}`, () => {
    const withStorage = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(Effect.scoped(effect), layer)

    it.effect("runs a workflow and streams its events in order", () =>
      withStorage(Effect.gen(function*() {
        const { engine } = yield* startEngine()
        const handle = yield* engine.start(greet, { name: "ada" })
        expect(yield* handle.result).toEqual({ greeting: "Hello, ADA!" })
        const events = yield* collect(handle.events)
        expectContiguous(events)
        expect(events.map((e) => e.type)).toEqual([
          "step_start",
          "step_end",
          "log",
          "output_chunk",
          "step_start",
          "step_end",
          "final_output"
        ])
        expect(events.every((e) => e.workflowInstanceId === handle.id)).toBe(true)
        expect(events[1]).toMatchObject({ runnableName: "upper", output: "ADA" })
        expect(events[6]).toMatchObject({ type: "final_output", data: { greeting: "Hello, ADA!" } })
        expect(yield* handle.status).toMatchObject({ status: "completed", workflow: "greet", input: { name: "ada" } })
        expect(yield* engine.list).toEqual([{ name: "greet", description: "Greets someone in two steps" }])
      })))

    it.effect("gives late and concurrent subscribers the same complete, gap-free log", () =>
      withStorage(Effect.gen(function*() {
        const { engine } = yield* startEngine()
        const gate = yield* Deferred.make<void>()
        const many = Workflow.make({
          name: "many",
          run: () =>
            Effect.gen(function*() {
              for (let i = 0; i < 30; i++) {
                yield* Workflow.step(`s${i}`, i === 10 ? Deferred.await(gate) : Effect.yieldNow())
                yield* Workflow.log("debug", `after ${i}`)
              }
              return "ok"
            })
        })
        const handle = yield* engine.start(many, undefined)
        const early = yield* Effect.forEach(Array.from({ length: 5 }), () => Effect.fork(collect(handle.events)))
        yield* waitForEvent(engine, handle.id, (e) => e.type === "step_start" && e.runnableName === "s10")
        const middle = yield* Effect.forEach(Array.from({ length: 5 }), () => Effect.fork(collect(handle.events)))
        yield* Deferred.succeed(gate, undefined)
        expect(yield* handle.result).toBe("ok")
        const late = yield* collect(engine.events(handle.id))
        const logs = yield* Effect.forEach([...early, ...middle], Fiber.join)
        expectContiguous(late)
        expect(late).toHaveLength(30 * 3 + 1)
        for (const log of logs) expect(log).toEqual(late)
        const tail = yield* collect(engine.events(handle.id, { fromSeq: 85 }))
        expect(tail.map((e) => e.seq)).toEqual([85, 86, 87, 88, 89, 90, 91])
      })))

    it.effect("reads a slow subscriber's events from storage a page at a time", () =>
      withStorage(Effect.gen(function*() {
        const { engine } = yield* startEngine({ pageSize: 8 })
        const chatty = Workflow.make({
          name: "chatty",
          run: () => Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) => Workflow.log("info", `line ${i}`))
        })
        const handle = yield* engine.start(chatty, undefined)
        const chunkSizes: Array<number> = []
        const seen = yield* handle.events.pipe(
          Stream.chunks,
          Stream.tap((chunk) => Effect.sync(() => chunkSizes.push(chunk.length))),
          Stream.flattenChunks,
          Stream.tap(() => Effect.yieldNow()),
          collect
        )
        expect(seen).toHaveLength(201)
        expectContiguous(seen)
        expect(Math.max(...chunkSizes)).toBeLessThanOrEqual(8)
      })))

    it.live("stores each step's end before a later step's body starts, and a slow step's start while it runs", () =>
      withStorage(Effect.gen(function*() {
        const { engine } = yield* startEngine()
        const storage = yield* ExecutionStorage.ExecutionStorage
        // What storage holds of the execution's journal when each body starts (or, for "slow", while it runs).
        const seen: Record<string, Array<string>> = {}
        const stored = (id: string) =>
          Effect.map(storage.journal(id), (entries) => entries.map((e) => `${e.name}:${e.state}`).sort())
        const look = (name: string) =>
          Effect.flatMap(
            Workflow.ExecutionContext,
            ({ executionId }) => Effect.map(stored(executionId), (entries) => void (seen[name] = entries))
          )
        const workflow = Workflow.make({
          name: "ends-stored-first",
          run: () =>
            Effect.gen(function*() {
              yield* Workflow.step("a", Effect.succeed(1))
              yield* Workflow.step("b", look("b"))
              // A body that waits until its start is stored (held back at first, it is stored once the body waits).
              yield* Workflow.step(
                "slow",
                Effect.repeat(look("slow"), {
                  until: () => seen.slow?.includes("slow:started") === true,
                  schedule: Schedule.spaced("5 millis")
                })
              )
              yield* Workflow.step("c", look("c"))
              return "done"
            })
        })
        const handle = yield* engine.start(workflow, undefined)
        expect(yield* handle.result).toBe("done")
        // (A body's own start may be stored already, or still held back.)
        expect(seen.b).toEqual(expect.arrayContaining(["a:completed"]))
        expect(seen.slow).toEqual(["a:completed", "b:completed", "slow:started"])
        expect(seen.c).toEqual(expect.arrayContaining(["a:completed", "b:completed", "slow:completed"]))
        // The last step's end is stored with the outcome, nothing lost.
        expect(yield* stored(handle.id)).toEqual(["a:completed", "b:completed", "c:completed", "slow:completed"])
        expect((yield* collect(handle.events)).map((e) => e.type)).toEqual([
          ...Array.from({ length: 4 }, () => ["step_start", "step_end"]).flat(),
          "final_output"
        ])
      })))

    it.effect("resumes after a shutdown without re-running journaled steps", () =>
      withStorage(Effect.gen(function*() {
        const { count, counts } = counter()
        const started = yield* Deferred.make<void>()
        const flaky = Workflow.make({
          name: "resumable",
          run: (input: { readonly n: number }) =>
            Effect.gen(function*() {
              const a = yield* Workflow.step("a", Effect.as(count("a"), input.n))
              yield* Workflow.log("info", "between a and b")
              const b = yield* Workflow.step("b", Effect.as(count("b"), a + 1))
              const c = yield* Workflow.step(
                "c",
                Effect.flatMap(
                  count("c"),
                  (n) =>
                    n === 1
                      ? Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)
                      : Effect.succeed(b * 10)
                )
              )
              return yield* Workflow.step("d", Effect.as(count("d"), c + 1))
            })
        })
        const { engine, id } = yield* interruptAndRestart(flaky, { n: 1 }, () => Deferred.await(started))
        expect((yield* engine.status(id)).status).toBe("running")
        const resumed = yield* engine.resume(id)
        expect(yield* resumed.result).toBe(21)
        expect(counts).toEqual({ a: 1, b: 1, c: 2, d: 1 })
        const events = yield* collect(resumed.events)
        expectContiguous(events)
        expect(stepNames(events, "step_start")).toEqual(["a", "b", "c", "d"])
        expect(stepNames(events, "step_end")).toEqual(["a", "b", "c", "d"])
        expect(events.filter((e) => e.type === "log")).toHaveLength(1)
      })))

    it.effect("fails clearly when the resumed code no longer matches the journal", () =>
      withStorage(Effect.gen(function*() {
        const started = yield* Deferred.make<void>()
        const v1 = Workflow.make({
          name: "evolving",
          run: () =>
            Effect.gen(function*() {
              yield* Workflow.step("fetch", Effect.succeed(1))
              yield* Workflow.step("transform", Effect.zipRight(Deferred.succeed(started, undefined), Effect.never))
            })
        })
        const v2 = Workflow.make({
          name: "evolving",
          run: () =>
            Effect.gen(function*() {
              yield* Workflow.step("fetch", Effect.succeed(1))
              yield* Workflow.step("validate", Effect.succeed(2))
            })
        })
        const { engine, id } = yield* interruptAndRestart(v1, undefined, () => Deferred.await(started), v2)
        const error = yield* Effect.flip((yield* engine.resume(id)).result)
        expect(error._tag).toBe("WorkflowFailed")
        if (error._tag !== "WorkflowFailed") return
        expect(error.error.name).toBe("NonDeterminism")
        expect(error.error.message).toContain(`step "transform"`)
        expect(error.error.message).toContain(`step "validate"`)
        const events = yield* collect(engine.events(id))
        expectContiguous(events)
        expect(events.map((e) => e.type)).toEqual(["step_start", "step_end", "step_start", "workflow_error"])
      })))

    describe("recovery", () => {
      it.live("resumes an execution left running as soon as its workflow is registered again", () =>
        withStorage(Effect.gen(function*() {
          const { count, counts } = counter()
          const started = yield* Deferred.make<void>()
          const name = `recovered-${Math.random().toString(36).slice(2, 8)}`
          const slow = Workflow.make({
            name,
            run: () =>
              Effect.gen(function*() {
                yield* Workflow.step("a", count("a"))
                return yield* Workflow.step(
                  "b",
                  Effect.flatMap(count("b"), (n) =>
                    n === 1
                      ? Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)
                      : Effect.succeed("done"))
                )
              })
          })
          const first = yield* startEngine()
          const handle = yield* first.engine.start(slow, undefined)
          yield* Deferred.await(started)
          yield* first.stop
          const second = yield* startEngine()
          yield* second.engine.register(slow)
          expect(yield* second.engine.result(handle.id)).toBe("done")
          expect(counts).toEqual({ a: 1, b: 2 })
        })))

      it.live("leaves an execution to the live engine that owns it, and takes over once that one stops", () =>
        withStorage(Effect.gen(function*() {
          const { count, counts } = counter()
          const name = `owned-${Math.random().toString(36).slice(2, 8)}`
          const release = yield* Deferred.make<void>()
          const owned = Workflow.make({
            name,
            run: () => Workflow.step("work", Effect.zipRight(count("work"), Deferred.await(release)))
          })
          const a = yield* startEngine({ lease: "300 millis" })
          const handle = yield* a.engine.start(owned, undefined)
          yield* waitForEvent(a.engine, handle.id, (e) => e.type === "step_start")
          const b = yield* startEngine({ lease: "300 millis" })
          yield* b.engine.register(owned)
          yield* Effect.sleep("500 millis") // several of b's recovery rounds, while a renews its lease
          expect(counts.work).toBe(1)
          yield* a.stop
          yield* Deferred.succeed(release, undefined)
          yield* Effect.timeoutFail(b.engine.result(handle.id), {
            duration: "60 seconds",
            onTimeout: () => new Error("b did not take over")
          })
          expect(counts.work).toBe(2)
        })))
    })

    it.live(
      "refuses the commits of a run whose execution another engine claimed, and that run stops quietly",
      () =>
        withStorage(Effect.gen(function*() {
          const { count, counts } = counter()
          const gate = yield* Deferred.make<void>()
          let entered = 0
          const handover = Workflow.make({
            name: `handover-${Math.random().toString(36).slice(2, 8)}`,
            run: () =>
              Effect.gen(function*() {
                yield* Workflow.step("one", count("one"))
                // Both engines get here: a first, then b once it has claimed the execution.
                const entrant = yield* Workflow.step(
                  "two",
                  Effect.sync(() => ++entered).pipe(Effect.tap(() => Deferred.await(gate)))
                )
                yield* Workflow.step("three", count("three"))
                return entrant
              })
          })
          // a's heartbeat reports its lease renewed without renewing it, as a process stalled past its lease
          // (a long pause, a suspended machine) believes when it wakes up.
          const storage = yield* ExecutionStorage.ExecutionStorage
          const a = yield* Effect.provideService(
            startEngine({ lease: "200 millis" }),
            ExecutionStorage.ExecutionStorage,
            { ...storage, renew: (_owner, ids) => Effect.succeed(ids) }
          )
          const handle = yield* a.engine.start(handover, undefined)
          const b = yield* startEngine({ lease: "200 millis" })
          yield* b.engine.register(handover)
          yield* Effect.timeoutFail(
            Effect.repeat(Effect.sync(() => entered), {
              until: (n) => n === 2,
              schedule: Schedule.spaced("10 millis")
            }),
            {
              // A generous limit: b takes over within a few of its 67 ms recovery scans, on a busy machine later.
              duration: "60 seconds",
              onTimeout: () => new Error("b did not take over")
            }
          )
          // a's end of step two comes first or second; either way the database refuses it, and a stops.
          yield* Deferred.succeed(gate, undefined)
          expect(yield* b.engine.result(handle.id)).toBe(2)
          const events = yield* collect(handle.events)
          expectContiguous(events)
          expect(
            events.map((e) => e.type === "step_start" || e.type === "step_end" ? `${e.type} ${e.runnableName}` : e.type)
          )
            .toEqual([
              "step_start one",
              "step_end one",
              "step_start two",
              "step_end two",
              "step_start three",
              "step_end three",
              "final_output"
            ])
          expect(events[3]).toMatchObject({ output: 2 })
          expect(counts).toEqual({ one: 1, three: 1 })
        })),
      15_000
    )

    describe("approvals", () => {
      const { count, counts } = counter()
      const review = Workflow.make({
        name: "review",
        input: Schema.Struct({ draft: Schema.String }),
        output: Schema.String,
        run: ({ draft }) =>
          Effect.gen(function*() {
            const prepared = yield* Workflow.step("prepare", Effect.as(count("prepare"), draft.trim()))
            const answer = yield* Workflow.approval({
              taskId: "publish",
              dataForApproval: { prepared },
              message: "Publish this draft?",
              choices: ["approved", "rejected"]
            })
            if (answer.status !== "approved") return `not published: ${answer.feedback ?? "no reason"}`
            return yield* Workflow.step("publish", Effect.as(count("publish"), `published ${prepared}`))
          })
      })

      it.effect("suspends as waiting, then completes when approved", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          const handle = yield* engine.start(review, { draft: " hello " })
          const required = yield* waitForEvent(engine, handle.id, (e) => e.type === "human_approval_required")
          expect(required).toMatchObject({
            taskId: "publish",
            dataForApproval: { prepared: "hello" },
            message: "Publish this draft?",
            choices: ["approved", "rejected"]
          })
          yield* Effect.yieldNow()
          expect((yield* handle.status).status).toBe("waiting")
          const before = counts.prepare ?? 0
          yield* engine.approve(handle.id, "publish", { status: "approved", feedback: "ship it" })
          expect(yield* handle.result).toBe("published hello")
          expect(counts.prepare).toBe(before)
          const events = yield* collect(handle.events)
          expectContiguous(events)
          expect(events.map((e) => e.type)).toEqual([
            "step_start",
            "step_end",
            "human_approval_required",
            "human_approval_completed",
            "step_start",
            "step_end",
            "final_output"
          ])
          expect(events[3]).toMatchObject({ taskId: "publish", status: "approved", feedback: "ship it" })
        })))

      it.effect("returns the rejection to the workflow", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          const handle = yield* engine.start(review, { draft: "x" })
          yield* waitForEvent(engine, handle.id, (e) => e.type === "human_approval_required")
          yield* engine.approve(handle.id, "publish", { status: "rejected", feedback: "too short" })
          expect(yield* handle.result).toBe("not published: too short")
        })))

      it.effect("rejects answers to tasks that are not waiting, changing nothing", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          const handle = yield* engine.start(review, { draft: "x" })
          yield* waitForEvent(engine, handle.id, (e) => e.type === "human_approval_required")
          yield* Effect.yieldNow()
          const before = yield* handle.status
          const wrong = yield* Effect.flip(engine.approve(handle.id, "no-such-task", { status: "approved" }))
          expect(wrong._tag).toBe("ApprovalNotPending")
          expect(wrong.message).toContain("no-such-task")
          const unknown = yield* Effect.flip(engine.approve("no-such-execution", "publish", { status: "approved" }))
          expect(unknown._tag).toBe("ExecutionNotFound")
          const noStatus = yield* Effect.flip(engine.approve(handle.id, "publish", {} as Workflow.ApprovalAnswer))
          expect(noStatus).toMatchObject({ _tag: "InvalidOption", option: "answer.status" })
          const after = yield* handle.status
          expect(after).toEqual(before)
          expect(after.status).toBe("waiting")
          yield* engine.approve(handle.id, "publish", { status: "approved" })
          yield* handle.result
          const twice = yield* Effect.flip(engine.approve(handle.id, "publish", { status: "approved" }))
          expect(twice._tag).toBe("ExecutionFinished")
        })))

      it.effect("is answered after the engine that asked has shut down", () =>
        withStorage(Effect.gen(function*() {
          const { engine, id } = yield* interruptAndRestart(
            review,
            { draft: "later" },
            (first, id) => waitForEvent(first, id, (e) => e.type === "human_approval_required")
          )
          const prepared = counts.prepare
          expect((yield* engine.status(id)).status).toBe("waiting")
          yield* engine.approve(id, "publish", { status: "approved" })
          expect(yield* engine.result(id)).toBe("published later")
          expect(counts.prepare).toBe(prepared)
        })))
    })

    describe("cancellation", () => {
      it.effect("interrupts a running step, runs its finalizers, ends every stream", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          let finalized = 0
          const forever = Workflow.make({
            name: "forever",
            run: () =>
              Workflow.step(
                "wait",
                Effect.never.pipe(Effect.ensuring(Effect.sync(() => finalized++)))
              )
          })
          const handle = yield* engine.start(forever, undefined)
          yield* waitForEvent(engine, handle.id, (e) => e.type === "step_start")
          const subscribers = yield* Effect.forEach(
            Array.from({ length: 3 }),
            () => Effect.fork(collect(handle.events))
          )
          const waiter = yield* Effect.fork(Effect.flip(handle.result))
          yield* handle.cancel
          expect(finalized).toBe(1)
          expect((yield* handle.status).status).toBe("cancelled")
          const logs = yield* Effect.forEach(subscribers, Fiber.join)
          for (const log of logs) {
            expect(log.map((e) => e.type)).toEqual(["step_start", "workflow_error"])
            expect(log[1]).toMatchObject({ error: { name: "WorkflowCancelled" } })
          }
          expect((yield* Fiber.join(waiter))._tag).toBe("WorkflowCancelled")
          const resumed = yield* Effect.flip(engine.resume(handle.id))
          expect(resumed._tag).toBe("ExecutionFinished")
          yield* handle.cancel // cancelling twice is harmless
        })))

      it.effect("cancels a waiting execution, which then takes no answer", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          const asking = Workflow.make({
            name: "asking",
            run: () => Workflow.approval({ taskId: "t", dataForApproval: null })
          })
          const handle = yield* engine.start(asking, undefined)
          yield* waitForEvent(engine, handle.id, (e) => e.type === "human_approval_required")
          yield* engine.cancel(handle.id)
          expect((yield* handle.status).status).toBe("cancelled")
          const error = yield* Effect.flip(engine.approve(handle.id, "t", { status: "approved" }))
          expect(error._tag).toBe("ExecutionFinished")
        })))

      it.effect("refuses to cancel a completed execution", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          const handle = yield* engine.start(greet, { name: "x" })
          yield* handle.result
          const error = yield* Effect.flip(handle.cancel)
          expect(error._tag).toBe("ExecutionFinished")
          expect(error.message).toContain("completed")
        })))
    })

    describe("parent links", () => {
      it.effect("records as parent the execution whose body started a workflow, in a step or not; none from outside", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          const suffix = Math.random().toString(36).slice(2, 8)
          const child = Workflow.make({ name: `child-${suffix}`, run: (n: number) => Effect.succeed(n * 2) })
          const parent = Workflow.make({
            name: `parent-${suffix}`,
            run: () =>
              Effect.gen(function*() {
                // Inside a step, as the planner starts its children...
                const inStep = yield* Workflow.step(
                  "start a child",
                  Effect.flatMap(engine.start(child, 1), (handle) => Effect.as(handle.result, handle.id))
                )
                // ...and straight from the body.
                const direct = yield* engine.start(child, 2)
                yield* direct.result
                return { inStep, direct: direct.id }
              })
          })
          const handle = yield* engine.start(parent, undefined)
          const children = yield* handle.result
          expect(yield* engine.status(children.inStep)).toMatchObject({
            workflow: child.name,
            status: "completed",
            output: 2,
            parent: handle.id
          })
          expect(yield* engine.status(children.direct)).toMatchObject({ output: 4, parent: handle.id })
          expect(yield* handle.status).not.toHaveProperty("parent")
          const outside = yield* engine.start(child, 3)
          expect(yield* outside.result).toBe(6)
          expect(yield* outside.status).not.toHaveProperty("parent")
          const listed = yield* engine.executions({ parent: handle.id })
          expect(listed.executions.map((e) => e.id).sort()).toEqual([children.inStep, children.direct].sort())
        })))

      it.effect(
        "cancelling a parent cancels its unfinished children and grandchildren, not a finished child nor a look-alike id",
        () =>
          withStorage(Effect.gen(function*() {
            const { engine } = yield* startEngine()
            const suffix = Math.random().toString(36).slice(2, 8)
            const asks = Workflow.make({
              name: `asks-${suffix}`,
              run: () => Workflow.approval({ taskId: "t", dataForApproval: null })
            })
            const hangs = Workflow.make({ name: `hangs-${suffix}`, run: () => Workflow.step("hang", Effect.never) })
            const quick = Workflow.make({ name: `quick-${suffix}`, run: () => Effect.succeed("done") })
            const middle = Workflow.make({
              name: `middle-${suffix}`,
              run: () =>
                Effect.gen(function*() {
                  const { executionId } = yield* Workflow.ExecutionContext
                  yield* Workflow.step(
                    "start a grandchild",
                    Effect.asVoid(engine.start(asks, undefined, { executionId: `${executionId}.grandchild` }))
                  )
                  yield* Workflow.step("hang", Effect.never)
                })
            })
            const top = Workflow.make({
              name: `top-${suffix}`,
              run: () =>
                Effect.gen(function*() {
                  const { executionId } = yield* Workflow.ExecutionContext
                  yield* Workflow.step(
                    "a child that finishes",
                    Effect.flatMap(engine.start(quick, undefined, { executionId: `${executionId}.quick` }), (h) =>
                      h.result)
                  )
                  yield* engine.start(asks, undefined, { executionId: `${executionId}.asks` })
                  yield* Workflow.step(
                    "a child with a child",
                    Effect.asVoid(engine.start(middle, undefined, { executionId: `${executionId}.middle` }))
                  )
                  yield* Workflow.step("wait", Effect.never)
                })
            })
            const handle = yield* engine.start(top, undefined)
            const [quickChild, asksChild, middleChild] = ["quick", "asks", "middle"].map((part) =>
              `${handle.id}.${part}`
            )
            const grandchild = `${middleChild}.grandchild`
            // Started from outside any body: its id looks like a child's, but it is not one.
            const lookalike = yield* engine.start(hangs, undefined, { executionId: `${handle.id}.lookalike` })
            yield* waitForEvent(engine, handle.id, (e) => e.type === "step_start" && e.runnableName === "wait")
            yield* waitForEvent(engine, asksChild!, (e) => e.type === "human_approval_required")
            yield* waitForEvent(engine, middleChild!, (e) => e.type === "step_start" && e.runnableName === "hang")
            yield* waitForEvent(engine, grandchild, (e) => e.type === "human_approval_required")
            yield* waitForEvent(engine, lookalike.id, (e) => e.type === "step_start")
            const parentOf = (id: string) => Effect.map(engine.status(id), (record) => record.parent)
            expect(yield* Effect.forEach([quickChild!, asksChild!, middleChild!, grandchild], parentOf)).toEqual([
              handle.id,
              handle.id,
              handle.id,
              middleChild
            ])
            expect(yield* lookalike.status).not.toHaveProperty("parent")
            const finished = yield* engine.status(quickChild!)
            expect(finished.status).toBe("completed")

            yield* handle.cancel
            for (const id of [handle.id, asksChild!, middleChild!, grandchild]) {
              expect(yield* engine.status(id)).toMatchObject({
                status: "cancelled",
                error: { name: "WorkflowCancelled" }
              })
            }
            expect(yield* engine.status(quickChild!)).toEqual(finished)
            const lookalikeNow = yield* lookalike.status
            expect(lookalikeNow.status).toBe("running")
            expect((yield* collect(engine.events(grandchild))).map((e) => e.type)).toEqual([
              "human_approval_required",
              "workflow_error"
            ])
            // Still going: its step ends only when it is cancelled itself.
            yield* lookalike.cancel
            expect((yield* lookalike.status).status).toBe("cancelled")
          }))
      )
    })

    describe("steps", () => {
      it.effect("retries a failing step on its Schedule (TestClock)", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          let attempts = 0
          const retrying = Workflow.make({
            name: "retrying",
            run: () =>
              Workflow.step(
                "flaky",
                Effect.suspend(() => ++attempts < 3 ? Effect.fail(`attempt ${attempts}`) : Effect.succeed(attempts)),
                { retry: Schedule.exponential("1 second").pipe(Schedule.intersect(Schedule.recurs(5))) }
              )
          })
          const handle = yield* engine.start(retrying, undefined)
          yield* untilSleeping("1 second")
          yield* TestClock.adjust("1 second")
          yield* untilSleeping("2 seconds")
          expect(attempts).toBe(2)
          yield* TestClock.adjust("2 seconds")
          expect(yield* handle.result).toBe(3)
          const events = yield* collect(handle.events)
          expect(stepNames(events, "step_end")).toEqual(["flaky"])
        })))

      it.effect("journals a step's failure and fails the execution with it", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          const timing = Workflow.make({
            name: "timing",
            run: () => Workflow.step("slow", Effect.sleep("5 seconds"), { timeout: "1 second" })
          })
          const handle = yield* engine.start(timing, undefined)
          yield* untilSleeping("1 second")
          yield* TestClock.adjust("2 seconds")
          const error = yield* Effect.flip(handle.result)
          expect(error._tag).toBe("WorkflowFailed")
          if (error._tag === "WorkflowFailed") {
            expect(error.error.name).toBe("StepTimeout")
            expect(error.error.message).toContain(`"slow" timed out after 1s`)
          }
          const events = yield* collect(handle.events)
          expect(events.map((e) => e.type)).toEqual(["step_start", "step_end", "workflow_error"])
          expect(events[1]).toMatchObject({ error: { name: "StepTimeout" } })
        })))

      it.effect("replays a journaled failure without running the step again", () =>
        withStorage(Effect.gen(function*() {
          const { count, counts } = counter()
          const started = yield* Deferred.make<void>()
          const recovering = Workflow.make({
            name: "recovering",
            run: () =>
              Effect.gen(function*() {
                const fallback = yield* Workflow.step("risky", Effect.zipRight(count("risky"), Effect.fail("nope")))
                  .pipe(
                    Effect.catchAll((error) => Effect.succeed(`recovered from ${error}`))
                  )
                yield* Workflow.step(
                  "hang",
                  Effect.flatMap(
                    count("hang"),
                    (n) => n === 1 ? Effect.zipRight(Deferred.succeed(started, undefined), Effect.never) : Effect.void
                  )
                )
                return fallback
              })
          })
          const { engine, id } = yield* interruptAndRestart(recovering, undefined, () => Deferred.await(started))
          expect(yield* (yield* engine.resume(id)).result).toBe("recovered from nope")
          expect(counts).toEqual({ risky: 1, hang: 2 })
        })))

      it.effect("gives the body its execution context and captured services", () =>
        withStorage(Effect.gen(function*() {
          class Greeter extends Context.Tag("Greeter")<Greeter, { readonly greet: (n: string) => string }>() {}
          const { engine } = yield* startEngine()
          const polite = Workflow.make({
            name: "polite",
            run: () =>
              Effect.gen(function*() {
                const context = yield* Workflow.ExecutionContext
                const greeter = yield* Greeter
                return `${greeter.greet("you")} from ${context.executionId} (${context.workflow})`
              })
          })
          yield* engine.register(polite).pipe(Effect.provideService(Greeter, { greet: (n) => `hi ${n}` }))
          const handle = yield* engine.start("polite", undefined)
          expect(yield* handle.result).toBe(`hi you from ${handle.id} (polite)`)
        })))
    })

    describe("bad input", () => {
      it.effect("rejects invalid input before storing anything", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          yield* engine.register(greet)
          const before = yield* engine.executions()
          const error = yield* Effect.flip(engine.start("greet", { name: 42 }))
          expect(error._tag).toBe("InvalidInput")
          if (error._tag !== "InvalidInput") return
          expect(error.issues[0]!.path).toEqual(["name"])
          expect(error.message).toContain(`Invalid input for workflow "greet": name: Expected string`)
          expect(yield* engine.executions()).toEqual(before)
        })))

      it.effect("names every path of the input that fails, not only the first", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          const pair = Workflow.make({
            name: "pair",
            input: Schema.Struct({ a: Schema.String, b: Schema.Struct({ c: Schema.Number }) }),
            run: () => Effect.void
          })
          const error = yield* Effect.flip(engine.start(pair, { a: 1, b: { c: "x" } } as never))
          if (error._tag !== "InvalidInput") throw new Error(`unexpected ${error._tag}`)
          expect(error.issues.map((issue) => issue.path)).toEqual([["a"], ["b", "c"]])
          expect(error.message).toMatch(/a: Expected string.*; b\.c: Expected number/)
        })))

      it.effect("refuses execution ids that are not well-formed strings or hold a NUL, and finds nothing by them", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          yield* engine.register(greet)
          const before = yield* engine.executions()
          for (const id of ["a\u0000b", "lone \uD800 high", "lone \uDC00 low", "\uDBFF"]) {
            const refused = yield* Effect.flip(engine.start(greet, { name: "x" }, { executionId: id }))
            expect(refused).toMatchObject({ _tag: "InvalidOption", option: "executionId", value: JSON.stringify(id) })
            expect(refused.message).toContain(JSON.stringify(id))
            expect(yield* Effect.flip(engine.status(id))).toMatchObject({ _tag: "ExecutionNotFound" })
            expect(yield* Effect.flip(engine.cancel(id))).toMatchObject({ _tag: "ExecutionNotFound" })
            expect(yield* Effect.flip(collect(engine.events(id)))).toMatchObject({ _tag: "ExecutionNotFound" })
          }
          expect(yield* engine.executions()).toEqual(before)
          // A well-formed id with a surrogate pair (an emoji) comes back as given.
          const emoji = "run-\u{1F600}"
          const handle = yield* engine.start(greet, { name: "x" }, { executionId: emoji })
          yield* handle.result
          expect((yield* engine.status(emoji)).id).toBe(emoji)
        })))

      it.effect("fails the execution when the output does not match its schema", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          const liar = Workflow.make({
            name: "liar",
            output: Schema.Struct({ count: Schema.Number }),
            run: () => Effect.succeed({ count: "three" } as unknown as { count: number })
          })
          const handle = yield* engine.start(liar, undefined)
          const error = yield* Effect.flip(handle.result)
          if (error._tag !== "WorkflowFailed") throw new Error(`unexpected ${error._tag}`)
          expect(error.error.name).toBe("InvalidOutput")
          expect(error.error.message).toContain("count: Expected number")
        })))

      it.effect("fails the execution on an event of an unknown type, naming it", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          const odd = Workflow.make({ name: "odd", run: () => Workflow.emit({ type: "telemetry", value: 1 }) })
          const handle = yield* engine.start(odd, undefined)
          const error = yield* Effect.flip(handle.result)
          if (error._tag !== "WorkflowFailed") throw new Error(`unexpected ${error._tag}`)
          expect(error.error.message).toContain(`Unknown workflow event type "telemetry"`)
        })))

      it.effect("names unknown workflows and refuses a second definition under one name", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          yield* engine.register(greet)
          yield* engine.register(greet) // the same definition again is fine
          const missing = yield* Effect.flip(engine.start("nope", {}))
          expect(missing.message).toBe(`No workflow named "nope" is registered (registered: greet)`)
          const clash = yield* Effect.flip(engine.register(Workflow.make({ name: "greet", run: () => Effect.void })))
          expect(clash._tag).toBe("WorkflowAlreadyRegistered")
          const noExecution = yield* Effect.flip(engine.resume("nope"))
          expect(noExecution._tag).toBe("ExecutionNotFound")
          const stream = yield* Effect.flip(collect(engine.events("nope")))
          expect(stream._tag).toBe("ExecutionNotFound")
        })))
    })

    describe("idempotent start", () => {
      it.effect("returns the existing execution for a known id", () =>
        withStorage(Effect.gen(function*() {
          const { engine } = yield* startEngine()
          const { count, counts } = counter()
          const once = Workflow.make({ name: "once", run: () => Workflow.step("work", count("work")) })
          const first = yield* engine.start(once, undefined, { executionId: "order-1" })
          yield* first.result
          const second = yield* engine.start(once, undefined, { executionId: "order-1" })
          expect(second.created).toBe(false)
          expect(second.id).toBe("order-1")
          expect(yield* second.result).toBe(1)
          expect(counts.work).toBe(1)
          const conflict = yield* Effect.flip(engine.start(greet, { name: "x" }, { executionId: "order-1" }))
          expect(conflict._tag).toBe("ExecutionIdConflict")
        })))
    })

    it.effect("lists executions by status and workflow", () =>
      withStorage(Effect.gen(function*() {
        const { engine } = yield* startEngine()
        // Names of their own: the storage may hold executions of other tests.
        const suffix = Math.random().toString(36).slice(2, 8)
        const listed = Workflow.make({ name: `listed-${suffix}`, run: () => Effect.succeed(1) })
        const waits = Workflow.make({
          name: `waits-${suffix}`,
          run: () => Workflow.approval({ taskId: "t", dataForApproval: 1 })
        })
        const a = yield* engine.start(listed, undefined)
        yield* a.result
        const waiting = yield* engine.start(waits, undefined)
        yield* waitForEvent(engine, waiting.id, (e) => e.type === "human_approval_required")
        yield* Effect.yieldNow()
        const ids = (filter: ExecutionStorage.ListFilter) =>
          Effect.map(engine.executions(filter), (page) => page.executions.map((e) => e.id))
        expect(yield* ids({ status: "waiting", workflow: waits.name })).toEqual([waiting.id])
        expect(yield* ids({ status: "completed", workflow: waits.name })).toEqual([])
        expect(yield* ids({ workflow: listed.name })).toEqual([a.id])
        yield* engine.setDebug(true)
        expect(yield* engine.debug).toBe(true)
      })))
  })
