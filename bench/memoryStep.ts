/**
 * In-memory step: 10,000 sequential steps, each emitting step_start/step_end,
 * with one subscriber reading every event. Floor: a bare async generator
 * yielding the same event objects to a consumer.
 */
import { Effect, Stream } from "effect"
import { WorkflowEngine } from "../src/index.js"
import type { WorkflowEvent } from "../src/index.js"
import { compare } from "./harness.js"
import type { Targets } from "./targets.js"
import { steps } from "./workflows.js"

const STEPS = 10_000

/** A fresh engine and storage each round, as a process running one execution would have. */
const ours = () =>
  Effect.runPromise(
    Effect.gen(function*() {
      const engine = yield* WorkflowEngine.WorkflowEngine
      const handle = yield* engine.start(steps, STEPS)
      const seen = yield* Stream.runCount(handle.events)
      if (seen !== STEPS * 2 + 1) throw new Error(`subscriber saw ${seen} events`)
    }).pipe(Effect.provide(WorkflowEngine.layerMemory))
  )

const floor = async () => {
  const id = crypto.randomUUID()
  async function* generator(): AsyncGenerator<WorkflowEvent.WorkflowEvent> {
    let seq = 0
    let total = 0
    for (let i = 0; i < STEPS; i++) {
      const started = Date.now()
      yield { type: "step_start", timestamp: started, runnableName: "step", workflowInstanceId: id, seq: ++seq }
      total += i
      yield {
        type: "step_end",
        timestamp: Date.now(),
        runnableName: "step",
        output: i,
        durationMs: Date.now() - started,
        workflowInstanceId: id,
        seq: ++seq
      }
    }
    yield { type: "final_output", timestamp: Date.now(), data: total, workflowInstanceId: id, seq: ++seq }
  }
  let seen = 0
  for await (const _event of generator()) seen++
  if (seen !== STEPS * 2 + 1) throw new Error(`consumer saw ${seen} events`)
}

export const run = async (_targets: Targets) => [
  await compare("memory step (10,000 steps, 1 subscriber; floor: a bare async generator)", ours, floor, {
    rounds: 15,
    warmup: 3
  })
]
