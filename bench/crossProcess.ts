/**
 * Cross-process event latency on PostgreSQL: a step's end committed by a
 * run in one process, seen by a subscriber in another (that polls hourly, so
 * only a notification tells it in time). Each sample is the wall time from
 * the step's body returning in the writer to its `step_end` reaching the
 * subscriber. The floor is the minimal work with that guarantee: one
 * autocommitted insert that NOTIFYs, from one `pg` client, heard by another
 * that LISTENs. Median and p99 of each.
 */
import { Effect, Layer, Schedule, Stream } from "effect"
import { spawn } from "node:child_process"
import { resolve } from "node:path"
import { ExecutionStorage, WorkflowEngine } from "../src/index.js"
import { notifyLatencies } from "./floors.js"
import { median, p99, result, wallNow } from "./harness.js"
import type { Result } from "./harness.js"
import type { Targets } from "./targets.js"

const STEPS = 200
/** The first steps are read back from storage as the subscriber catches up: not what is measured. */
const SKIPPED = 10
const PACE_MS = 5

/** Latencies of `STEPS - SKIPPED` step ends, from a writer process to a subscriber here. */
const ours = async (url: string): Promise<Array<number>> => {
  const executionId = `cross-process-${Date.now().toString(36)}`
  const writer = spawn(process.execPath, [
    resolve("build/bench/crossProcessWriter.js"),
    url,
    executionId,
    String(STEPS),
    String(PACE_MS)
  ], { stdio: ["ignore", "pipe", "inherit"] })
  const exited = new Promise<void>((resolve, reject) =>
    writer.on("exit", (code) => code === 0 ? resolve() : reject(new Error(`the writer exited with ${code}`)))
  )
  const engine = WorkflowEngine.layerWith({ pollInterval: "1 hour", recover: false }).pipe(
    Layer.provideMerge(ExecutionStorage.layerPg({ url }))
  )
  const follow = Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    // Until the writer has created it.
    yield* Effect.retry(engine.status(executionId), { schedule: Schedule.spaced("5 millis") })
    const latencies: Array<number> = []
    let ends = 0
    yield* Stream.runForEach(engine.events(executionId), (event) =>
      Effect.sync(() => {
        if (event.type === "step_end" && ends++ >= SKIPPED) latencies.push(wallNow() - (event.output as number))
      }))
    return latencies
  })
  const latencies = await Effect.runPromise(follow.pipe(Effect.provide(engine)))
  await exited
  return latencies
}

export const run = async (targets: Targets): Promise<Array<Result>> => {
  const url = targets.postgres?.location()
  if (url === undefined || !("pg" in url)) return []
  const floorLatencies = await notifyLatencies(url.pg, STEPS - SKIPPED, PACE_MS)
  const ourLatencies = await ours(url.pg)
  const label = `a step's end seen by a subscriber in another process, PostgreSQL (${STEPS - SKIPPED} steps`
  return [
    result(
      `${label}, median; floor: an insert that NOTIFYs, heard by a LISTENing client)`,
      median(ourLatencies),
      median(floorLatencies)
    ),
    result(`${label}, p99; floor: the same, p99)`, p99(ourLatencies), p99(floorLatencies))
  ]
}
