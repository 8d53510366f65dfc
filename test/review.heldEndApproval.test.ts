/**
 * Review of the held step ends: a step's end held by the run writer is merged into the run's next commit
 * when that commit journals nothing, the suspend on an approval found waiting (`waitingFor`) included.
 * That commit is refused with `ApprovalNotPending` when the answer landed after the run's re-read of its
 * journal (a race the re-read is there for, see "Leases and recovery"); the run then catches the refusal
 * and suspends, and the held end, rolled back with it, is never written.
 */
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, expect, it } from "vitest"
import { ExecutionStorage } from "../src/index.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-held-approval-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

it("a held step end is stored even when the suspend commit it was merged into is refused (ApprovalNotPending)", () =>
  Effect.runPromise(
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      const id = `held-approval-${Date.now().toString(36)}`
      const owner = "engine-a"
      yield* storage.create({ id, workflow: "w", input: null, status: "running", claim: { owner, leaseMs: 60_000 } })
      // An earlier run asked x (and a sibling branch's step b was interrupted).
      yield* storage.commit(id, {
        owner,
        journal: { key: "0/1", name: "approval:x", kind: "approval", state: "waiting", taskId: "x" },
        status: "waiting"
      })
      yield* storage.commit(id, { owner, journal: { key: "0/0", name: "b", kind: "step", state: "started" } })
      const ended = yield* Effect.scoped(
        Effect.gen(function*() {
          const writer = yield* storage.writer(id, { owner })
          // The resumed run: step b ends (held), the approval's re-read found x waiting; the answer lands from
          // another engine; the run's suspend commit checks x is still waiting.
          yield* writer.commit({
            events: [
              {
                type: "step_end",
                timestamp: 1,
                runnableName: "b",
                durationMs: 0,
                output: 1,
                workflowInstanceId: id
              } as any
            ],
            journal: { key: "0/0", name: "b", kind: "step", state: "completed", result: { _tag: "Success", value: 1 } }
          }, { hold: true })
          yield* storage.commit(id, { answer: { taskId: "x", value: { status: "approved" } }, status: "running" })
          return yield* Effect.either(writer.commit({ status: "waiting", waitingFor: { key: "0/1", taskId: "x" } }))
        })
      )
      // The suspend is refused, as it should be (the run catches this and leaves)...
      expect(ended._tag === "Left" && ended.left._tag).toBe("ApprovalNotPending")
      // ...but b's completed end, handed to the writer before it, must be stored.
      const b = (yield* storage.journal(id)).find((entry) => entry.key === "0/0")
      expect(b?.state).toBe("completed")
    }).pipe(Effect.provide(ExecutionStorage.layerSqlite({ filename: join(dir, "held.db") })))
  ))
