/**
 * Peer rows: @effect/workflow 0.19 on @effect/cluster 0.60 (a single-node
 * cluster, `SingleRunner`, its messages and replies in SQL storage) on the
 * same workloads and against the same floors as our sequential and 1-step
 * rows, so that the ratios compare. Each step is an `Activity`, whose result
 * the cluster stores before the workflow goes on. On SQLite the peer runs on
 * @effect/sql-sqlite-node (better-sqlite3, WAL) with `synchronous = NORMAL`,
 * the pragmas of our NORMAL rows; the runner's shard locks are kept in memory
 * (one process).
 */
import { ClusterWorkflowEngine, SingleRunner } from "@effect/cluster"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Activity, Workflow } from "@effect/workflow"
import { Effect, Layer, ManagedRuntime, Redacted, Schema } from "effect"
import type { Result } from "./harness.js"
import { elapsed } from "./harness.js"
import * as Latency from "./latency.js"
import * as Sequential from "./sequential.js"
import type { Target, Targets } from "./targets.js"

const SUBJECT = "peer @effect/workflow: "

const payload = { id: Schema.String, n: Schema.Number }

/** `n` sequential activities, step `i` returning `i`. */
const Steps = Workflow.make({ name: "bench-steps", payload, success: Schema.Number, idempotencyKey: ({ id }) => id })

/** One activity returning `n * 2`. */
const OneStep = Workflow.make({
  name: "bench-one-step",
  payload,
  success: Schema.Number,
  idempotencyKey: ({ id }) => id
})

const step = (name: string, value: number) =>
  Activity.make({ name, success: Schema.Number, execute: Effect.succeed(value) })

const workflows = Layer.mergeAll(
  Steps.toLayer(({ n }) =>
    Effect.gen(function*() {
      let total = 0
      // An activity's name is its identity in the execution: one name per step.
      for (let i = 0; i < n; i++) total += yield* step(`step-${i}`, i)
      return total
    })
  ),
  OneStep.toLayer(({ n }) => step("step", n * 2))
)

const sql = (target: Target): Layer.Layer<SqlClient.SqlClient, unknown> | undefined => {
  const location = target.location()
  if (location === undefined) return undefined
  if ("pg" in location) return PgClient.layer({ url: Redacted.make(location.pg) })
  const pragma = Layer.effectDiscard(
    Effect.flatMap(SqlClient.SqlClient, (client) => client.unsafe(`PRAGMA synchronous = ${location.synchronous}`))
  )
  return pragma.pipe(Layer.provideMerge(SqliteClient.layer({ filename: location.sqlite })))
}

const peer = async (storage: Layer.Layer<SqlClient.SqlClient, unknown>) => {
  const runtime = ManagedRuntime.make(workflows.pipe(
    Layer.provideMerge(ClusterWorkflowEngine.layer),
    Layer.provideMerge(SingleRunner.layer({ runnerStorage: "memory" })),
    Layer.provideMerge(storage)
  ))
  await runtime.runtime() // build it (connect, migrate) now, not in the first sample
  let executions = 0
  const id = () => `e${executions++}`
  return {
    sequential: (n: number) => runtime.runPromise(elapsed(Steps.execute({ id: id(), n }))),
    oneStep: (input: number) => runtime.runPromise(elapsed(OneStep.execute({ id: id(), n: input }))),
    dispose: () => runtime.dispose()
  }
}

export const run = async (targets: Targets): Promise<Array<Result>> => {
  const results: Array<Result> = []
  for (const target of [targets.sqliteNormal, targets.postgres]) {
    const storage = target === undefined ? undefined : sql(target)
    if (target === undefined || storage === undefined) continue
    const engine = await peer(storage)
    const floor = await target.floor()
    try {
      results.push(await Sequential.row(SUBJECT, target, engine.sequential, floor, { rounds: 3, warmup: 1 }))
      results.push(await Latency.row(SUBJECT, target, engine.oneStep, floor))
    } finally {
      await floor.close()
      await engine.dispose()
    }
  }
  return results
}
