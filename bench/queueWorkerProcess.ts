/**
 * A worker process of the queue benches: loads everything, prints "loaded",
 * then serves the queue named on its first line of stdin on PostgreSQL,
 * with the bench workflows registered ("serving"), until its stdin ends,
 * when it prints the CPU time it spent serving ("cpu <ms>").
 * Loading before it is told which queue keeps process start-up out of what
 * the benches time.
 *
 *   node build/bench/queueWorkerProcess.js <url>
 */
import { Effect, Layer } from "effect"
import { createInterface } from "node:readline"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import { oneStep, steps } from "./workflows.js"

const [url] = process.argv.slice(2) as [string]

/** Its one step returns the wall time its body began at: the enqueue-to-start latency. */
const probe = Workflow.make({
  name: "bench-probe",
  run: (_: number) => Workflow.step("began", Effect.sync(() => performance.timeOrigin + performance.now()))
})

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
const nextLine = Effect.promise(() => lines.next())

const serve = (queue: string) =>
  Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    yield* engine.register(oneStep)
    yield* engine.register(steps)
    yield* engine.register(probe)
    const before = process.cpuUsage()
    console.log("serving")
    // Until stdin ends; then the CPU time it spent serving, in ms, for the bench to say what saturates.
    while ((yield* nextLine).done !== true) continue
    const spent = process.cpuUsage(before)
    console.log(`cpu ${(spent.user + spent.system) / 1000}`)
  }).pipe(
    Effect.provide(
      WorkflowEngine.layerWith({ queues: [{ name: queue, workerConcurrency: 200 }], recover: false }).pipe(
        Layer.provideMerge(ExecutionStorage.layerPg({ url }))
      )
    )
  )

console.log("loaded")
const first = await Effect.runPromise(nextLine)
if (first.done !== true) await Effect.runPromise(serve(first.value))
