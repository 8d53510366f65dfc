/**
 * Review (issue 9, "Memory storage" / "Faithful payloads"): the memory storage copies what it stores, but
 * hands out what it stores by reference.
 *
 * Defect: `snapshot` (input, output, error), `journal` and `events` in src/internal/storage/memory.ts return
 * the stored objects themselves. Whoever changes a value read back changes what is stored: a body that
 * changes a replayed step result changes the journal, so the next replay sees the change twice (on SQLite
 * every read parses fresh JSON); a caller that changes a result changes the next caller's result.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { startEngine, waitForEvent } from "./helpers.js"

const untilWaiting = (
  engine: { readonly status: (id: string) => Effect.Effect<{ readonly status: string }, unknown> },
  id: string
) =>
  Effect.gen(function*() {
    for (let i = 0; i < 400; i++) {
      if ((yield* engine.status(id)).status === "waiting") return
      yield* Effect.sleep("5 millis")
    }
    return yield* Effect.dieMessage(`${id} never waited`)
  })

describe("review: memory storage copies", () => {
  it.effect("events read back are frozen: a subscriber cannot change what others read", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const workflow = Workflow.make({ name: "review-frozen", run: () => Workflow.log("info", "x", { n: 1 }) })
      const handle = yield* engine.start(workflow, undefined)
      yield* handle.result
      const log = yield* waitForEvent(engine, handle.id, (e) => e.type === "log")
      expect(Object.isFrozen(log)).toBe(true)
      expect(() => ((log as { details: { n: number } }).details.n = 2)).toThrow(TypeError)
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))

  it.live("a body changing a replayed step result does not change the journal", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const workflow = Workflow.make({
        name: "review-replayed-result",
        run: () =>
          Effect.gen(function*() {
            const list = yield* Workflow.step("list", Effect.sync(() => [1]))
            list.push(2)
            yield* Workflow.approval({ taskId: "first", dataForApproval: null })
            yield* Workflow.approval({ taskId: "second", dataForApproval: null })
            return list
          })
      })
      const handle = yield* engine.start(workflow, undefined)
      yield* untilWaiting(engine, handle.id)
      yield* engine.approve(handle.id, "first", { status: "approved" })
      // The replay reached the second approval (so it has read, and changed, the first step's result).
      yield* waitForEvent(engine, handle.id, (e) => e.type === "human_approval_required" && e.taskId === "second")
      yield* untilWaiting(engine, handle.id)
      yield* engine.approve(handle.id, "second", { status: "approved" })
      // Was [1, 2, 2]: the first replay pushed onto the stored journal entry.
      expect(yield* handle.result).toEqual([1, 2])
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))

  it.live("a caller changing a result does not change the stored output", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const workflow = Workflow.make({ name: "review-result", run: () => Effect.succeed({ n: 1 }) })
      const handle = yield* engine.start(workflow, undefined)
      const first = (yield* handle.result) as { n: number }
      first.n = 2
      // Was { n: 2 }.
      expect(yield* handle.result).toEqual({ n: 1 })
    }).pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory)))
})
