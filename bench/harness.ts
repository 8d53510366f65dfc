/**
 * Benchmarks report a ratio against a floor measured in the same run, never
 * an absolute time (DESIGN.md §8).
 */
export interface Result {
  readonly name: string
  readonly ours: number
  readonly floor: number
  readonly unit: string
  readonly ratio: number
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** Times `run` `rounds` times after `warmup` untimed runs and returns the median in milliseconds. */
export const time = async (run: () => Promise<unknown>, options: { rounds: number; warmup: number }) => {
  for (let i = 0; i < options.warmup; i++) await run()
  const samples: Array<number> = []
  for (let i = 0; i < options.rounds; i++) {
    const started = performance.now()
    await run()
    samples.push(performance.now() - started)
  }
  return median(samples)
}

/** Alternates ours and the floor round by round, so drift in machine load hits both alike. */
export const compare = async (
  name: string,
  ours: () => Promise<unknown>,
  floor: () => Promise<unknown>,
  options: { rounds?: number; warmup?: number } = {}
): Promise<Result> => {
  const rounds = options.rounds ?? 7
  const warmup = options.warmup ?? 2
  for (let i = 0; i < warmup; i++) {
    await floor()
    await ours()
  }
  const oursSamples: Array<number> = []
  const floorSamples: Array<number> = []
  for (let i = 0; i < rounds; i++) {
    floorSamples.push(await time(floor, { rounds: 1, warmup: 0 }))
    oursSamples.push(await time(ours, { rounds: 1, warmup: 0 }))
  }
  const result = {
    name,
    ours: round(median(oursSamples)),
    floor: round(median(floorSamples)),
    unit: "ms",
    ratio: round(median(oursSamples) / median(floorSamples))
  }
  return result
}

const round = (n: number) => Math.round(n * 100) / 100
