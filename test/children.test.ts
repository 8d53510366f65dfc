/**
 * Child workflows on every storage: `Workflow.child`, `startChild` and
 * `awaitChild`. A child is linked by its record's `parent`; its end reaches
 * the parent as the signal `child:<id>`, stored with the child's end; a
 * parent replayed after a restart finds the child it started, never a second.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { startEngine, stored, until } from "./helpers.js"
import { onEveryStorage } from "./pg.js"

const childrenOf = (parent: string) =>
  Effect.flatMap(ExecutionStorage.ExecutionStorage, (storage) => storage.list({ parent }))

class OutOfStock extends Schema.TaggedError<OutOfStock>()("OutOfStock", { item: Schema.String }) {}

const childSuite = (name: string, layer: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>) =>
  describe(`child workflows on ${name}`, () => {
    const withStorage = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(Effect.scoped(effect), layer)

    const reserve = Workflow.make({
      name: `${name}-reserve`,
      output: Schema.Number,
      error: OutOfStock,
      run: (item: string) =>
        item === "none" ? new OutOfStock({ item }) : Workflow.step("count", Effect.succeed(item.length))
    })

    it.live("waits for a child's output, and fails with its typed error, linked by the child's parent", () =>
      withStorage(Effect.gen(function*() {
        const order = Workflow.make({
          name: `${name}-order`,
          run: (items: ReadonlyArray<string>) =>
            Effect.forEach(
              items,
              (item) =>
                Workflow.child(reserve, item).pipe(Effect.catchTag("OutOfStock", (error) => Effect.succeed(error.item)))
            )
        })
        const { engine } = yield* startEngine()
        const handle = yield* engine.start(order, ["apple", "none", "kiwi"])
        expect(yield* handle.result).toEqual([5, "none", 4])
        const children = (yield* childrenOf(handle.id)).executions
        expect(children.map((child) => child.status).sort()).toEqual(["completed", "completed", "failed"])
        const types = (yield* Effect.flatMap(
          ExecutionStorage.ExecutionStorage,
          (storage) => storage.events(handle.id, { fromSeq: 1, limit: 100 })
        )).map((event) => event.type)
        expect(types.filter((type) => type === "child_started")).toHaveLength(3)
        expect(types.filter((type) => type === "signal_received")).toHaveLength(3)
      })))

    it.live("finds the child it started when it resumes in another engine, and never starts a second", () =>
      withStorage(Effect.gen(function*() {
        const gated = Workflow.make({
          name: `${name}-gated`,
          run: () => Workflow.signal("go", Schema.Number)
        })
        const parent = Workflow.make({
          name: `${name}-parent`,
          run: () => Effect.map(Workflow.child(gated, null), (n) => n * 10)
        })
        const first = yield* startEngine()
        const handle = yield* first.engine.start(parent, null)
        yield* until("the parent waits for its child", Effect.map(stored(handle.id), (r) => r.status === "waiting"))
        const [child] = (yield* childrenOf(handle.id)).executions
        expect((yield* stored(handle.id)).waitingFor).toBe(`signal:child:${child!.id}`)
        // A forged end from outside is refused, and changes nothing.
        const lastSeq = (yield* stored(handle.id)).lastSeq
        const forged = yield* Effect.flip(
          first.engine.signal(handle.id, `child:${child!.id}`, { status: "completed", output: 99 })
        )
        expect(forged._tag).toBe("InvalidSignal")
        expect((yield* stored(handle.id)).lastSeq).toBe(lastSeq)
        yield* first.stop
        const second = yield* startEngine({ lease: "1 second" })
        yield* second.engine.register(parent)
        yield* second.engine.register(gated)
        // The parent is replayed (resumed here) only by the child's end; the child waits for its signal.
        yield* second.engine.resume(handle.id)
        yield* until("the parent waits again", Effect.map(stored(handle.id), (r) => r.status === "waiting"))
        yield* second.engine.signal(child!.id, "go", 4)
        expect(yield* second.engine.result(handle.id)).toBe(40)
        expect((yield* childrenOf(handle.id)).executions).toHaveLength(1)
      })))

    it.live("starts a child without waiting, waits for it later; a cancelled child is WorkflowCancelled", () =>
      withStorage(Effect.gen(function*() {
        const forever = Workflow.make({ name: `${name}-forever`, run: () => Workflow.signal("never", Schema.Number) })
        const parent = Workflow.make({
          name: `${name}-later`,
          run: () =>
            Effect.gen(function*() {
              const id = yield* Workflow.startChild(forever, null, { id: `${name}-child-${Date.now()}` })
              yield* Workflow.step("record", Effect.succeed(id))
              return yield* Workflow.awaitChild(forever, id).pipe(
                Effect.catchTag("WorkflowCancelled", (error) => Effect.succeed(`cancelled ${error.executionId}`))
              )
            })
        })
        const { engine } = yield* startEngine()
        const handle = yield* engine.start(parent, null)
        yield* until("the parent waits", Effect.map(stored(handle.id), (r) => r.status === "waiting"))
        const [child] = (yield* childrenOf(handle.id)).executions
        yield* engine.cancel(child!.id)
        expect(yield* handle.result).toBe(`cancelled ${child!.id}`)
      })))

    it.live("cancels its unfinished children with the parent", () =>
      withStorage(Effect.gen(function*() {
        const forever = Workflow.make({ name: `${name}-orphan`, run: () => Workflow.signal("never", Schema.Number) })
        const parent = Workflow.make({ name: `${name}-cancelled`, run: () => Workflow.child(forever, null) })
        const { engine } = yield* startEngine()
        const handle = yield* engine.start(parent, null)
        yield* until("the parent waits", Effect.map(stored(handle.id), (r) => r.status === "waiting"))
        yield* engine.cancel(handle.id)
        const [child] = (yield* childrenOf(handle.id)).executions
        expect(child?.status).toBe("cancelled")
      })))
  })

onEveryStorage(childSuite)
