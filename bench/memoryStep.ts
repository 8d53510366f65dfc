/**
 * In-memory step: 10,000 sequential steps, each emitting step_start/step_end,
 * with one subscriber reading every event. Floor: a bare async generator
 * yielding the same event objects to a consumer.
 *
 * A bound row beside it: the least a step can be as an Effect at all. The
 * body's effect run under a match (a step must catch its failure), its two
 * events and its journal entries built and kept, in one `Effect.gen` loop; no
 * engine, no subscriber (the floor's consumer awaits each event, so the bound
 * is lower than any engine with a subscriber could be). What running each
 * step as an Effect costs against the same floor, before any engine work.
 */
import { Effect, Exit, Stream } from "effect"
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

/**
 * Each step as an Effect and nothing more: what a memory storage keeps of it (its events stamped with their
 * seqs and frozen, its journal entries appended, as the memory storage's journal does), kept in arrays.
 */
const effectSteps = () => {
  const id = crypto.randomUUID()
  const events: Array<WorkflowEvent.WorkflowEvent> = []
  const journal: Array<unknown> = []
  let seq = 0
  const step = (i: number) =>
    Effect.suspend(() => {
      const started = Date.now()
      const key = String(i)
      events.push(Object.freeze({
        type: "step_start",
        timestamp: started,
        runnableName: "step",
        workflowInstanceId: id,
        seq: ++seq
      }))
      journal.push({ key, name: "step", kind: "step", state: "started" })
      return Effect.matchCauseEffect(Effect.succeed(i), {
        onFailure: Effect.failCause,
        onSuccess: (output) => {
          const timestamp = Date.now()
          events.push(Object.freeze({
            type: "step_end",
            timestamp,
            runnableName: "step",
            output,
            durationMs: timestamp - started,
            workflowInstanceId: id,
            seq: ++seq
          }))
          journal.push({
            key,
            name: "step",
            kind: "step",
            state: "completed",
            result: { _tag: "Success", value: output }
          })
          return Exit.succeed(output)
        }
      })
    })
  return Effect.runPromise(Effect.gen(function*() {
    let total = 0
    for (let i = 0; i < STEPS; i++) total += yield* step(i)
    events.push(
      Object.freeze({ type: "final_output", timestamp: Date.now(), data: total, workflowInstanceId: id, seq: ++seq })
    )
    if (events.length !== STEPS * 2 + 1) throw new Error(`kept ${events.length} events`)
  }))
}

export const run = async (_targets: Targets) => [
  await compare("memory step (10,000 steps, 1 subscriber; floor: a bare async generator)", ours, floor, {
    rounds: 15,
    warmup: 3
  }),
  await compare(
    "bound: Effect steps alone, memory (10,000 steps, each its effect matched, its events and journal entries kept, no subscriber; floor: a bare async generator)",
    effectSteps,
    floor,
    { rounds: 15, warmup: 3 }
  )
]
