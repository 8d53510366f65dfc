/**
 * `engine.fork` on every storage: a new execution that replays another's journal up to a root position
 * (nothing before it runs again, waits before it do not wait again) and runs for real from there, with a
 * log that tells the copied history and then its own, one ending.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { ExecutionStorage, Registry, Workflow, WorkflowService } from "../src/index.js"
import type { WorkflowEngine, WorkflowEvent } from "../src/index.js"
import { collect, expectContiguous, startEngine, stored, until, waiting } from "./helpers.js"
import { onEveryStorage } from "./pg.js"

/** Side effects actually run, by step name: a replayed step adds nothing. */
const counting = () => {
  const ran = new Map<string, number>()
  const step = <A>(name: string, value: () => A) =>
    Workflow.step(name, Effect.sync(() => (ran.set(name, (ran.get(name) ?? 0) + 1), value())))
  return { ran: (name: string) => ran.get(name) ?? 0, step }
}

const eventsOf = (engine: WorkflowEngine.WorkflowEngineService, id: string) => collect(engine.events(id))

/** The events stored so far (not a live stream: that one ends only with the execution). */
const logOf = (id: string) =>
  Effect.flatMap(ExecutionStorage.ExecutionStorage, (storage) => storage.events(id, { fromSeq: 1, limit: 1_000 }))

const summary = (events: ReadonlyArray<WorkflowEvent.StoredEvent>) =>
  events.map((event) =>
    event.type === "step_start" || event.type === "step_end" ? `${event.type}:${event.runnableName}` : event.type
  )

const forkSuite = (name: string, layer: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>) =>
  describe(`fork on ${name}`, () => {
    const withStorage = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(Effect.scoped(effect), layer)

    /** Steps a, b, c, d; c fails until `fixed`. */
    const pipeline = (workflow: string) => {
      const { ran, step } = counting()
      let fixed = false
      const definition = Workflow.make({
        name: workflow,
        input: Schema.Number,
        run: (n: number) =>
          Effect.gen(function*() {
            const a = yield* step("a", () => n + 1)
            const b = yield* step("b", () => a * 2)
            const c = yield* Workflow.step(
              "c",
              Effect.suspend(() => fixed ? Effect.succeed(b + 100) : Effect.fail("c is broken"))
            )
            return yield* step("d", () => `${a}/${b}/${c}`)
          })
      })
      return { definition, ran, fix: () => void (fixed = true) }
    }

    it.live("a failed execution forked from its failed step after the fix replays the steps before it", () =>
      withStorage(Effect.gen(function*() {
        const { definition, fix, ran } = pipeline(`${name}-retry`)
        const { engine } = yield* startEngine()
        const failed = yield* engine.start(definition, 1)
        expect((yield* Effect.flip(failed.result))._tag).toBe("WorkflowFailed")
        fix()
        const fork = yield* engine.fork(failed.id, { fromStep: 2 })
        expect(fork.created).toBe(true)
        expect(fork.id).not.toBe(failed.id)
        expect(yield* fork.result).toBe("2/4/104")
        // a and b ran once, in the source; c and d ran for real in the fork.
        expect([ran("a"), ran("b"), ran("d")]).toEqual([1, 1, 1])
        const record = yield* stored(fork.id)
        expect(record).toMatchObject({ workflow: definition.name, input: 1, status: "completed", output: "2/4/104" })
        expect(record.parent).toBeUndefined()
        // The source is as it was.
        expect((yield* stored(failed.id)).status).toBe("failed")
        const events = yield* eventsOf(engine, fork.id)
        expectContiguous(events)
        expect(events.every((event) => event.workflowInstanceId === fork.id)).toBe(true)
        expect(summary(events)).toEqual([
          "step_start:a",
          "step_end:a",
          "step_start:b",
          "step_end:b",
          "step_start:c",
          "step_end:c",
          "step_start:d",
          "step_end:d",
          "final_output"
        ])
        expect(record.lastSeq).toBe(events.length)
        // A late subscriber from the middle sees the rest.
        expect(summary(yield* collect(engine.events(fork.id, { fromSeq: 5 })))[0]).toBe("step_start:c")
      })))

    it.live("a fork from step 0 runs everything again; a fork with an id that exists returns that execution", () =>
      withStorage(Effect.gen(function*() {
        const { definition, fix, ran } = pipeline(`${name}-again`)
        const { engine } = yield* startEngine()
        fix()
        const first = yield* engine.start(definition, 2)
        expect(yield* first.result).toBe("3/6/106")
        const executionId = `${name}-again-fork`
        const again = yield* engine.fork(first.id, { fromStep: "0", executionId })
        expect(again.id).toBe(executionId)
        expect(yield* again.result).toBe("3/6/106")
        expect([ran("a"), ran("b"), ran("d")]).toEqual([2, 2, 2])
        const events = yield* eventsOf(engine, again.id)
        expect(summary(events).filter((type) => type === "final_output")).toHaveLength(1)
        expect(summary(events).filter((type) => type === "step_start:a")).toHaveLength(1)
        // Idempotent by id, as a start is: nothing runs again.
        const same = yield* engine.fork(first.id, { fromStep: 1, executionId })
        expect(same.created).toBe(false)
        expect(yield* same.result).toBe("3/6/106")
        expect(ran("a")).toBe(2)
      })))

    it.live("a fork point outside the journal's root is InvalidOption naming fromStep, and nothing is stored", () =>
      withStorage(Effect.gen(function*() {
        const { definition } = pipeline(`${name}-bad`)
        const { engine } = yield* startEngine()
        const failed = yield* engine.start(definition, 1)
        yield* Effect.flip(failed.result)
        const before = (yield* engine.executions()).executions.length
        for (const fromStep of [-1, 1.5, 4, 99, "1.0", "01", "", "c", "4", Number.NaN, undefined]) {
          const refused = yield* Effect.flip(
            engine.fork(failed.id, { fromStep: fromStep as number, executionId: `${name}-bad-${String(fromStep)}` })
          )
          expect(refused).toMatchObject({ _tag: "InvalidOption", option: "fromStep" })
          const absent = yield* Effect.flip(engine.status(`${name}-bad-${String(fromStep)}`))
          expect(absent._tag).toBe("ExecutionNotFound")
        }
        expect((yield* engine.executions()).executions.length).toBe(before)
        const unknown = yield* Effect.flip(engine.fork(`${name}-no-such-execution`, { fromStep: 0 }))
        expect(unknown._tag).toBe("ExecutionNotFound")
        const badId = yield* Effect.flip(engine.fork(failed.id, { fromStep: 0, executionId: "a\u0000b" }))
        expect(badId).toMatchObject({ _tag: "InvalidOption", option: "executionId" })
      })))

    it.live("an approval, a signal and a sleep before the fork point replay without waiting", () =>
      withStorage(Effect.gen(function*() {
        const { ran, step } = counting()
        let fixed = false
        const definition = Workflow.make({
          name: `${name}-waits`,
          run: () =>
            Effect.gen(function*() {
              const answer = yield* Workflow.approval({ taskId: "ok", dataForApproval: 1 })
              const go = yield* Workflow.signal("go", Schema.Number)
              yield* Workflow.sleep("20 millis")
              return yield* step("end", () => {
                if (!fixed) throw new Error("end is broken")
                return `${answer.status} ${go}`
              })
            })
        })
        const { engine } = yield* startEngine()
        const source = yield* engine.start(definition, null)
        yield* until("it waits for the approval", waiting(source.id))
        yield* engine.approve(source.id, "ok", { status: "approved" })
        yield* until("it waits for the signal", waiting(source.id))
        yield* engine.signal(source.id, "go", 7)
        // A signal sent and never received: not the fork's.
        yield* engine.signal(source.id, "later", 1)
        expect((yield* Effect.flip(source.result))._tag).toBe("WorkflowFailed")
        fixed = true
        const fork = yield* engine.fork(source.id, { fromStep: 3 })
        expect(yield* fork.result).toBe("approved 7")
        expect(ran("end")).toBe(2)
        const events = summary(yield* eventsOf(engine, fork.id))
        expect(events).toEqual([
          "human_approval_required",
          "human_approval_completed",
          "wait_started",
          "signal_received",
          "wait_ended",
          "wait_started",
          "wait_ended",
          "step_start:end",
          "step_end:end",
          "final_output"
        ])
        const storage = yield* ExecutionStorage.ExecutionStorage
        expect(yield* storage.inbox!(fork.id)).toEqual([])
      })))

    it.live("the log is cut at the root step, not at a nested step of the same name before it", () =>
      withStorage(Effect.gen(function*() {
        const { ran, step } = counting()
        const definition = Workflow.make({
          name: `${name}-nested`,
          run: () =>
            Effect.gen(function*() {
              yield* Workflow.step("outer", step("c", () => 1))
              return yield* step("c", () => 2)
            })
        })
        const { engine } = yield* startEngine()
        const source = yield* engine.start(definition, null)
        expect(yield* source.result).toBe(2)
        const fork = yield* engine.fork(source.id, { fromStep: 1 })
        expect(yield* fork.result).toBe(2)
        expect(ran("c")).toBe(3)
        expect(summary(yield* eventsOf(engine, fork.id))).toEqual([
          "step_start:outer",
          "step_start:c",
          "step_end:c",
          "step_end:outer",
          "step_start:c",
          "step_end:c",
          "final_output"
        ])
      })))

    it.live("a wait said twice (a skipped signal) is one entry: the log is cut after its end", () =>
      withStorage(Effect.gen(function*() {
        const Pay = Schema.Struct({ n: Schema.Number })
        const definition = Workflow.make({
          name: `${name}-skipped`,
          run: () =>
            Effect.gen(function*() {
              const first = yield* Workflow.signal("pay", Pay)
              const second = yield* Workflow.signal("pay", Pay)
              return yield* Workflow.step("sum", Effect.succeed(first.n + second.n))
            })
        })
        const { engine } = yield* startEngine()
        const source = yield* engine.start(definition, null)
        yield* until("it waits", waiting(source.id))
        // Not declared: taken out of the inbox and skipped by the first wait, which says it waits again.
        yield* engine.signal(source.id, "pay", { n: "one" })
        yield* until(
          "it waits again",
          Effect.map(logOf(source.id), (events) => events.filter((event) => event.type === "wait_started").length === 2)
        )
        yield* engine.signal(source.id, "pay", { n: 1 })
        yield* engine.signal(source.id, "pay", { n: 2 })
        expect(yield* source.result).toBe(3)
        const fork = yield* engine.fork(source.id, { fromStep: 1 })
        yield* until("the fork waits", waiting(fork.id))
        // The first wait whole (both its starts, the skip, its signal and its end); the second begins anew.
        expect(summary(yield* logOf(fork.id)).filter((line) => line.startsWith("wait_"))).toEqual([
          "wait_started",
          "wait_started",
          "wait_ended",
          "wait_started"
        ])
        yield* engine.signal(fork.id, "pay", { n: 5 })
        expect(yield* fork.result).toBe(6)
      })))

    it.live("a fork from the wait itself waits again, for a signal of its own", () =>
      withStorage(Effect.gen(function*() {
        const definition = Workflow.make({
          name: `${name}-rewait`,
          run: () => Workflow.signal("go", Schema.Number)
        })
        const { engine } = yield* startEngine()
        const source = yield* engine.start(definition, null)
        yield* until("it waits", waiting(source.id))
        yield* engine.signal(source.id, "go", 1)
        expect(yield* source.result).toBe(1)
        const fork = yield* engine.fork(source.id, { fromStep: 0 })
        yield* until("the fork waits", waiting(fork.id))
        yield* engine.signal(fork.id, "go", 2)
        expect(yield* fork.result).toBe(2)
      })))

    it.live("a child awaited before the fork point replays; a fork between a child's start and its end is refused", () =>
      withStorage(Effect.gen(function*() {
        const { ran, step } = counting()
        let fixed = false
        const child = Workflow.make({ name: `${name}-child`, run: () => step("child", () => 5) })
        const parent = Workflow.make({
          name: `${name}-parent`,
          run: () =>
            Effect.gen(function*() {
              const five = yield* Workflow.child(child, null)
              const started = yield* Workflow.startChild(child, null)
              yield* Workflow.awaitChild(child, started)
              return yield* step("end", () => {
                if (!fixed) throw new Error("broken")
                return five * 2
              })
            })
        })
        const { engine } = yield* startEngine()
        const source = yield* engine.start(parent, null)
        expect((yield* Effect.flip(source.result))._tag).toBe("WorkflowFailed")
        expect(ran("child")).toBe(2)
        fixed = true
        // Positions: 0 starts the first child, 1 receives its end, 2 starts the second, 3 receives its end.
        const refused = yield* Effect.flip(engine.fork(source.id, { fromStep: 3 }))
        expect(refused).toMatchObject({ _tag: "InvalidOption", option: "fromStep" })
        const fork = yield* engine.fork(source.id, { fromStep: 4 })
        expect(yield* fork.result).toBe(10)
        expect(ran("child")).toBe(2)
      })))
  })

onEveryStorage(forkSuite)

describe("fork in the Promise facade", () => {
  it("WorkflowService.fork runs a failed execution again from a step", async () => {
    const service = new WorkflowService()
    await service.start(new Registry())
    try {
      const { ran, step } = counting()
      let fixed = false
      const definition = Workflow.make({
        name: "facade-fork",
        run: () =>
          Effect.gen(function*() {
            const one = yield* step("one", () => 1)
            return yield* step("two", () => {
              if (!fixed) throw new Error("broken")
              return one + 1
            })
          })
      })
      const failed = await service.startWorkflow(definition, null)
      await expect(failed.result()).rejects.toMatchObject({ _tag: "WorkflowFailed" })
      fixed = true
      const fork = await service.fork<number>(failed.id, { fromStep: 1 })
      expect(await fork.result()).toBe(2)
      expect(ran("one")).toBe(1)
      await expect(service.fork(failed.id, { fromStep: 7 })).rejects.toMatchObject({
        _tag: "InvalidOption",
        option: "fromStep"
      })
    } finally {
      await service.stop()
    }
  })
})
