/**
 * 100 executions x 10 steps at once on one engine: the wall time to start
 * them all and await every result, against the floor's 1,000 writes one
 * after another (single-insert transactions; autocommitted inserts on one
 * pg client). The ratio is of times; steps per second are printed.
 */
import { Effect } from "effect"
import { WorkflowEngine } from "../src/index.js"
import { writes } from "./floors.js"
import type { Result } from "./harness.js"
import { compareMeasured } from "./harness.js"
import type { Targets } from "./targets.js"
import { rowPerTarget } from "./targets.js"
import { steps } from "./workflows.js"

const EXECUTIONS = 100
const STEPS = 10

const startAllAndAwait = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const handles = yield* Effect.forEach(
    Array.from({ length: EXECUTIONS }),
    () => engine.start(steps, STEPS),
    { concurrency: "unbounded" }
  )
  yield* Effect.forEach(handles, (handle) => handle.result, { concurrency: "unbounded", discard: true })
})

const perSecond = (ms: number) => Math.round((EXECUTIONS * STEPS) / (ms / 1000)).toLocaleString("en-US")

export const run = (targets: Targets): Promise<Array<Result>> =>
  rowPerTarget(targets.all, async (target, engine, floor) => {
    const total = EXECUTIONS * STEPS
    const result = await compareMeasured(
      `${EXECUTIONS} executions x ${STEPS} steps at once, ${target.label} (floor: ${total} x ${target.floorWrite})`,
      () => engine.measure(startAllAndAwait),
      writes(floor, total),
      { rounds: 3, warmup: 1 }
    )
    console.log(`  steps/s: ours ${perSecond(result.ours)}, floor ${perSecond(result.floor)}`)
    return result
  })
