/**
 * A long burst (100,000 chunks in one step, each a commit) must not stop
 * time: the engine's lease renewals keep running during it, so the run keeps
 * its lease and finishes. On SQLite both ways a commit completes: at once
 * (the default under NORMAL), and on the microtask of its group commit
 * (`groupCommit: true`, the default under FULL), which never leaves the
 * microtask queue either.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-bursts-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const CHUNKS = 100_000

describe.each([
  { commits: "written at once (the default)", groupCommit: undefined },
  { commits: "grouped", groupCommit: true }
])("bursts of commits $commits", ({ groupCommit }) => {
  it.live(
    "lease renewals go on during 100,000 chunks in one step, and the run keeps its lease",
    () =>
      Effect.gen(function*() {
        let renewals = 0
        // The SQLite storage, counting renewals of leases (the engine renews every third of its lease).
        const counting = Layer.effect(
          ExecutionStorage.ExecutionStorage,
          Effect.map(ExecutionStorage.ExecutionStorage, (storage) => ({
            ...storage,
            renew: (owner: string, ids: ReadonlyArray<string>, leaseUntil: number) =>
              Effect.tap(
                storage.renew(owner, ids, leaseUntil),
                () => Effect.sync(() => void (ids.length > 0 && renewals++))
              )
          }))
        ).pipe(Layer.provide(ExecutionStorage.layerSqlite({
          filename: join(dir, `burst-${groupCommit}.db`),
          ...(groupCommit === undefined ? {} : { groupCommit })
        })))
        let bodies = 0
        let renewalsDuringBurst = 0
        const burst = Workflow.make({
          name: "burst",
          run: () =>
            Effect.gen(function*() {
              yield* Workflow.step(
                "chunks",
                Effect.gen(function*() {
                  bodies++
                  const before = renewals
                  for (let i = 0; i < CHUNKS; i++) yield* Workflow.chunk(i)
                  renewalsDuringBurst = renewals - before
                })
              )
              return yield* Workflow.step("after", Effect.succeed("done"))
            })
        })
        // A lease short enough for renewals to be due many times during the burst, long enough for a busy
        // 2-core machine (whose event loop may stall for a few hundred ms) not to lose it.
        const result = yield* Effect.gen(function*() {
          const engine = yield* WorkflowEngine.WorkflowEngine
          const handle = yield* engine.start(burst, undefined)
          return yield* handle.result
        }).pipe(Effect.provide(WorkflowEngine.layerWith({ lease: "1 second" }).pipe(Layer.provide(counting))))
        expect(result).toBe("done")
        expect(bodies).toBe(1)
        // Renewals come every third of a second; the burst takes seconds. Without yielding there would be none.
        expect(renewalsDuringBurst).toBeGreaterThanOrEqual(3)
      }),
    120_000
  )
})
