/**
 * Subscriber fan-out: one run of 200 steps on SQLite NORMAL, watched from its
 * start by 100 subscribers (ours) and by 1 (the floor), on one engine. Each
 * round is timed from `start` until the run's result and every subscriber's
 * stream have ended; every subscriber must have seen every stored event.
 *
 * A bound row beside it: the same run beside 100 streams (and 1) that read
 * nothing, each one chunk of as many events already in memory. What running
 * that many Effect streams costs at all, before any subscription's work.
 */
import { Chunk, Effect, Stream } from "effect"
import { WorkflowEngine } from "../src/index.js"
import type { Result } from "./harness.js"
import { compareMeasured } from "./harness.js"
import type { Targets } from "./targets.js"
import { engine } from "./targets.js"
import { steps } from "./workflows.js"

const STEPS = 200
const SUBSCRIBERS = 100

const watched = (subscribers: number) =>
  Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const started = performance.now()
    const handle = yield* engine.start(steps, STEPS)
    const [seen] = yield* Effect.all([
      Effect.forEach(Array.from({ length: subscribers }), () => Stream.runCount(handle.events), {
        concurrency: "unbounded"
      }),
      handle.result
    ], { concurrency: "unbounded" })
    const elapsed = performance.now() - started
    const { lastSeq } = yield* handle.status
    const missed = seen.filter((count) => count !== lastSeq)
    if (missed.length > 0) {
      return yield* Effect.dieMessage(`${missed.length} subscribers saw ${missed[0]} events, not ${lastSeq}`)
    }
    return elapsed
  })

/** The run beside `subscribers` streams of one chunk of as many events as it stores, from memory. */
const besideBareStreams = (subscribers: number) =>
  Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const started = performance.now()
    const handle = yield* engine.start(steps, STEPS)
    const events = Chunk.makeBy(2 * STEPS + 1, (seq) => ({ seq }))
    yield* Effect.all([
      Effect.forEach(Array.from({ length: subscribers }), () => Stream.runCount(Stream.fromChunk(events)), {
        concurrency: "unbounded"
      }),
      handle.result
    ], { concurrency: "unbounded" })
    return performance.now() - started
  })

export const run = async (targets: Targets): Promise<Array<Result>> => {
  const target = targets.sqliteNormal
  const ours = await engine(target)
  try {
    return [
      await compareMeasured(
        `subscriber fan-out, ${target.label}: one run of ${STEPS} steps watched by ${SUBSCRIBERS} subscribers (floor: by 1)`,
        () => ours.run(watched(SUBSCRIBERS)),
        () => ours.run(watched(1)),
        { rounds: 3, warmup: 1 }
      ),
      await compareMeasured(
        `bound: Effect streams alone, ${target.label}: the run beside ${SUBSCRIBERS} streams of its events from memory (floor: beside 1)`,
        () => ours.run(besideBareStreams(SUBSCRIBERS)),
        () => ours.run(besideBareStreams(1)),
        { rounds: 3, warmup: 1 }
      )
    ]
  } finally {
    await ours.dispose()
  }
}
