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

/**
 * Starts the run and, beside it, `subscribers` streams made from its handle: the milliseconds until the run
 * and every stream have ended, and how many events each stream saw.
 */
const runBeside = <E>(
  subscribers: number,
  stream: (handle: WorkflowEngine.WorkflowHandle<unknown>) => Stream.Stream<unknown, E>
) =>
  Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const started = performance.now()
    const handle = yield* engine.start(steps, STEPS)
    const [seen] = yield* Effect.all([
      Effect.forEach(Array.from({ length: subscribers }), () => Stream.runCount(stream(handle)), {
        concurrency: "unbounded"
      }),
      handle.result
    ], { concurrency: "unbounded" })
    return { elapsed: performance.now() - started, seen, handle }
  })

/** The run watched by `subscribers`, each of which must have seen every stored event. */
const watched = (subscribers: number) =>
  Effect.gen(function*() {
    const { elapsed, handle, seen } = yield* runBeside(subscribers, (handle) => handle.events)
    const { lastSeq } = yield* handle.status
    const missed = seen.filter((count) => count !== lastSeq)
    if (missed.length > 0) {
      return yield* Effect.dieMessage(`${missed.length} subscribers saw ${missed[0]} events, not ${lastSeq}`)
    }
    return elapsed
  })

/** As many events as the run stores, in one chunk in memory. */
const inMemory = Chunk.makeBy(2 * STEPS + 1, (seq) => ({ seq }))

/** The run beside `subscribers` streams of `inMemory`, which read nothing. */
const besideBareStreams = (subscribers: number) =>
  Effect.map(runBeside(subscribers, () => Stream.fromChunk(inMemory)), ({ elapsed }) => elapsed)

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
