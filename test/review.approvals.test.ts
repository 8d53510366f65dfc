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
  it.live("an answer given while a run re-reads its waiting approval resumes the execution", () =>
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
        // A run of the waiting execution (resume; equally: the answer to another of its approvals).
        armed = true
        yield* engine.resume(handle.id)
        yield* Deferred.await(reading)
        yield* engine.approve(handle.id, "q", { status: "approved" })
        yield* Deferred.succeed(answered, undefined)
        // Was: the execution stayed "waiting" (its approval completed in the journal) and the result never came.
        const result = yield* Effect.either(Effect.timeout(handle.result, "60 seconds"))
        const record = yield* engine.status(handle.id)
        expect({ status: record.status, result: result._tag }).toEqual({ status: "completed", result: "Right" })
      }).pipe(Effect.provide(Layer.succeed(ExecutionStorage.ExecutionStorage, storage)))
    }).pipe(Effect.scoped))

  it.live("an answer from another engine while a run re-reads its waiting approval is not overwritten by waiting", () =>
    Effect.gen(function*() {
      const base = yield* ExecutionStorage.makeMemory
      const reading = yield* Deferred.make<void>()
      const answered = yield* Deferred.make<void>()
      let armed = false
      let reads = 0
      const storage: ExecutionStorage.ExecutionStorageService = {
        ...base,
        journal: (id) =>
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
        name: "review-reread-elsewhere",
        run: () => Effect.map(Workflow.approval({ taskId: "q", dataForApproval: null }), (answer) => answer.status)
      })
      yield* Effect.gen(function*() {
        // This engine recovers (a short lease: it scans every 100 ms); the other one only answers.
        const { engine } = yield* startEngine({ lease: "300 millis" })
        const other = yield* startEngine({ recover: false })
        const handle = yield* engine.start(workflow, undefined)
        while ((yield* engine.status(handle.id)).status !== "waiting") yield* Effect.sleep("5 millis")
        armed = true
        yield* engine.resume(handle.id)
        yield* Deferred.await(reading)
        yield* other.engine.approve(handle.id, "q", { status: "approved" })
        yield* Deferred.succeed(answered, undefined)
        // The run's "waiting" commit is refused (the approval no longer waits); recovery runs it on.
        const result = yield* Effect.either(Effect.timeout(handle.result, "60 seconds"))
        expect(result).toMatchObject({ _tag: "Right", right: "approved" })
        expect((yield* engine.status(handle.id)).status).toBe("completed")
      }).pipe(Effect.provide(Layer.succeed(ExecutionStorage.ExecutionStorage, storage)))
    }).pipe(Effect.scoped))
})
