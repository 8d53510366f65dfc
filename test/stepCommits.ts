/**
 * What a run stores for a step that ends at once, written straight to a
 * storage as the run's writer would: shared by the tests of step rows and of
 * following on PostgreSQL.
 */
import { Effect } from "effect"
import { ExecutionStorage } from "../src/index.js"
import type { WorkflowEvent } from "../src/index.js"

export const OWNER = "run-1"

export const start = (i: number, timestamp: number): WorkflowEvent.WorkflowEvent => ({
  type: "step_start",
  timestamp,
  runnableName: `step ${i}`
})

export const end = (i: number, timestamp: number): WorkflowEvent.WorkflowEvent => ({
  type: "step_end",
  timestamp,
  runnableName: `step ${i}`,
  durationMs: 0,
  output: i
})

/** What a run commits for step `i` that ends at once: its start and end, journaled completed. */
export const stepCommit = (i: number, timestamp: number): ExecutionStorage.Commit => ({
  events: [start(i, timestamp), end(i, timestamp)],
  journal: {
    key: String(i),
    name: `step ${i}`,
    kind: "step",
    state: "completed",
    result: { _tag: "Success", value: i }
  },
  owner: OWNER
})

/** A running execution held by `OWNER`, on a storage over `filename` (checkpoints left to the test). */
export const running = (id: string) =>
  Effect.flatMap(
    ExecutionStorage.ExecutionStorage,
    (storage) =>
      storage.create({ id, workflow: "w", input: null, status: "running", claim: { owner: OWNER, leaseMs: 60_000 } })
  )
