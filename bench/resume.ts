/**
 * Resume of an execution whose first 10,000 steps are journaled (SQLite), until
 * it reaches step 10,001, on a fresh engine; the floor reads the journal raw
 * where the storage keeps it (a step's entry in its `step_end` row, others
 * in the journal table) and parses every result. Only the resume is timed: opening the storage and
 * building the engine are outside the span.
 */
import Database from "better-sqlite3"
import { Deferred, Effect, FiberId } from "effect"
import { copyFileSync } from "node:fs"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import * as SqliteLog from "../src/internal/storage/sqliteLog.js"
import type { Result } from "./harness.js"
import { compareMeasured } from "./harness.js"
import type { Targets } from "./targets.js"

const JOURNALED = 10_000
const ID = "resume-me"

export const run = async (targets: Targets): Promise<Array<Result>> => {
  const filename = targets.file("resume.db")
  let reached = Deferred.unsafeMake<void>(FiberId.none)
  let firstRun = true
  const long = Workflow.make({
    name: "bench-resume",
    run: () =>
      Effect.gen(function*() {
        for (let i = 0; i < JOURNALED; i++) yield* Workflow.step("step", Effect.succeed(i))
        yield* Workflow.step(
          "last",
          firstRun ? Effect.never : Effect.asVoid(Deferred.succeed(reached, undefined))
        )
      })
  })
  // Run once until the last step, then stop the engine as a dying process would.
  await Effect.runPromise(
    Effect.scoped(Effect.gen(function*() {
      const engine = yield* WorkflowEngine.make({ recover: false })
      yield* engine.start(long, undefined, { executionId: ID })
      while ((yield* engine.status(ID)).lastSeq < 2 * JOURNALED + 1) yield* Effect.sleep("50 millis")
    })).pipe(Effect.provide(ExecutionStorage.layerSqlite({ filename })))
  )
  firstRun = false
  // Each sample resumes a copy of the stored execution (the original stays unfinished).
  const ours = () => {
    const copy = targets.file("resume-copy.db")
    copyFileSync(filename, copy)
    return Effect.runPromise(
      Effect.scoped(Effect.gen(function*() {
        const engine = yield* WorkflowEngine.make({ recover: false })
        yield* engine.register(long)
        reached = yield* Deferred.make<void>()
        const started = performance.now()
        yield* engine.resume(ID)
        yield* Deferred.await(reached)
        return performance.now() - started
      })).pipe(Effect.provide(ExecutionStorage.layerSqlite({ filename: copy })))
    )
  }
  const floor = async () => {
    const db = new Database(filename, { readonly: true })
    const started = performance.now()
    // Where the storage keeps it: a step's entry in its `step_end` row (SQLite), any other in the table; the
    // execution's log a range of positions (sqliteLog.ts).
    const rows = db.prepare(
      `select key, name, kind, state, result from workflow_journal where execution_id = ?
       union all select e.journal_key, e.journal_name, 'step', 'completed', e.journal_result
        from ${SqliteLog.eventsOf("?")} and e.journal_key is not null`
    ).all(ID, ID)
    for (const row of rows as Array<{ result: string | null }>) if (row.result !== null) JSON.parse(row.result)
    const elapsed = performance.now() - started
    db.close()
    return elapsed
  }
  return [
    await compareMeasured(
      `resume of ${JOURNALED} journaled steps, SQLite NORMAL (floor: reading the journal raw)`,
      ours,
      floor,
      { rounds: 5, warmup: 1 }
    )
  ]
}
