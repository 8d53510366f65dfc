/**
 * SSE fan-out: 100 clients (in another process) read one finished 200-step SQLite (NORMAL) execution's
 * events through the HTTP API's live endpoint, from the first to its `end`. Ours is the server process's
 * CPU time (`process.cpuUsage`) per event delivered; the floor is the CPU time of a bare `node:http`
 * server writing the same event frames (serialised once, written one by one) to 100 clients.
 */
import { Effect, Exit, Layer, ManagedRuntime, Scope } from "effect"
import { fork } from "node:child_process"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { ExecutionStorage, WorkflowEngine } from "../src/index.js"
import type { WorkflowEvent } from "../src/index.js"
import * as WorkflowApi from "../src/WorkflowApi.js"
import type { Result } from "./harness.js"
import { median, round } from "./harness.js"
import type { Targets } from "./targets.js"
import { steps } from "./workflows.js"

const STEPS = 200
const CLIENTS = 100
const ROUNDS = 5

/** The client process: `deliver(url)` resolves with each client's event count. */
const clientProcess = () => {
  const child = fork(fileURLToPath(new URL("./sseClients.js", import.meta.url)))
  const deliver = (url: string) =>
    new Promise<ReadonlyArray<number>>((resolve) => {
      child.once("message", (counts) => resolve(counts as ReadonlyArray<number>))
      child.send({ url, clients: CLIENTS })
    })
  return { deliver, close: () => child.kill() }
}

/** Server CPU microseconds per event delivered while `deliver` runs; every client must get `events`. */
const cpuPerEvent = async (deliver: () => Promise<ReadonlyArray<number>>, events: number): Promise<number> => {
  const before = process.cpuUsage()
  const counts = await deliver()
  const used = process.cpuUsage(before)
  const short = counts.filter((count) => count !== events)
  if (short.length > 0) throw new Error(`${short.length} SSE clients got ${short[0]} events, not ${events}`)
  return (used.user + used.system) / (events * CLIENTS)
}

/** A bare server writing `frames` to each request, one write each, then ending it. */
const bareServer = async (frames: ReadonlyArray<string>) => {
  const server = createServer((_, response) => {
    response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
    for (const frame of frames) response.write(frame)
    response.end("event: end\ndata: {}\n\n")
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((resolve) => server.close(resolve)) }
}

export const run = async (targets: Targets): Promise<Array<Result>> => {
  const target = targets.sqliteNormal
  const runtime = ManagedRuntime.make(
    WorkflowEngine.layer.pipe(Layer.provideMerge(target.storage() as Layer.Layer<ExecutionStorage.ExecutionStorage>))
  )
  const scope = Effect.runSync(Scope.make())
  const clients = clientProcess()
  try {
    const { address, events } = await runtime.runPromise(Effect.gen(function*() {
      const engine = yield* WorkflowEngine.WorkflowEngine
      const handle = yield* engine.start(steps, STEPS)
      yield* handle.result
      const storage = yield* ExecutionStorage.ExecutionStorage
      const events: ReadonlyArray<WorkflowEvent.StoredEvent> = yield* storage.events(handle.id, {
        fromSeq: 1,
        limit: 100_000
      })
      const address = yield* Scope.extend(WorkflowApi.serve({ heartbeat: "1 hour" }), scope)
      return { address: { url: `${address.url}/api/executions/${handle.id}/events/live` }, events }
    }))
    const bare = await bareServer(events.map((event) => `id: ${event.seq}\ndata: ${JSON.stringify(event)}\n\n`))
    try {
      const ours = () => cpuPerEvent(() => clients.deliver(address.url), events.length)
      const floor = () => cpuPerEvent(() => clients.deliver(bare.url), events.length)
      await floor()
      await ours()
      const oursSamples: Array<number> = []
      const floorSamples: Array<number> = []
      for (let i = 0; i < ROUNDS; i++) {
        floorSamples.push(await floor())
        oursSamples.push(await ours())
      }
      const row = {
        name: `SSE fan-out, ${target.label}: ${events.length} events of one run to ${CLIENTS} clients, ` +
          "server CPU per event delivered (floor: a bare node:http server writing the same frames)",
        ours: round(median(oursSamples)),
        floor: round(median(floorSamples)),
        unit: "µs CPU/event",
        ratio: round(median(oursSamples) / median(floorSamples))
      }
      console.log(`${row.name}\n  ours ${row.ours} ${row.unit}, floor ${row.floor} ${row.unit}, ratio ${row.ratio}`)
      return [row]
    } finally {
      await bare.close()
    }
  } finally {
    clients.close()
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await runtime.dispose()
  }
}
