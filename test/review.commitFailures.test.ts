/**
 * Review (issue 9, "A run's lifecycle": a commit the storage refused for a storage failure is `Stop`, "the
 * execution stays as stored, to be resumed").
 *
 * Defect: a commit made inside a step's body (a log, a nested step, a held start's failure surfacing there,
 * or `confirmLease` before a nested step) that fails dies with `CommitFailed`; `Instance.completeStep`
 * (src/internal/instance.ts) journals only interruptions as "nothing", so it journals the step as completed
 * with that defect. The run stops as `Stop`, but the step's end (a `Die`) was stored once the storage came
 * back: the resumed run replays the step as a `ReplayedDefect` and the execution fails. A transient storage
 * failure (a busy SQLite lock, a dropped PostgreSQL connection) inside a step fails the execution for good.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { startEngine } from "./helpers.js"

describe("review: commit failures inside a step", () => {
  it.live("a storage failure of a commit inside a step leaves the execution to be resumed", () =>
    Effect.gen(function*() {
      const base = yield* ExecutionStorage.makeMemory
      let failures = 1
      // A storage whose next commit of a log fails once, as a busy database would.
      const storage: ExecutionStorage.ExecutionStorageService = {
        ...base,
        writer: (id, options) =>
          Effect.map(base.writer(id, options), (writer) => ({
            commit: (commit, hold) =>
              failures > 0 && commit.events?.some((event) => event.type === "log") === true
                ? Effect.suspend(() => {
                  failures--
                  return Effect.fail(new ExecutionStorage.StorageError({ operation: "commit", reason: "busy" }))
                })
                : writer.commit(commit, hold)
          }))
      }
      const workflow = Workflow.make({
        name: "review-transient",
        run: () => Effect.as(Workflow.step("outer", Workflow.log("info", "inside")), "done")
      })
      yield* Effect.gen(function*() {
        const { engine } = yield* startEngine({ recover: false })
        const handle = yield* engine.start(workflow, undefined)
        for (let i = 0; i < 200 && failures > 0; i++) yield* Effect.sleep("5 millis")
        yield* Effect.sleep("50 millis")
        expect((yield* engine.status(handle.id)).status).toBe("running")
        // Fails now: the journal holds "outer" as completed with { _tag: "Die", defect: { name: "CommitFailed" } }.
        expect((yield* base.journal(handle.id)).map((entry) => entry.result?._tag)).not.toContain("Die")
        yield* engine.resume(handle.id)
        // And the resumed run fails with ReplayedDefect instead of completing.
        expect(yield* Effect.either(Effect.timeout(handle.result, "2 seconds"))).toMatchObject({
          _tag: "Right",
          right: "done"
        })
      }).pipe(Effect.provide(Layer.succeed(ExecutionStorage.ExecutionStorage, storage)))
    }).pipe(Effect.scoped))
})
