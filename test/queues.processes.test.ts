/**
 * Queues across real processes on PostgreSQL: three worker processes and a
 * client (this process, with no workflow code) share one database. Workers
 * are killed (SIGKILL) while they run, and replaced. Every execution
 * completes once with the right output; a step body of one execution never
 * starts in a process after another process started one of it; no queue
 * ever had more executions going on than its limit, and no rate window more
 * claims than its limit. All of it from what the bodies recorded and what
 * the database stored, on the database's clock. Runs only with TEST_PG_URL.
 */
import { Effect, Layer } from "effect"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ExecutionStorage, WorkflowEngine } from "../src/index.js"
import { freshDatabase, pgUrl } from "./pg.js"
import type { Child } from "./processes.js"
import { startProcess } from "./processes.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const worker = join(root, "test", "fixtures", "queueWorker.ts")
const LEASE_MS = 2_000

/** Limits as queueWorker.ts declares them. */
const limits = { wide: 6, narrow: 2 }
const RATE = { limit: 15, periodMs: 1_000 }

const children: Array<Child> = []
afterAll(() => children.forEach((child) => child.kill()))

/** The most spans going on at one instant. */
const mostAtOnce = (spans: ReadonlyArray<readonly [number, number]>): number => {
  const edges = spans.flatMap(([start, end]) => [[start, 1], [end, -1]] as const)
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let now = 0
  let most = 0
  for (const [, delta] of edges) most = Math.max(most, now += delta)
  return most
}

describe.skipIf(pgUrl === undefined)("queues across processes", () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>
  let db: pg.Client
  beforeAll(async () => {
    database = await freshDatabase()
    db = new pg.Client({ connectionString: database.url })
    await db.connect()
    await db.query(`create table stamps (
      id bigserial primary key, pid integer not null, execution text not null, step integer not null,
      what text not null, at timestamptz not null)`)
  })
  afterAll(async () => {
    await db?.end()
    await database?.drop()
  })

  const spawnWorker = async () => {
    const child = startProcess(
      ["--import", "tsx", worker, database.url, database.url, String(LEASE_MS)],
      { cwd: root }
    )
    children.push(child)
    await child.line((line) => line === "ready", 60_000)
    return child
  }

  const ended = async () => Number((await db.query("select count(*) as n from stamps where what = 'end'")).rows[0].n)

  const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  it("runs every queued execution once, within every limit, while workers die", async () => {
    const workers = await Promise.all([spawnWorker(), spawnWorker(), spawnWorker()])
    const queues = ["wide", "narrow", "rated"] as const
    const inputs = Array.from({ length: 240 }, (_, i) => i)
    const client = WorkflowEngine.layerWith({ recover: false }).pipe(
      Layer.provideMerge(ExecutionStorage.layerPg({ url: database.url }))
    )
    const killed: Array<number> = []
    const outputs = await Effect.runPromise(
      Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        const handles = yield* Effect.forEach(
          inputs,
          (i) => engine.start("queued-steps", i, { queue: queues[i % 3]! })
        )
        // Twice: a worker dies with runs in flight, and a new one takes its place.
        for (const [index, after] of [[0, 60], [1, 140]] as const) {
          yield* Effect.promise(() => waitFor(`${after} step ends`, async () => (await ended()) >= after))
          workers[index]!.signal("SIGKILL")
          killed.push(workers[index]!.pid)
          yield* Effect.promise(() => workers[index]!.exit())
          workers[index] = yield* Effect.promise(spawnWorker)
        }
        return yield* Effect.forEach(handles, (handle) => handle.result, { concurrency: 20 })
      }).pipe(Effect.provide(client))
    )
    expect(outputs).toEqual(inputs.map((i) => i * 2 + 1))

    const executions = (await db.query(
      `select id, queue, status, started_at::float8 as started_at from workflow_executions`
    )).rows as Array<{ id: string; queue: string; status: string; started_at: number }>
    expect(executions).toHaveLength(inputs.length)
    expect(executions.every((e) => e.status === "completed")).toBe(true)

    const stamps = (await db.query(
      `select pid, execution, step, what, extract(epoch from at) * 1000 as at from stamps order by at, id`
    )).rows.map((row) => ({ ...row, at: Number(row.at) })) as Array<
      { pid: number; execution: string; step: number; what: string; at: number }
    >
    // Both workers killed ran something, and someone else finished what they left.
    expect(killed.every((pid) => stamps.some((s) => s.pid === pid))).toBe(true)

    const byExecution = new Map<string, typeof stamps>()
    for (const stamp of stamps) byExecution.set(stamp.execution, [...(byExecution.get(stamp.execution) ?? []), stamp])
    for (const [id, own] of byExecution) {
      // Once another process started a body of it, the earlier ones start none.
      const starts = own.filter((s) => s.what === "start")
      const owners = starts.map((s) => s.pid).filter((pid, i, all) => i === 0 || all[i - 1] !== pid)
      expect(new Set(owners).size, `owners of ${id}: ${owners}`).toBe(owners.length)
      // A step whose end was recorded and that completed runs again only in a process that took over
      // from one killed before storing it.
      for (const step of [0, 1]) {
        const runs = starts.filter((s) => s.step === step)
        expect(runs.slice(0, -1).every((s) => killed.includes(s.pid)), `step ${step} of ${id}`).toBe(true)
      }
    }

    // Each execution's span (its first body start to its last body end) lies within the time the queue
    // counted it: no queue ever had more going on than its limit.
    const queueOf = new Map(executions.map((e) => [e.id, e.queue]))
    for (const [queue, limit] of Object.entries(limits)) {
      const spans = [...byExecution].filter(([id]) => queueOf.get(id) === queue).map(([, own]) =>
        [own[0]!.at, own[own.length - 1]!.at] as const
      )
      expect(spans.length).toBe(inputs.length / 3)
      expect(mostAtOnce(spans), `at once in ${queue}`).toBeLessThanOrEqual(limit)
    }
    // Claims of the rated queue, on the database's clock: at most the limit in any period.
    const claims = executions.filter((e) => e.queue === "rated").map((e) => e.started_at).sort((a, b) => a - b)
    for (let i = RATE.limit; i < claims.length; i++) {
      expect(claims[i]! - claims[i - RATE.limit]!).toBeGreaterThanOrEqual(RATE.periodMs)
    }
  }, 300_000)
})
