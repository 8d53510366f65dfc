/**
 * Review (issue 9): an answer that lands while a run re-reads a waiting approval is lost.
 *
 * Defect: `Instance.approval` (src/internal/instance.ts, the journaled-and-waiting branch) re-reads the
 * journal and, if the entry still waits, commits `{ status: "waiting" }`. An `approve` that lands between
 * that read and the commit stores the answer and `running`, hands the answer to the run (`Runs.handOff`:
 * the run is still `Running`, so it takes it) and does not launch another run (`Runs.launch` sees a live
 * run). The run never looks at the handed answer again: it commits `waiting` over `running` and ends. The
 * execution is left `waiting` with no approval waiting: nothing resumes it, and `approve` now answers
 * `ApprovalNotPending`. The window is the re-read's round trip (PostgreSQL, any `SqlClient`, another
 * engine answering); a memory storage whose `journal` read takes its time makes it deterministic.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Layer } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { startEngine } from "./helpers.js"

describe("review: approvals", () => {
  it.live.fails("an answer given while a run re-reads its waiting approval resumes the execution", () =>
    Effect.gen(function*() {
      const base = yield* ExecutionStorage.makeMemory
      const reading = yield* Deferred.make<void>()
      const answered = yield* Deferred.make<void>()
      let armed = false
      let reads = 0
      // A journal read with I/O: evaluated now, its rows come back later.
      const storage: ExecutionStorage.ExecutionStorageService = {
        ...base,
        journal: (id) =>
          // The second read of the armed run is the re-read before suspending.
          armed && ++reads === 2
            ? Effect.gen(function*() {
              const entries = yield* base.journal(id)
              yield* Deferred.succeed(reading, undefined)
              yield* Deferred.await(answered)
              return entries
            })
            : base.journal(id)
      }
      const workflow = Workflow.make({
        name: "review-reread",
        run: () => Effect.map(Workflow.approval({ taskId: "q", dataForApproval: null }), (answer) => answer.status)
      })
      yield* Effect.gen(function*() {
        const { engine } = yield* startEngine({ recover: false })
        const handle = yield* engine.start(workflow, undefined)
        while ((yield* engine.status(handle.id)).status !== "waiting") yield* Effect.sleep("5 millis")
        yield* Effect.sleep("20 millis")
        // A run of the waiting execution (resume; equally: the answer to another of its approvals).
        armed = true
        yield* engine.resume(handle.id)
        yield* Deferred.await(reading)
        yield* engine.approve(handle.id, "q", { status: "approved" })
        yield* Deferred.succeed(answered, undefined)
        const result = yield* Effect.either(Effect.timeout(handle.result, "2 seconds"))
        const record = yield* engine.status(handle.id)
        // Fails now: the execution stays "waiting" (its approval completed in the journal) and the result never comes.
        expect({ status: record.status, result: result._tag }).toEqual({ status: "completed", result: "Right" })
      }).pipe(Effect.provide(Layer.succeed(ExecutionStorage.ExecutionStorage, storage)))
    }).pipe(Effect.scoped))
})
