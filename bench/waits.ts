/**
 * Durable waits.
 *
 * - 10,000 executions sleeping at once (memory and SQLite NORMAL): from their
 *   common wake-up time until every one has completed, against 10,000 fibers
 *   sleeping to the same moment (the floor: waking with no durability at
 *   all); and the heap each sleeper holds while it sleeps, against a
 *   sleeping fiber's.
 * - A signal's round trip (`engine.signal` until the body that waited for it
 *   has completed) against an approval's (`engine.approve` until the same),
 *   on SQLite NORMAL: both store the input, resume the execution and replay
 *   its journal.
 */
import { Effect, Fiber, Schema } from "effect"
import { Workflow, WorkflowEngine } from "../src/index.js"
import type { Result } from "./harness.js"
import { compareMeasured, round } from "./harness.js"
import type { Target, Targets } from "./targets.js"
import { engine } from "./targets.js"

const SLEEPERS = 10_000

const sleeper = Workflow.make({
  name: "bench-sleeper",
  run: (wakeAt: number) => Workflow.sleepUntil(wakeAt)
})

const signalled = Workflow.make({
  name: "bench-signalled",
  run: () => Workflow.signal("go", Schema.Number)
})

const approved = Workflow.make({
  name: "bench-approved",
  run: () => Effect.map(Workflow.approval({ taskId: "go", dataForApproval: null }), (answer) => answer.status)
})

const heap = () => {
  globalThis.gc?.()
  return process.memoryUsage().heapUsed
}

/** Waits (really) until `at` on the wall clock. */
const until = (at: number) => Effect.sleep(Math.max(0, at - Date.now()))

/**
 * Starts the sleepers to wake at a moment after all of them sleep (judged from the time 500 starts take),
 * and answers the ms from that moment until all completed, and the heap per sleeper while they slept.
 */
const sleepers = (target: Target) => async (): Promise<{ readonly wake: number; readonly bytes: number }> => {
  const ours = await engine(target)
  try {
    return await ours.run(Effect.gen(function*() {
      const engine = yield* WorkflowEngine.WorkflowEngine
      const before = heap()
      const probe = Date.now()
      const far = probe + 3_600_000
      yield* Effect.forEach(Array.from({ length: 500 }), () => engine.start(sleeper, far))
      const wakeAt = Date.now() + (Date.now() - probe) * (SLEEPERS / 500) * 1.5 + 1_000
      const handles = yield* Effect.forEach(Array.from({ length: SLEEPERS }), () => engine.start(sleeper, wakeAt))
      const asleep = (yield* engine.executions({ workflow: sleeper.name, status: "waiting", limit: 1 })).executions
      if (asleep.length === 0 || Date.now() >= wakeAt) return yield* Effect.dieMessage("woke before all slept")
      const bytes = (heap() - before) / (SLEEPERS + 500)
      yield* until(wakeAt)
      yield* Effect.forEach(handles, (handle) => handle.result, { concurrency: 1_000, discard: true })
      return { wake: Date.now() - wakeAt, bytes }
    }))
  } finally {
    await ours.dispose()
  }
}

/** The floor: fibers sleeping to one moment, each then completing a Deferred-free no-op. */
const fibers = async (): Promise<{ readonly wake: number; readonly bytes: number }> =>
  Effect.runPromise(Effect.gen(function*() {
    const before = heap()
    const wakeAt = Date.now() + 1_000
    const sleeping = yield* Effect.forEach(
      Array.from({ length: SLEEPERS }),
      () => Effect.fork(Effect.zipRight(until(wakeAt), Effect.void))
    )
    const bytes = (heap() - before) / SLEEPERS
    yield* Fiber.joinAll(sleeping)
    return { wake: Date.now() - wakeAt, bytes }
  }))

/** Rows of ours and the floor, in ms for waking and in bytes per sleeper for the heap. */
const sleeperRows = async (target: Target): Promise<Array<Result>> => {
  const ours = await sleepers(target)()
  const floor = await fibers()
  const name = `${SLEEPERS.toLocaleString("en")} executions sleeping at once, ${target.label}`
  const rows: Array<Result> = [
    {
      name: `${name}: from their wake-up time until all completed (floor: as many fibers sleeping)`,
      ours: round(ours.wake),
      floor: round(Math.max(floor.wake, 1)),
      unit: "ms",
      ratio: round(ours.wake / Math.max(floor.wake, 1))
    },
    {
      name: `${name}: heap per sleeper while it sleeps (floor: a sleeping fiber's)`,
      ours: round(ours.bytes),
      floor: round(floor.bytes),
      unit: "bytes",
      ratio: round(ours.bytes / floor.bytes)
    }
  ]
  for (const row of rows) {
    console.log(`${row.name}\n  ours ${row.ours} ${row.unit}, floor ${row.floor} ${row.unit}, ratio ${row.ratio}`)
  }
  return rows
}

/** Ms from the input sent until the waiting execution completed. */
const roundTrip = (
  workflow: typeof signalled | typeof approved,
  send: (engine: WorkflowEngine.WorkflowEngineService, id: string) => Effect.Effect<void, unknown>
) =>
  Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const handle = yield* engine.start(workflow as Workflow.Any, null)
    while ((yield* handle.status).status !== "waiting") yield* Effect.sleep(1)
    const started = performance.now()
    yield* send(engine, handle.id)
    yield* handle.result
    return performance.now() - started
  })

export const run = async (targets: Targets): Promise<Array<Result>> => {
  const rows = [...await sleeperRows(targets.memory), ...await sleeperRows(targets.sqliteNormal)]
  const target = targets.sqliteNormal
  const ours = await engine(target)
  try {
    rows.push(
      await compareMeasured(
        `signal round trip, ${target.label}: engine.signal until the waiting body completed (floor: an approval's)`,
        () => ours.run(roundTrip(signalled, (engine, id) => engine.signal(id, "go", 1))),
        () => ours.run(roundTrip(approved, (engine, id) => engine.approve(id, "go", { status: "approved" }))),
        { rounds: 15, warmup: 3 }
      )
    )
  } finally {
    await ours.dispose()
  }
  return rows
}
