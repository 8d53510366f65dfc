/**
 * A one-step workflow, start to result: each sample is `engine.start` then
 * `handle.result` on an engine built once; the floor is one write, timed on
 * its own. Medians of many samples, ours and the floor alternated. Shared
 * with the peer rows.
 */
import type { Floor } from "./floors.js"
import { writes } from "./floors.js"
import type { Result } from "./harness.js"
import { compareMeasured } from "./harness.js"
import type { Target, Targets } from "./targets.js"
import { rowPerTarget } from "./targets.js"

const SAMPLES = 200

export const row = (
  subject: string,
  target: Target,
  oneStep: (input: number) => Promise<number>,
  floor: Floor
): Promise<Result> => {
  let input = 0
  return compareMeasured(
    `${subject}1-step workflow start to result, ${target.label} (median of ${SAMPLES}; floor: one ${target.floorWrite})`,
    () => oneStep(input++),
    writes(floor, 1),
    { rounds: SAMPLES, warmup: 20 }
  )
}

export const run = (targets: Targets): Promise<Array<Result>> =>
  rowPerTarget(targets.all, (target, engine, floor) => row("", target, engine.oneStep, floor))
