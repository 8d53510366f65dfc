/**
 * Durable steps (DESIGN.md §8): sequential steps on SQLite against raw
 * better-sqlite3 doing the same writes, one transaction per step, same
 * pragmas; on PostgreSQL against raw `pg` with the same round trips; the
 * resume of an execution with 10,000 journaled steps; and 200 concurrent
 * executions on SQLite with synchronous FULL (group commit) and NORMAL.
 */
import Database from "better-sqlite3"
import { Deferred, Effect, FiberId, Layer } from "effect"
import { copyFileSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import type { Result } from "./harness.js"
import { compare } from "./harness.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-bench-"))
let files = 0
const freshFile = () => join(dir, `bench-${files++}.db`)

const stepsWorkflow = Workflow.make({
  name: "bench-durable",
  run: (n: number) =>
    Effect.gen(function*() {
      let total = 0
      for (let i = 0; i < n; i++) total += yield* Workflow.step("step", Effect.succeed(i))
      return total
    })
})

const runOurs = (storage: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>, steps: number, executions = 1) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const engine = yield* WorkflowEngine.WorkflowEngine
      const handles = yield* Effect.forEach(
        Array.from({ length: executions }),
        () => engine.start(stepsWorkflow, steps)
      )
      yield* Effect.forEach(handles, (handle) => handle.result, { concurrency: "unbounded" })
    }).pipe(Effect.provide(WorkflowEngine.layer.pipe(Layer.provideMerge(storage))))
  )

const schema = `
  create table executions (id text primary key, status text, last_seq integer, updated_at bigint);
  create table events (execution_id text, seq integer, type text, payload text, primary key (execution_id, seq));
  create table journal (execution_id text, key text, name text, kind text, state text, result text,
    primary key (execution_id, key));`

/** Raw better-sqlite3: per step one transaction writing both events, the journal entry and the execution. */
const rawSqlite = (steps: number, synchronous: "NORMAL" | "FULL", executions = 1) => {
  const db = new Database(freshFile())
  db.pragma("journal_mode = WAL")
  db.pragma(`synchronous = ${synchronous}`)
  db.exec(schema)
  const insertEvents = db.prepare("insert into events values (?, ?, ?, ?), (?, ?, ?, ?)")
  const upsertJournal = db.prepare(`insert into journal values (?, ?, ?, 'step', 'completed', ?)
    on conflict (execution_id, key) do update set state = excluded.state, result = excluded.result`)
  const updateExecution = db.prepare("update executions set last_seq = ?, updated_at = ? where id = ?")
  const step = db.transaction((id: string, i: number) => {
    const start = JSON.stringify({ type: "step_start", timestamp: Date.now(), runnableName: "step" })
    const end = JSON.stringify({ type: "step_end", timestamp: Date.now(), runnableName: "step", output: i })
    insertEvents.run(id, 2 * i + 1, "step_start", start, id, 2 * i + 2, "step_end", end)
    upsertJournal.run(id, String(i), "step", JSON.stringify({ _tag: "Success", value: i }))
    updateExecution.run(2 * i + 2, Date.now(), id)
  })
  for (let e = 0; e < executions; e++) db.prepare("insert into executions values (?, 'running', 0, 0)").run(`e${e}`)
  for (let i = 0; i < steps; i++) {
    for (let e = 0; e < executions; e++) step(`e${e}`, i)
  }
  db.close()
}

const sqlite = async (): Promise<Array<Result>> => {
  const steps = 2_000
  return [
    await compare(
      `SQLite step (${steps} steps, WAL, synchronous NORMAL)`,
      () => runOurs(ExecutionStorage.layerSqlite({ filename: freshFile() }), steps),
      async () => rawSqlite(steps, "NORMAL"),
      // Each round is a fresh file on a shared disk: more rounds, so one slow fsync does not move the median.
      { rounds: 11, warmup: 2 }
    )
  ]
}

const throughput = async (): Promise<Array<Result>> => {
  const executions = 200
  const steps = 10
  const results: Array<Result> = []
  // FULL groups the commits of concurrent executions (one fsync per batch); NORMAL commits each at once.
  for (const synchronous of ["FULL", "NORMAL"] as const) {
    const result = await compare(
      `SQLite throughput (${executions} concurrent executions x ${steps} steps, synchronous ${synchronous})`,
      () => runOurs(ExecutionStorage.layerSqlite({ filename: freshFile(), synchronous }), steps, executions),
      async () => rawSqlite(steps, synchronous, executions),
      { rounds: 3, warmup: 1 }
    )
    const total = executions * steps
    console.log(
      `  steps per second: ours ${Math.round(total / (result.ours / 1000))}, floor ${
        Math.round(total / (result.floor / 1000))
      }`
    )
    results.push(result)
  }
  return results
}

/** Time to resume an execution whose first 10,000 steps are journaled, until it reaches step 10,001. */
const resume = async (): Promise<Array<Result>> => {
  const journaled = 10_000
  const filename = freshFile()
  const storage = ExecutionStorage.layerSqlite({ filename })
  let reached = Deferred.unsafeMake<void>(FiberId.none)
  let firstRun = true
  const long = Workflow.make({
    name: "bench-resume",
    run: () =>
      Effect.gen(function*() {
        for (let i = 0; i < journaled; i++) yield* Workflow.step("step", Effect.succeed(i))
        yield* Workflow.step(
          "last",
          firstRun ? Effect.never : Effect.asVoid(Deferred.succeed(reached, undefined))
        )
      })
  })
  const id = "resume-me"
  // Run once until the last step, then stop the engine as a dying process would.
  await Effect.runPromise(
    Effect.scoped(Effect.gen(function*() {
      const engine = yield* WorkflowEngine.make({ recover: false })
      yield* engine.start(long, undefined, { executionId: id })
      while ((yield* engine.status(id)).lastSeq < 2 * journaled + 1) yield* Effect.sleep("50 millis")
    })).pipe(Effect.provide(storage))
  )
  firstRun = false
  // Each sample resumes a copy of the stored execution (the original stays unfinished).
  const ours = () => {
    const copy = freshFile()
    copyFileSync(filename, copy)
    return Effect.runPromise(
      Effect.scoped(Effect.gen(function*() {
        const engine = yield* WorkflowEngine.make({ recover: false })
        yield* engine.register(long)
        reached = yield* Deferred.make<void>()
        const started = performance.now()
        yield* engine.resume(id)
        yield* Deferred.await(reached)
        return performance.now() - started
      })).pipe(Effect.provide(ExecutionStorage.layerSqlite({ filename: copy })))
    )
  }
  const floor = () => {
    const db = new Database(filename, { readonly: true })
    const rows = db.prepare("select key, name, kind, state, result from workflow_journal where execution_id = ?").all(
      id
    )
    for (const row of rows as Array<{ result: string | null }>) if (row.result !== null) JSON.parse(row.result)
    db.close()
  }
  // The resume itself is what is timed: setup (engine, connection) is outside the measured span.
  const samples: Array<number> = []
  for (let i = 0; i < 5; i++) samples.push(await ours())
  const floorSamples: Array<number> = []
  for (let i = 0; i < 5; i++) {
    const started = performance.now()
    floor()
    floorSamples.push(performance.now() - started)
  }
  const median = (values: Array<number>) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  const oursMs = Math.round(median(samples) * 100) / 100
  const floorMs = Math.round(median(floorSamples) * 100) / 100
  return [{
    name: `resume of ${journaled} journaled steps (SQLite; floor: reading the journal raw)`,
    ours: oursMs,
    floor: floorMs,
    unit: "ms",
    ratio: Math.round((oursMs / floorMs) * 100) / 100
  }]
}

/**
 * Raw pg: the same round trips as the engine (two transactions per step; in each, an update that locks
 * the execution and claims the seqs, the event, the journal entry).
 */
const postgres = async (): Promise<Array<Result>> => {
  const url = process.env.TEST_PG_URL
  if (url === undefined) {
    console.log("NOTICE: TEST_PG_URL is not set; the PostgreSQL benchmark is skipped.")
    return []
  }
  const steps = 500
  const name = `workflow_bench_${Date.now().toString(36)}`
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query(`create database ${name}`)
  const benchUrl = new URL(url)
  benchUrl.pathname = `/${name}`
  try {
    const floor = async () => {
      const client = new pg.Client({ connectionString: benchUrl.toString() })
      await client.connect()
      await client.query(`drop table if exists executions, events, journal; ${schema}`)
      await client.query("insert into executions values ('e', 'running', 0, 0)")
      const commit = async (seq: number, i: number, event: object, state: string) => {
        await client.query("begin")
        await client.query("update executions set last_seq = $1, updated_at = $2 where id = 'e' returning last_seq", [
          seq,
          Date.now()
        ])
        await client.query("insert into events values ($1, $2, $3, $4)", ["e", seq, "step", JSON.stringify(event)])
        await client.query(
          `insert into journal values ($1, $2, 'step', 'step', $3, $4)
           on conflict (execution_id, key) do update set state = excluded.state, result = excluded.result`,
          ["e", String(i), state, JSON.stringify({ _tag: "Success", value: i })]
        )
        await client.query("commit")
      }
      for (let i = 0; i < steps; i++) {
        await commit(2 * i + 1, i, { type: "step_start", timestamp: Date.now() }, "started")
        await commit(2 * i + 2, i, { type: "step_end", timestamp: Date.now(), output: i }, "completed")
      }
      await client.end()
    }
    return [
      await compare(
        `PostgreSQL step (${steps} steps)`,
        () => runOurs(ExecutionStorage.layerPg({ url: benchUrl.toString(), maxConnections: 1 }), steps),
        floor,
        { rounds: 3, warmup: 1 }
      )
    ]
  } finally {
    // The engine's pool closes as its runtime ends; give it time rather than forcing connections shut.
    for (let attempt = 1; attempt <= 10; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 500))
      const dropped = await admin.query(`drop database if exists ${name}`).then(() => true, () => false)
      if (dropped) break
      if (attempt === 10) console.warn(`could not drop the benchmark database ${name}`)
    }
    await admin.end()
  }
}

export const run = async (): Promise<Array<Result>> => {
  try {
    return [...await sqlite(), ...await resume(), ...await throughput(), ...await postgres()]
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
