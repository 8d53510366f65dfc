/**
 * A replay never sees a different value than the first run. A value JSON
 * cannot hold as it is (a Date, a Map, NaN, an undefined field, a hole, a
 * class instance, a cycle...) is refused in the first run, naming what, where
 * and the fix, on every storage, memory included; with a schema it is
 * encoded faithfully. A step failure without an `error` schema is kept as data,
 * and the first run sees that data as a replay will. The memory storage keeps
 * copies, as SQLite does.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import type { WorkflowEvent } from "../src/index.js"
import { collect, startEngine, waitForEvent } from "./helpers.js"
import { onDurableStorages } from "./pg.js"

class Point {
  constructor(readonly x: number) {}
}
const cyclic = () => {
  const value: { self?: unknown } = {}
  value.self = value
  return value
}

/** Each kind of value JSON cannot hold as it is, and where in it the refusal must point. */
const unfaithful: ReadonlyArray<readonly [string, () => unknown, string]> = [
  ["a Date", () => ({ when: new Date(0) }), ".when"],
  ["a Map", () => ({ list: [1, new Map([["a", 1]])] }), ".list[1]"],
  ["a Set", () => new Set([1]), "Set"],
  ["a class instance", () => ({ point: new Point(1) }), ".point"],
  ["NaN", () => ({ b: NaN }), ".b"],
  ["Infinity", () => [Infinity], "[0]"],
  ["an undefined field", () => ({ a: undefined }), ".a"],
  // eslint-disable-next-line no-sparse-arrays
  ["a hole", () => [1, , 3], "[1]"],
  ["a BigInt", () => ({ n: 1n }), ".n"],
  ["a cycle", cyclic, ".self"],
  ["a function", () => ({ f: () => 1 }), ".f"]
]

const suite = (name: string, layer: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>) =>
  describe(name, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, ExecutionStorage.ExecutionStorage | import("effect").Scope.Scope>) =>
      effect.pipe(Effect.scoped, Effect.provide(layer))

    it.live("refuses a step result JSON cannot hold, in the first run, naming the step, the path and the fix", () =>
      run(Effect.gen(function*() {
        const { engine } = yield* startEngine()
        for (const [kind, value, path] of unfaithful) {
          let bodies = 0
          const workflow = Workflow.make({
            name: `${name}-result-${kind}`,
            run: () => Workflow.step("compute", Effect.sync(() => (bodies++, value())))
          })
          const error = yield* Effect.flip((yield* engine.start(workflow, undefined)).result)
          expect([kind, error]).toMatchObject([kind, { _tag: "WorkflowFailed", error: { name: "InvalidPayload" } }])
          if (error._tag !== "WorkflowFailed") continue
          expect(error.error.message).toContain(`step "compute"`)
          if (path.startsWith(".") || path.startsWith("[")) expect(error.error.message).toContain(`at ${path}`)
          expect(error.error.message).toContain("`success` schema")
          expect(bodies).toBe(1)
        }
      })))

    it.live("refuses inputs, outputs and event payloads JSON cannot hold, each naming its fix", () =>
      run(Effect.gen(function*() {
        const { engine } = yield* startEngine()
        const echo = Workflow.make({ name: `${name}-echo`, run: (input: unknown) => Effect.succeed(input) })
        const input = yield* Effect.flip(engine.start(echo, { when: new Date(0) }))
        expect(input).toMatchObject({ _tag: "InvalidPayload" })
        expect(input.message).toContain("`input` schema")
        const before = (yield* engine.executions({ workflow: `${name}-echo` })).executions.length
        expect(before).toBe(0)

        const out = Workflow.make({ name: `${name}-out`, run: () => Effect.succeed({ at: new Date(0) }) })
        const output = yield* Effect.flip((yield* engine.start(out, undefined)).result)
        expect(output).toMatchObject({ _tag: "WorkflowFailed", error: { name: "InvalidPayload" } })
        expect(output._tag === "WorkflowFailed" && output.error.message).toContain("`output` schema")

        const chunky = Workflow.make({ name: `${name}-chunk`, run: () => Workflow.chunk({ size: NaN }) })
        const chunk = yield* Effect.flip((yield* engine.start(chunky, undefined)).result)
        expect(chunk).toMatchObject({ _tag: "WorkflowFailed", error: { name: "InvalidPayload" } })
        expect(chunk._tag === "WorkflowFailed" && chunk.error.message).toContain("at .data.size")
      })))

    it.live("with schemas the same values are encoded faithfully: the replay returns what the first run did", () =>
      run(Effect.gen(function*() {
        const { engine } = yield* startEngine()
        const Encoded = Schema.Struct({ when: Schema.Date, tags: Schema.ReadonlySet(Schema.String) })
        let bodies = 0
        const dated = Workflow.make({
          name: `${name}-dated`,
          output: Schema.Struct({ first: Encoded, again: Encoded }),
          run: () =>
            Effect.gen(function*() {
              const first = yield* Workflow.step(
                "stamp",
                Effect.sync(
                  () => (bodies++, { when: new Date(86_400_000), tags: new Set(["a", "b"]) as ReadonlySet<string> })
                ),
                { success: Encoded }
              )
              yield* Workflow.approval({ taskId: "go", dataForApproval: null })
              return { first, again: first }
            })
        })
        const handle = yield* engine.start(dated, undefined)
        yield* waitForEvent(engine, handle.id, (e) => e.type === "human_approval_required")
        yield* engine.approve(handle.id, "go", { status: "approved" })
        const result = yield* handle.result
        expect(bodies).toBe(1)
        expect(result.first.when).toEqual(new Date(86_400_000))
        expect([...result.first.tags]).toEqual(["a", "b"])
      })))

    it.live("a step failure without an error schema is data, the same in the first run and the replay", () =>
      run(Effect.gen(function*() {
        const { engine } = yield* startEngine()
        class Declined extends Schema.TaggedError<Declined>()("Declined", { amount: Schema.Number }) {}
        const seen = (error: unknown) => ({
          tag: (error as { _tag?: unknown })._tag,
          amount: (error as { amount?: unknown }).amount,
          instance: error instanceof Declined,
          keys: Object.keys(error as object).sort()
        })
        const paying = Workflow.make({
          name: `${name}-paying`,
          run: () =>
            Effect.gen(function*() {
              const first = yield* Effect.flip(Workflow.step("pay", new Declined({ amount: 3 })))
              yield* Workflow.log("info", "first", seen(first))
              const caught = yield* Workflow.step("pay-again", new Declined({ amount: 4 })).pipe(
                Effect.catchTag("Declined", (e) => Effect.succeed(`caught ${e.amount}`))
              )
              yield* Workflow.approval({ taskId: "go", dataForApproval: caught })
              return seen(first)
            })
        })
        const handle = yield* engine.start(paying, undefined)
        const asked = yield* waitForEvent(engine, handle.id, (e) => e.type === "human_approval_required")
        expect(asked).toMatchObject({ dataForApproval: "caught 4" })
        yield* engine.approve(handle.id, "go", { status: "approved" })
        const replayed = yield* handle.result
        const first = (yield* collect(handle.events)).find((
          e
        ): e is WorkflowEvent.StoredEvent & WorkflowEvent.EventOf<"log"> => e.type === "log")
        expect(first?.details).toEqual(replayed)
        expect(replayed).toMatchObject({ tag: "Declined", amount: 3, instance: false })
      })))
  })

describe("faithful payloads", () => {
  suite("memory", ExecutionStorage.layerMemory)
  onDurableStorages(suite)

  it.effect("the memory storage keeps copies: a value changed after it was stored is stored as it was", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const shared = { items: [1] }
      const mutating = Workflow.make({
        name: "mutating",
        run: () =>
          Effect.gen(function*() {
            const got = yield* Workflow.step("load", Effect.succeed(shared))
            got.items.push(2)
            yield* Workflow.log("info", "logged", shared)
            shared.items.push(3)
            return shared
          })
      })
      const handle = yield* engine.start(mutating, undefined)
      expect(yield* handle.result).toEqual({ items: [1, 2, 3] })
      const events = yield* collect(handle.events)
      expect(events.find((e) => e.type === "step_end")).toMatchObject({ output: { items: [1] } })
      expect(events.find((e) => e.type === "log")).toMatchObject({ details: { items: [1, 2] } })
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))

  it.effect("a key named __proto__ in a payload stays a key, and never becomes a prototype", () =>
    Effect.gen(function*() {
      const engine = yield* WorkflowEngine.WorkflowEngine
      const hostile = JSON.parse("{\"__proto__\": {\"isAdmin\": true}, \"name\": \"x\"}")
      const echo = Workflow.make({
        name: "proto-echo",
        run: (input: unknown) => Workflow.step("echo", Effect.succeed(input))
      })
      const output = (yield* (yield* engine.start(echo, hostile)).result) as Record<string, unknown>
      expect(Object.getPrototypeOf(output)).toBe(Object.prototype)
      expect((output as { isAdmin?: unknown }).isAdmin).toBeUndefined()
      expect(Object.keys(output).sort()).toEqual(["__proto__", "name"])
    }).pipe(Effect.provide(WorkflowEngine.layerMemory)))
})
