/**
 * Review (issue 9, "Faithful payloads"; regression of 8869c08): an event's fields other than the payload
 * fields `checkEvent` names are no longer checked.
 *
 * Defect: `checkEvent` (src/internal/storage/payload.ts) looks only at the named payload field of each
 * event type, on the ground that "the others are the engine's strings and numbers". They are not:
 * `Workflow.emit` (and a Runnable's yielded events) decode with `onExcessProperty: "preserve"`, so an
 * event keeps any extra field a body gives it, and `timestamp` is `Schema.Number`, which takes NaN. So a
 * Date in an extra field is stored as a Date on memory and read back as a string on SQLite, NaN as NaN
 * and as null, and a BigInt is stored on memory and dies in `JSON.stringify` on SQLite (a TypeError
 * defect, not `InvalidPayload`).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Layer } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { collect, startEngine } from "./helpers.js"

const storages: ReadonlyArray<readonly [string, () => Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>]> = [
  ["memory", () => ExecutionStorage.layerMemory],
  [
    "sqlite",
    () => ExecutionStorage.layerSqlite({ filename: join(mkdtempSync(join(tmpdir(), "review-")), "db.sqlite") })
  ]
]

describe("review: event payloads", () => {
  for (const [name, layer] of storages) {
    it.live(`${name}: an emitted event with a field JSON cannot hold as it is is refused with InvalidPayload`, () =>
      Effect.gen(function*() {
        const { engine } = yield* startEngine()
        for (
          const [kind, extra] of [["a Date", { at: new Date(0) }], ["a BigInt", { n: 1n }], ["NaN", {
            timestamp: NaN
          }]] as const
        ) {
          const workflow = Workflow.make({
            name: `review-extra-${name}-${kind}`,
            run: () => Workflow.emit({ type: "log", level: "info", message: "m", ...extra })
          })
          const handle = yield* engine.start(workflow, undefined)
          const outcome = yield* Effect.either(handle.result)
          const error = outcome._tag === "Left" ? outcome.left : { completed: outcome.right }
          // Fails now: memory stores all three and completes; SQLite completes for the Date and NaN (reading
          // back a string and null) and fails the BigInt with a TypeError.
          expect([kind, error]).toMatchObject([kind, { _tag: "WorkflowFailed", error: { name: "InvalidPayload" } }])
          expect(yield* collect(engine.events(handle.id))).not.toContainEqual(expect.objectContaining({ type: "log" }))
        }
      }).pipe(Effect.scoped, Effect.provide(layer())))
  }
})
