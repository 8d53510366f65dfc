/**
 * Review (issue 9, "Group commit (SQLite)"): commits made on behalf of anyone are all one "writer".
 *
 * Defect: `writerOf(id, undefined)` in src/internal/storage/sqlite.ts is the execution id alone, so every
 * owner-less commit of one execution in a batch (approve, cancel) counts as the same run: once one is
 * refused, every later one of that execution in the batch is refused with *its* error, unwritten. An
 * `approve` of a pending task batched after an `approve` of a wrong task fails with
 * `ApprovalNotPending` naming the wrong task, and its answer is not stored; a `cancel` batched there dies
 * (control.ts turns `ApprovalNotPending` into a defect). "Each commit is still stored or refused on its
 * own" (SqliteOptions.groupCommit) does not hold.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { startEngine } from "./helpers.js"

describe("review: group commit", () => {
  it.live("a refused approve does not refuse another approve of the same execution in its batch", () =>
    Effect.gen(function*() {
      const { engine } = yield* startEngine()
      const workflow = Workflow.make({
        name: "review-grouped-approve",
        run: () => Effect.map(Workflow.approval({ taskId: "q", dataForApproval: null }), (answer) => answer.status)
      })
      const handle = yield* engine.start(workflow, undefined)
      while ((yield* engine.status(handle.id)).status !== "waiting") yield* Effect.sleep("5 millis")
      const [wrong, right] = yield* Effect.all([
        Effect.either(engine.approve(handle.id, "no-such-task", { status: "approved" })),
        Effect.either(engine.approve(handle.id, "q", { status: "approved" }))
      ], { concurrency: "unbounded" })
      expect(wrong._tag).toBe("Left")
      // Fails now: Left(ApprovalNotPending { taskId: "no-such-task" }).
      expect(right).toMatchObject({ _tag: "Right" })
      expect(yield* handle.result).toBe("approved")
    }).pipe(
      Effect.scoped,
      Effect.provide(
        ExecutionStorage.layerSqlite({
          filename: join(mkdtempSync(join(tmpdir(), "review-")), "db.sqlite"),
          groupCommit: true
        })
      )
    ))
})
