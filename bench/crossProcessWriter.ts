/**
 * The writing process of the cross-process bench: runs one execution of
 * `steps` steps on PostgreSQL, each pausing `pace` ms and returning the wall
 * time its body ended at (ms, sub-ms precision), then prints "done".
 *
 *   node build/bench/crossProcessWriter.js <url> <execution-id> <steps> <pace-ms>
 */
import { Effect, Layer } from "effect"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import { wallNow } from "./harness.js"

const [url, executionId, steps, pace] = process.argv.slice(2) as [string, string, string, string]

const paced = Workflow.make({
  name: "bench-cross-process",
  run: (n: number) =>
    Effect.gen(function*() {
      for (let i = 0; i < n; i++) {
        yield* Workflow.step("paced", Effect.zipRight(Effect.sleep(Number(pace)), Effect.sync(wallNow)))
      }
    })
})

const program = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  yield* (yield* engine.start(paced, Number(steps), { executionId })).result
  console.log("done")
})

await Effect.runPromise(
  program.pipe(Effect.provide(WorkflowEngine.layer.pipe(Layer.provideMerge(ExecutionStorage.layerPg({ url })))))
)
