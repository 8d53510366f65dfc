/**
 * Review (issue 9): an answer that lands while a run re-reads a waiting approval was lost.
 *
 * The defect: `Instance.approval` (the journaled-and-waiting branch) re-read the journal and, if the entry
 * still waited, committed `{ status: "waiting" }`. An `approve` landing between that read and the commit
 * stored the answer and `running`, handed the answer to the run (still `Running`) and launched no other run
 * (`Runs.launch` saw a live run). The run never looked at the handed answer again: it committed `waiting`
 * over `running`, and nothing resumed the execution. Now the run takes an answer handed over meanwhile, and
 * the storage refuses the waiting commit once the approval was answered (`Commit.waitingFor`), so an answer
 * from another engine is not overwritten either. A memory storage whose `journal` read waits on the test
 * makes the window deterministic.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Layer } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import { startEngine } from "./helpers.js"

/**
 * A memory storage whose second journal read after `arm` (a run's re-read before suspending) stops until
 * `answered`, telling `reading` when it got there.
 */
const stoppingReReads = Effect.gen(function*() {
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
  return {
    layer: Layer.succeed(ExecutionStorage.ExecutionStorage, storage),
    arm: Effect.sync(() => (armed = true)),
    reading: Deferred.await(reading),
    answered: Deferred.succeed(answered, undefined)
  }
})

const asking = (name: string) =>
  Workflow.make({
    name,
    run: () => Effect.map(Workflow.approval({ taskId: "q", dataForApproval: null }), (answer) => answer.status)
  })

describe("review: approvals", () => {
  for (const answeredBy of ["this engine", "another engine"] as const) {
    it.live(`an answer from ${answeredBy} while a run re-reads its waiting approval resumes the execution`, () =>
      Effect.gen(function*() {
        const stopping = yield* stoppingReReads
        yield* Effect.gen(function*() {
          // This engine recovers (a short lease: it scans every 100 ms): an answer from elsewhere needs it.
          const { engine } = yield* startEngine({ lease: "300 millis" })
          const other = yield* startEngine({ recover: false })
          const answering = answeredBy === "this engine" ? engine : other.engine
          const handle = yield* engine.start(asking(`review-reread-${answeredBy.length}`), undefined)
          while ((yield* engine.status(handle.id)).status !== "waiting") yield* Effect.sleep("5 millis")
          // A run of the waiting execution (resume; equally: the answer to another of its approvals).
          yield* stopping.arm
          yield* engine.resume(handle.id)
          yield* stopping.reading
          yield* answering.approve(handle.id, "q", { status: "approved" })
          yield* stopping.answered
          // Was: the execution stayed "waiting" (its approval completed in the journal), the result never came.
          const result = yield* Effect.either(Effect.timeout(handle.result, "60 seconds"))
          expect(result).toMatchObject({ _tag: "Right", right: "approved" })
          expect((yield* engine.status(handle.id)).status).toBe("completed")
        }).pipe(Effect.provide(stopping.layer))
      }).pipe(Effect.scoped))
  }
})
