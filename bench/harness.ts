/**
 * Benchmarks report a ratio against a floor measured in the same run, never
 * an absolute time (DESIGN.md §8).
 */
import { Effect } from "effect"

export interface Result {
  readonly name: string
  readonly ours: number
  readonly floor: number
  readonly unit: string
  readonly ratio: number
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** The 99th percentile. */
export const p99 = (values: ReadonlyArray<number>): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.99)]!

/** Wall time in ms with sub-ms precision, comparable across processes on one machine. */
export const wallNow = (): number => performance.timeOrigin + performance.now()

/** Four significant digits: sub-millisecond floors (a SQLite insert is ~0.02 ms) keep their precision. */
export const round = (n: number): number => Number(n.toPrecision(4))

/** Milliseconds `run` takes. */
export const timed = (run: () => Promise<unknown>) => async (): Promise<number> => {
  const started = performance.now()
  await run()
  return performance.now() - started
}

/** The milliseconds `effect` takes, timed inside the runtime (so a Promise bridge around it is outside the span). */
export const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<number, E, R> =>
  Effect.suspend(() => {
    const started = performance.now()
    return Effect.map(effect, () => performance.now() - started)
  })

export interface Rounds {
  /** Timed rounds of each side (default 7). */
  readonly rounds?: number
  /** Untimed rounds of each side first (default 2). */
  readonly warmup?: number
  /**
   * And more untimed rounds, until ours has run this long (default 1,000 ms, at most 10,000 rounds): a
   * process that runs workflows runs them warm, and the JIT takes thousands of steps to settle (a cold
   * round of sequential steps took twice a warm one's time). The floor runs as many.
   */
  readonly warmupMs?: number
}

/**
 * Alternates ours and the floor round by round, so drift in machine load hits
 * both alike; each function measures itself and returns milliseconds (so that
 * setup inside a round, such as copying a file, stays outside the timed span).
 * The result holds both medians and ours/floor.
 */
export const compareMeasured = async (
  name: string,
  ours: () => Promise<number>,
  floor: () => Promise<number>,
  options: Rounds = {}
): Promise<Result> => {
  const rounds = options.rounds ?? 7
  const warmupMs = options.warmupMs ?? 1000
  let warm = 0
  for (let i = 0; i < (options.warmup ?? 2) || (warm < warmupMs && i < 10_000); i++) {
    await floor()
    const started = performance.now()
    await ours()
    warm += performance.now() - started
  }
  const oursSamples: Array<number> = []
  const floorSamples: Array<number> = []
  for (let i = 0; i < rounds; i++) {
    floorSamples.push(await floor())
    oursSamples.push(await ours())
  }
  return result(name, median(oursSamples), median(floorSamples))
}

/** `compareMeasured` over functions timed from call to settlement. */
export const compare = (
  name: string,
  ours: () => Promise<unknown>,
  floor: () => Promise<unknown>,
  options: Rounds = {}
): Promise<Result> => compareMeasured(name, timed(ours), timed(floor), options)

/** A row in milliseconds, printed as it is made; the ratio is ours over the floor. */
export const result = (name: string, ours: number, floor: number): Result => {
  const row = { name, ours: round(ours), floor: round(floor), unit: "ms", ratio: round(ours / floor) }
  console.log(`${row.name}\n  ours ${row.ours} ${row.unit}, floor ${row.floor} ${row.unit}, ratio ${row.ratio}`)
  return row
}
