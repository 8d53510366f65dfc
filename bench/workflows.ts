/** The workflows the benchmarks run: step `i` returns a number, journaled before the next starts. */
import { Effect } from "effect"
import { Workflow } from "../src/index.js"

/** `n` sequential steps. */
export const steps = Workflow.make({
  name: "bench-steps",
  run: (n: number) =>
    Effect.gen(function*() {
      let total = 0
      for (let i = 0; i < n; i++) total += yield* Workflow.step("step", Effect.succeed(i))
      return total
    })
})

/** One step returning `i * 2`: the start-to-result latency workload. */
export const oneStep = Workflow.make({
  name: "bench-one-step",
  run: (i: number) => Workflow.step("step", Effect.succeed(i * 2))
})
