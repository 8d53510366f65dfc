/**
 * Queues across worker processes on PostgreSQL (issue 12): a client here
 * queues executions, 1, 2 or 4 worker processes run them.
 * - Throughput: 2,000 one-step and 200 ten-step executions queued
 *   beforehand, from telling the workers to serve the queue until all are
 *   completed, against the floor's 2,000 autocommitted inserts on one
 *   client (a step's durable write).
 * - Enqueue to start: from `start` here to the first step's body beginning
 *   in an idle worker (wall clock, one machine), median and p99, against an
 *   insert that NOTIFYs heard by a LISTENing client (the least that can
 *   carry a start to another process durably).
 */
import { Effect, Layer } from "effect"
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { cpus } from "node:os"
import { resolve } from "node:path"
import { createInterface } from "node:readline"
import pg from "pg"
import { ExecutionStorage, WorkflowEngine } from "../src/index.js"
import { notifyLatencies, pgFloor, writes } from "./floors.js"
import type { Result } from "./harness.js"
import { median, p99, result, wallNow } from "./harness.js"
import type { Targets } from "./targets.js"

let queues = 0
const freshQueue = () => `bench-${Date.now().toString(36)}-${queues++}`

/** `count` worker processes, loaded, each serving `queue` once `serve` is called. */
const loadWorkers = async (url: string, count: number) => {
  const serving: Array<Promise<void>> = []
  const cpu: Array<Promise<number>> = []
  const children = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<ChildProcessWithoutNullStreams>((loaded, failed) => {
        const child = spawn(process.execPath, [resolve("build/bench/queueWorkerProcess.js"), url])
        child.stderr.pipe(process.stderr)
        child.on("exit", (code) => failed(new Error(`a worker exited with ${code}`)))
        const lines = createInterface({ input: child.stdout })
        serving.push(new Promise((served) => lines.on("line", (line) => line === "serving" && served())))
        // NaN when it ended without saying (a crash): the drain's CPU is then printed as unknown.
        cpu.push(
          new Promise((spent) => {
            lines.on("line", (line) => line.startsWith("cpu ") && spent(Number(line.slice(4))))
            lines.on("close", () => spent(Number.NaN))
          })
        )
        lines.once("line", () => loaded(child))
      }))
  )
  return {
    /** Tells them to serve `queue`; resolves once they all do. */
    serve: (queue: string) => {
      children.forEach((child) => child.stdin.write(`${queue}\n`))
      return Promise.all(serving)
    },
    /** Stops them; resolves with the CPU time each spent serving, in ms. */
    stop: async () => {
      await Promise.all(children.map((child) =>
        new Promise<void>((exited) => {
          child.removeAllListeners("exit")
          child.on("exit", () => exited())
          child.stdin.end()
        })
      ))
      return Promise.all(cpu)
    }
  }
}

const client = (url: string) =>
  WorkflowEngine.layerWith({ recover: false }).pipe(Layer.provideMerge(ExecutionStorage.layerPg({ url })))

/** Queues `count` executions of `workflow(input)` in `queue`, with nobody serving it yet. */
const enqueue = (url: string, queue: string, workflow: string, input: number, count: number) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const engine = yield* WorkflowEngine.WorkflowEngine
      yield* Effect.forEach(Array.from({ length: count }), () => engine.start(workflow, input, { queue }), {
        concurrency: 32,
        discard: true
      })
    }).pipe(Effect.provide(client(url)))
  )

/**
 * Milliseconds for `workers` processes to run `count` executions queued beforehand: from telling them
 * to serve the queue until the database has every one completed (read every 10 ms on a connection of
 * the bench's own, so that no client's waiting costs the machine anything more).
 */
const drain = async (url: string, workers: number, workflow: string, input: number, count: number) => {
  const queue = freshQueue()
  await enqueue(url, queue, workflow, input, count)
  const fleet = await loadWorkers(url, workers)
  const watcher = new pg.Client({ connectionString: url })
  await watcher.connect()
  let ms: number | undefined
  const machine = busy()
  const database = databaseCpu()
  let spentByDatabase: number | undefined
  try {
    const started = performance.now()
    void fleet.serve(queue)
    // Whether any is unfinished: answered from the small partial indexes of queued and active executions,
    // which empty as the drain ends (counting the completed ones would read every row each time, costing
    // the database, on the cores the workers share, more as the table grows).
    while (ms === undefined) {
      const { rows } = await watcher.query(
        `select exists (select 1 from workflow_executions
           where queue = $1 and status in ('created', 'running', 'waiting')) as unfinished`,
        [queue]
      )
      if (rows[0].unfinished === false) {
        ms = performance.now() - started
        // Before the workers leave: their connections' backends take their CPU time with them.
        spentByDatabase = database()
      } else await new Promise((resolve) => setTimeout(resolve, 10))
    }
    const { rows } = await watcher.query(
      "select count(*)::int as n from workflow_executions where queue = $1 and status = 'completed'",
      [queue]
    )
    if (rows[0].n !== count) throw new Error(`${rows[0].n} of ${count} executions completed`)
  } finally {
    await watcher.end()
    const cpu = await fleet.stop()
    if (ms !== undefined) saturation(workers, ms, cpu, machine(), spentByDatabase)
  }
  return ms
}

/**
 * What the machine's cores did from now until the returned function is called: the share of their time
 * spent busy (all processes: workers, PostgreSQL, this bench), from /proc/stat; undefined elsewhere.
 */
const busy = () => {
  const read = () => {
    try {
      const [, ...ticks] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).map(Number)
      // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
      return { total: ticks.slice(0, 8).reduce((a, b) => a + b, 0), idle: ticks[3]! + ticks[4]! }
    } catch {
      return undefined
    }
  }
  const before = read()
  return () => {
    const after = read()
    if (before === undefined || after === undefined || after.total === before.total) return undefined
    return 1 - (after.idle - before.idle) / (after.total - before.total)
  }
}

/**
 * The CPU time PostgreSQL's processes on this machine spend from now until the returned function is
 * called, in ms, from /proc (the server, when it runs here, and its backends); undefined elsewhere.
 */
const databaseCpu = () => {
  const read = () => {
    try {
      let ticks = 0
      for (const pid of readdirSync("/proc")) {
        if (!/^\d+$/.test(pid)) continue
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
          if (!stat.includes("(postgres)")) continue
          // utime and stime, the 14th and 15th fields, counted after the command's closing parenthesis.
          const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
          ticks += Number(fields[11]) + Number(fields[12])
        } catch {
          // Gone meanwhile.
        }
      }
      return ticks
    } catch {
      return undefined
    }
  }
  const before = read()
  return () => {
    const after = read()
    // Clock ticks are 10 ms on Linux (USER_HZ 100).
    return before === undefined || after === undefined || after === 0 ? undefined : (after - before) * 10
  }
}

/**
 * Prints what saturated a drain: the workers' CPU, the database's, and how busy the machine's cores were;
 * for one worker, also how much faster more workers could run it at best, with the cores it left idle.
 */
const saturation = (
  workers: number,
  ms: number,
  cpu: ReadonlyArray<number>,
  machine: number | undefined,
  database: number | undefined
) => {
  if (cpu.some(Number.isNaN)) return console.log("  CPU: unknown (a worker did not report it)")
  const spent = cpu.reduce((a, b) => a + b, 0)
  console.log(
    `  CPU: the ${workers} worker(s) ${spent.toFixed(0)} ms in all (${
      cpu.map((one) => `${Math.round((100 * one) / ms)}%`).join(", ")
    } of a core each); PostgreSQL ${
      database === undefined ? "(unknown)" : `${database} ms`
    }; the machine's ${cpus().length} cores ${
      machine === undefined ? "(unknown)" : `${Math.round(100 * machine)}% busy`
    }`
  )
  if (workers === 1 && machine !== undefined) {
    console.log(`  at best ${(1 / machine).toFixed(2)} times as fast with more workers on these cores`)
  }
}

/** Enqueue-to-start latencies of `count` probes started one at a time, each once the last began. */
const enqueueToStart = (url: string, queue: string, count: number) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const engine = yield* WorkflowEngine.WorkflowEngine
      const latencies: Array<number> = []
      for (let i = 0; i < count; i++) {
        const sent = wallNow()
        const handle = yield* engine.start("bench-probe", i, { queue })
        latencies.push((yield* handle.result) as number - sent)
      }
      return latencies
    }).pipe(Effect.provide(client(url)))
  )

export const run = async (targets: Targets): Promise<Array<Result>> => {
  const location = targets.postgres?.location()
  if (location === undefined || !("pg" in location)) return []
  const url = location.pg
  const floor = await pgFloor(url)
  const rows: Array<Result> = []
  try {
    const floorMs = await writes(floor, 2_000)()
    // Warm-up: the database's caches and plans.
    await drain(url, 1, "bench-one-step", 1, 200)
    for (const workers of [1, 2, 4]) {
      rows.push(result(
        `2,000 one-step executions queued, run by ${workers} worker process(es), PostgreSQL (floor: 2,000 autocommitted inserts)`,
        await drain(url, workers, "bench-one-step", 1, 2_000),
        floorMs
      ))
      rows.push(result(
        `200 ten-step executions queued, run by ${workers} worker process(es), PostgreSQL (floor: 2,000 autocommitted inserts)`,
        await drain(url, workers, "bench-steps", 10, 200),
        floorMs
      ))
    }
    const queue = freshQueue()
    const fleet = await loadWorkers(url, 1)
    try {
      await fleet.serve(queue)
      const ours = await enqueueToStart(url, queue, 200)
      const floors = await notifyLatencies(url, 200)
      const label = "queued start to the first step's body in an idle worker process, PostgreSQL"
      rows.push(
        result(
          `${label}, median (floor: an insert that NOTIFYs, heard by a LISTENing client)`,
          median(ours),
          median(floors)
        )
      )
      rows.push(result(`${label}, p99 (floor: the same, p99)`, p99(ours), p99(floors)))
    } finally {
      await fleet.stop()
    }
  } finally {
    await floor.close()
  }
  return rows
}
