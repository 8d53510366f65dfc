/**
 * Review (issue 9, "Faithful payloads"): values the check lets through although JSON reads them back
 * differently, and refusals that are not `InvalidPayload`.
 *
 * - `walk` (src/internal/storage/payload.ts) iterates an array's indices and an object's enumerable keys,
 *   so a `toJSON` that JSON.stringify calls goes unseen when it sits on an array or is non-enumerable: the
 *   memory storage keeps the array, SQLite stores what `toJSON` returned, and a replay on SQLite differs
 *   from the first run.
 * - `walk` recurses once per level and lets a RangeError out: a deep value (one JSON.stringify cannot
 *   hold either) fails the run with a "RangeError" defect instead of `InvalidPayload`.
 * - `JournalCodec.project` (src/internal/journalCodec.ts) spreads every failure whose prototype is not
 *   Object's into an object: an array failure (JSON data) becomes `{ "0": ..., "1": ... }`, in the first run
 *   and in the replay.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { startEngine } from "./helpers.js"

const run = <A, E>(effect: Effect.Effect<A, E, ExecutionStorage.ExecutionStorage | import("effect").Scope.Scope>) =>
  effect.pipe(Effect.scoped, Effect.provide(ExecutionStorage.layerMemory))

const resultOf = (name: string, body: Effect.Effect<unknown, unknown, Workflow.ExecutionContext>) =>
  Effect.gen(function*() {
    const { engine } = yield* startEngine()
    const handle = yield* engine.start(Workflow.make({ name, run: () => body }), undefined)
    const outcome = yield* Effect.either(handle.result)
    return outcome._tag === "Left" ? outcome.left : { completed: outcome.right }
  })

describe("review: faithful payloads", () => {
  it.live("refuses a step result whose toJSON changes what JSON stores (on an array, or not enumerable)", () =>
    run(Effect.gen(function*() {
      const onArray = (): unknown => Object.assign([1, 2], { toJSON: () => "not the array" })
      const hidden = (): unknown => Object.defineProperty({ a: 1 }, "toJSON", { value: () => "not the object" })
      for (const [kind, value] of [["on an array", onArray], ["not enumerable", hidden]] as const) {
        const error = yield* resultOf(`review-toJSON-${kind}`, Workflow.step("s", Effect.sync(value)))
        // Fails now: { completed: ... } (JSON.stringify would store "not the array" / "not the object").
        expect([kind, error]).toMatchObject([kind, { _tag: "WorkflowFailed", error: { name: "InvalidPayload" } }])
      }
    })))

  it.live("refuses a value too deep to store with InvalidPayload, not a RangeError defect", () =>
    run(Effect.gen(function*() {
      const deep = () => {
        let value: unknown = 1
        for (let i = 0; i < 100_000; i++) value = { next: value }
        return value
      }
      const error = yield* resultOf("review-deep", Workflow.step("s", Effect.sync(deep)))
      // Fails now: error { name: "RangeError", message: "Maximum call stack size exceeded" }.
      expect(error).toMatchObject({ _tag: "WorkflowFailed", error: { name: "InvalidPayload" } })
    })))

  it.live("keeps an array failure an array when it is journaled as data", () =>
    run(Effect.gen(function*() {
      const result = yield* resultOf(
        "review-array-failure",
        Effect.map(Effect.flip(Workflow.step("s", Effect.fail(["a", "b"]))), (failure) => failure)
      )
      // Fails now: { completed: { "0": "a", "1": "b" } }.
      expect(result).toEqual({ completed: ["a", "b"] })
    })))
})
