/**
 * Sequential durable steps: one execution of N steps, start to result, on an
 * engine built once, against N floor writes (each its own transaction /
 * autocommitted round trip). Shared with the peer rows, so that theirs read
 * against the same floor.
 */
import type { Floor } from "./floors.js"
import { writes } from "./floors.js"
import type { Result, Rounds } from "./harness.js"
import { compareMeasured } from "./harness.js"
import type { Target, Targets } from "./targets.js"
import { rowPerTarget } from "./targets.js"

/**
 * Under FULL each floor write is an fsync, on PostgreSQL a round trip (both
 * milliseconds on a busy machine, and the peer's steps cost several): fewer
 * steps keep those rows short. The ratio is per step either way.
 */
export const stepsOn = (target: Target) =>
  target.label === "SQLite FULL" ? 100 : target.label === "PostgreSQL" ? 200 : 500

export const row = async (
  subject: string,
  target: Target,
  run: (steps: number) => Promise<number>,
  floor: Floor,
  rounds: Rounds
): Promise<Result> => {
  const steps = stepsOn(target)
  const result = await compareMeasured(
    `${subject}sequential durable step, ${target.label} (${steps} steps; floor: ${steps} x ${target.floorWrite})`,
    () => run(steps),
    writes(floor, steps),
    rounds
  )
  console.log(
    `  ms/step: ours ${(result.ours / steps).toFixed(4)}, floor ${(result.floor / steps).toFixed(4)}`
  )
  return result
}

export const run = (targets: Targets): Promise<Array<Result>> =>
  rowPerTarget(
    targets.durable,
    (target, engine, floor) => row("", target, engine.sequential, floor, { rounds: 5, warmup: 1 })
  )
