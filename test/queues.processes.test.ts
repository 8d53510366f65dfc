/**
 * Queues across real processes on PostgreSQL: four worker processes and a
 * client (this process, with no workflow code) share one database, 1,000
 * executions across three queues with different limits. While they run, a
 * busy worker is killed (SIGKILL) and replaced, another is stopped
 * (SIGSTOP) past its lease and continued, and the two that connect through
 * a TCP proxy are cut from the database and reconnected. Every execution
 * completes once with the right output; a step body of one execution never
 * starts in a process after another process started one of it (each
 * disruption lasts until another process took a run over, and the stopped
 * worker's runs settle before the cut: a run taken over and then lost again
 * may rightly go back to the first worker); no queue ever had more
 * executions going on than its limit, and no rate window more claims than
 * its limit. All of it from what the bodies recorded (timed on the host's
 * clock as each body got there) and what the database stored. Runs only
 * with TEST_PG_URL.
 */
import { Effect, Layer } from "effect"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ExecutionStorage, WorkflowEngine } from "../src/index.js"
import { freshDatabase, pgUrl } from "./pg.js"
import type { Child } from "./processes.js"
import { startProcess, waitFor } from "./processes.js"
import { startTcpProxy } from "./tcpProxy.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const worker = join(root, "test", "fixtures", "queueWorker.ts")
const LEASE_MS = 2_000

/** Limits as queueWorker.ts declares them. */
const limits = { wide: 6, narrow: 2 }
const RATE = { limit: 15, periodMs: 1_000 }

const children: Array<Child> = []
const proxies: Array<{ readonly close: () => Promise<void> }> = []
afterAll(async () => {
  children.forEach((child) => child.kill())
  await Promise.all(proxies.map((proxy) => proxy.close()))
})

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

  /** A worker whose storage connects to `storageUrl` (its bodies record on the database directly). */
  const spawnWorker = async (storageUrl = database.url) => {
    const child = startProcess(
      ["--import", "tsx", worker, storageUrl, database.url, String(LEASE_MS)],
      { cwd: root }
    )
    children.push(child)
    await child.line((line) => line === "ready", 60_000)
    return child
  }

  const ended = async () => Number((await db.query("select count(*) as n from stamps where what = 'end'")).rows[0].n)

  /** Unfinished executions `pid` started a body of: its runs in flight (in a body or between two). */
  const inFlight = async (pid: number) =>
    (await db.query(
      `select distinct s.execution from stamps s join workflow_executions e on e.id = s.execution
        where s.pid = $1 and e.status <> 'completed'`,
      [pid]
    )).rows.map((row) => row.execution as string)

  /** The last stamp recorded so far: what is recorded after it has a greater id. */
  const lastStamp = async () => Number((await db.query("select coalesce(max(id), 0) as id from stamps")).rows[0].id)

  /**
   * Once another process started a body of one of `executions` after stamp `since` (a takeover: a body one
   * started before the disruption is none), or all of them completed (the disrupted process finished them
   * in the moment before its disruption).
   */
  const takenOver = (pid: number, executions: ReadonlyArray<string>, since: number) =>
    waitFor("a takeover", async () => {
      const overtaken = await db.query(
        "select 1 from stamps where execution = any($1) and pid <> $2 and what = 'start' and id > $3 limit 1",
        [executions, pid, since]
      )
      const unfinished = await db.query(
        "select 1 from workflow_executions where id = any($1) and status <> 'completed' limit 1",
        [executions]
      )
      return overtaken.rows.length > 0 || unfinished.rows.length === 0
    })

  /**
   * Once every execution `pid` started a body of before `continuedAt` (host clock) completed, `runs` (those
   * it had in flight when stopped) among them. Its records from before it was stopped may reach the
   * database only after it was continued: they are in once it has recorded one from after (or nothing is
   * left to run).
   */
  const settled = (pid: number, runs: ReadonlyArray<string>, continuedAt: number) =>
    waitFor("the stopped worker's executions to finish", async () => {
      const { rows: [state] } = await db.query(
        `select
           exists (select 1 from stamps where pid = $1 and at >= to_timestamp($2::float8 / 1000)) as recorded,
           not exists (select 1 from workflow_executions where status <> 'completed') as done,
           exists (
             select 1 from workflow_executions e
              where e.status <> 'completed'
                and (e.id = any($3) or exists (
                  select 1 from stamps s
                   where s.execution = e.id and s.pid = $1 and s.what = 'start'
                     and s.at < to_timestamp($2::float8 / 1000)))
           ) as unfinished`,
        [pid, continuedAt, runs]
      )
      return state.done || (state.recorded && !state.unfinished)
    })

  /**
   * Waits until one of `workers` has a run in flight, and answers it and its runs: a disruption then
   * overtakes one (unless it ends in the moment between this read and the signal).
   */
  const busyAmong = (workers: ReadonlyArray<Child>) =>
    Effect.promise(async () => {
      let busy: readonly [Child, ReadonlyArray<string>] | undefined
      await waitFor("a busy worker", async () => {
        for (const worker of workers) {
          const runs = await inFlight(worker.pid)
          if (runs.length > 0) busy = [worker, runs]
        }
        return busy !== undefined
      })
      return busy!
    })

  it(
    "runs every queued execution once, within every limit, while workers die, stall and lose the database",
    async () => {
      const proxy = await startTcpProxy(pgUrl!)
      proxies.push(proxy)
      // Two connect directly, two through the proxy (half the fleet is cut off at once).
      const workers = await Promise.all([
        spawnWorker(),
        spawnWorker(),
        spawnWorker(proxy.url(database.url)),
        spawnWorker(proxy.url(database.url))
      ])
      const queues = ["wide", "narrow", "rated"] as const
      const inputs = Array.from({ length: 1_000 }, (_, i) => i)
      const client = WorkflowEngine.layerWith({ recover: false }).pipe(
        Layer.provideMerge(ExecutionStorage.layerPg({ url: database.url, maxConnections: 4 }))
      )
      // Processes whose bodies may have been overtaken: a later process may run their steps again.
      const disrupted: Array<number> = []
      const after = (count: number) =>
        Effect.promise(() => waitFor(`${count} step ends`, async () => (await ended()) >= count))
      const outputs = await Effect.runPromise(
        Effect.gen(function*() {
          const engine = yield* WorkflowEngine.WorkflowEngine
          const handles = yield* Effect.forEach(
            inputs,
            (i) => engine.start("queued-steps", i, { queue: queues[i % 3]! })
          )
          // A direct worker killed with runs in flight; a new one takes its place.
          yield* after(40)
          const [dead] = yield* busyAmong(workers.slice(0, 2))
          dead.signal("SIGKILL")
          disrupted.push(dead.pid)
          yield* Effect.promise(() => dead.exit())
          workers[workers.indexOf(dead)] = yield* Effect.promise(() => spawnWorker())
          // A direct worker stopped past its lease while others take its runs over, then continued.
          yield* after(100)
          const [stalled, stalledRuns] = yield* busyAmong(workers.slice(0, 2))
          const beforeStop = yield* Effect.promise(lastStamp)
          stalled.signal("SIGSTOP")
          disrupted.push(stalled.pid)
          yield* Effect.promise(() => takenOver(stalled.pid, stalledRuns, beforeStop))
          const continuedAt = Date.now()
          stalled.signal("SIGCONT")
          // Every execution the stopped worker had begun is finished before the next disruption: one that
          // another process took over from it and lost again (cut) would go to whoever claims it next, the
          // continued worker as well, which would then rightly start a body of it again.
          yield* Effect.promise(() => settled(stalled.pid, stalledRuns, continuedAt))
          // The workers behind the proxy cut from the database while others take their runs over, then
          // reconnected.
          yield* after(150)
          const [cut, cutRuns] = yield* busyAmong(workers.slice(2))
          const beforeCut = yield* Effect.promise(lastStamp)
          proxy.cut()
          disrupted.push(...workers.slice(2).map((worker) => worker.pid))
          yield* Effect.promise(() => takenOver(cut.pid, cutRuns, beforeCut))
          proxy.restore()
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
      // The disruptions overtook runs: another process finished executions a disrupted one had started.
      const overtaken = disrupted.flatMap((pid) =>
        [...new Set(stamps.filter((s) => s.pid === pid).map((s) => s.execution))].filter((id) =>
          stamps.some((s) => s.execution === id && s.pid !== pid && s.what === "end")
        )
      )
      expect(overtaken.length).toBeGreaterThan(0)

      const byExecution = new Map<string, typeof stamps>()
      for (const stamp of stamps) byExecution.set(stamp.execution, [...(byExecution.get(stamp.execution) ?? []), stamp])
      for (const [id, own] of byExecution) {
        // Once another process started a body of it, the earlier ones start none.
        const starts = own.filter((s) => s.what === "start")
        const owners = starts.map((s) => s.pid).filter((pid, i, all) => i === 0 || all[i - 1] !== pid)
        expect(
          new Set(owners).size,
          `owners of ${id}: ${owners} ${JSON.stringify(own)} disrupted ${disrupted} workers ${
            workers.map((w) => w.pid)
          }`
        ).toBe(owners.length)
        // A step runs again only after a process that ran it was disrupted (killed, stopped or cut) before
        // its end was stored.
        for (const step of [0, 1]) {
          const runs = starts.filter((s) => s.step === step)
          expect(runs.slice(0, -1).every((s) => disrupted.includes(s.pid)), `step ${step} of ${id}`).toBe(true)
        }
      }

      // Each execution's span, from its first body start to the last body end of the process that finished
      // it, lies within the time the queue counted it: no queue ever had more going on than its limit. (A
      // body overtaken while its process was stopped may record its end later, when it continues: that
      // process was frozen meanwhile, and its end stored nothing.)
      const queueOf = new Map(executions.map((e) => [e.id, e.queue]))
      for (const [queue, limit] of Object.entries(limits)) {
        const spans = [...byExecution].filter(([id]) => queueOf.get(id) === queue).map(([, own]) => {
          const finisher = own.filter((s) => s.what === "start").at(-1)!.pid
          return [own[0]!.at, own.filter((s) => s.pid === finisher).at(-1)!.at] as const
        })
        expect(spans.length).toBe(inputs.filter((i) => queues[i % 3] === queue).length)
        expect(mostAtOnce(spans), `at once in ${queue}`).toBeLessThanOrEqual(limit)
      }
      // Claims of the rated queue, on the database's clock: at most the limit in any period.
      const claims = executions.filter((e) => e.queue === "rated").map((e) => e.started_at).sort((a, b) => a - b)
      for (let i = RATE.limit; i < claims.length; i++) {
        expect(claims[i]! - claims[i - RATE.limit]!).toBeGreaterThanOrEqual(RATE.periodMs)
      }
    },
    300_000
  )
})
