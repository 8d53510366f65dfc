/**
 * Before and after on a noisy machine: this build and another checkout's,
 * alternated round by round in one process, each against the floor measured
 * in the same rounds. `npm run bench` runs each build in its own process, at
 * its own moment; a 2-core machine's speed moves more between two runs than
 * most changes move a row, and within one process it moves for both alike.
 *
 *     git worktree add /tmp/before <commit>        # the build to compare with
 *     (cd /tmp/before && npm ci && npx tsc -p tsconfig.bench.json)
 *     npx tsc -p tsconfig.bench.json && node --expose-gc build/bench/ab.js /tmp/before [rounds]
 *
 * Workloads, on SQLite NORMAL (a file each): 500 sequential steps, the
 * one-step start to result (median of 200 per round), 100 executions × 10
 * steps at once. Prints the median of the rounds for each build, and its ratio
 * to the floor's median (500 or 1,000 single-insert transactions, or one).
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import type { WorkflowEngine as Engine } from "../src/index.js"
import { sqliteFloor, writes } from "./floors.js"
import { median } from "./harness.js"

type Package = typeof import("../src/index.js")
type Workflows = typeof import("./workflows.js")

const [other, roundsGiven] = process.argv.slice(2)
if (other === undefined) throw new Error("usage: node --expose-gc build/bench/ab.js <other checkout> [rounds]")
const rounds = Number(roundsGiven ?? 16)
const dir = mkdtempSync(join(tmpdir(), "workflow-ab-"))

/** The workloads of the build whose compiled benchmarks are under `root`, on a database of its own. */
const load = async (root: string, tag: string) => {
  const from = (path: string) => pathToFileURL(join(resolve(root), "build", path)).href
  const { ExecutionStorage, WorkflowEngine } = (await import(from("src/index.js"))) as Package
  const { oneStep, steps } = (await import(from("bench/workflows.js"))) as Workflows
  const runtime = ManagedRuntime.make(
    WorkflowEngine.layer.pipe(
      Layer.provideMerge(ExecutionStorage.layerSqlite({ filename: join(dir, `${tag}.db`), synchronous: "NORMAL" }))
    )
  )
  await runtime.runtime()
  const timed = async (effect: Effect.Effect<unknown, unknown, Engine.WorkflowEngine>) => {
    const started = performance.now()
    await runtime.runPromise(effect)
    return performance.now() - started
  }
  const engine = WorkflowEngine.WorkflowEngine
  return {
    sequential: () => timed(Effect.flatMap(engine, (e) => Effect.flatMap(e.start(steps, 500), (h) => h.result))),
    oneStep: async () => {
      const samples: Array<number> = []
      const one = Effect.flatMap(engine, (e) => Effect.flatMap(e.start(oneStep, 1), (h) => h.result))
      for (let i = 0; i < 200; i++) samples.push(await timed(one))
      return median(samples)
    },
    concurrent: () =>
      timed(Effect.flatMap(engine, (e) =>
        Effect.flatMap(
          Effect.forEach(Array.from({ length: 100 }), () => e.start(steps, 10), { concurrency: "unbounded" }),
          (handles) => Effect.forEach(handles, (h) => h.result, { concurrency: "unbounded", discard: true })
        ))),
    dispose: () => runtime.dispose()
  }
}

const builds = { this: await load(".", "this"), other: await load(other, "other") }
const floor = sqliteFloor(join(dir, "floor.db"), "NORMAL")
const oneWrite = writes(floor, 1)
const floors = {
  sequential: writes(floor, 500),
  // As the one-step row: the median of 200.
  oneStep: async () => {
    const samples: Array<number> = []
    for (let i = 0; i < 200; i++) samples.push(await oneWrite())
    return median(samples)
  },
  concurrent: writes(floor, 1000)
}
type Workload = keyof typeof floors
const samples = new Map<string, Array<number>>()
const add = (key: string, value: number) => samples.set(key, [...samples.get(key) ?? [], value])

try {
  // A first round warms both up; it is not counted.
  for (let round = 0; round <= rounds; round++) {
    // Each build goes first every other round: the second of two runs in a row is often the faster.
    const order = round % 2 === 0 ? (["this", "other"] as const) : (["other", "this"] as const)
    for (const workload of Object.keys(floors) as Array<Workload>) {
      const floorTime = await floors[workload]()
      if (round > 0) add(`floor ${workload}`, floorTime)
      for (const build of order) {
        ;(globalThis as { gc?: () => void }).gc?.()
        const time = await builds[build][workload]()
        if (round > 0) add(`${build} ${workload}`, time)
      }
    }
  }
  for (const workload of Object.keys(floors) as Array<Workload>) {
    const floorMedian = median(samples.get(`floor ${workload}`)!)
    const line = (["this", "other"] as const).map((build) => {
      const ours = median(samples.get(`${build} ${workload}`)!)
      return `${build} ${ours.toPrecision(4)} ms (ratio ${(ours / floorMedian).toFixed(2)})`
    })
    console.log(`${workload}: ${line.join(", ")}; floor ${floorMedian.toPrecision(4)} ms`)
  }
} finally {
  await builds.this.dispose()
  await builds.other.dispose()
  await floor.close()
  rmSync(dir, { recursive: true, force: true })
}
