/**
 * The storages a benchmark runs on, each with its floor, and our engine over
 * one of them, built once outside the timed spans.
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { ExecutionStorage, WorkflowEngine } from "../src/index.js"
import type { Floor, Synchronous } from "./floors.js"
import { memoryFloor, pgFloor, sqliteFloor } from "./floors.js"
import type { Result } from "./harness.js"
import { elapsed } from "./harness.js"
import { oneStep, steps } from "./workflows.js"

export interface Target {
  /** "memory", "SQLite NORMAL", "SQLite FULL", "PostgreSQL": row names carry it. */
  readonly label: string
  /** What one write of the floor is, for row names. */
  readonly floorWrite: string
  readonly durable: boolean
  /** Fresh storage (a new file on SQLite). */
  readonly storage: () => Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>
  /** A fresh floor on the same kind of storage. */
  readonly floor: () => Promise<Floor>
  /** The SQLite file or PostgreSQL URL a peer engine may use, or nothing for memory. */
  readonly location: () =>
    | { readonly sqlite: string; readonly synchronous: Synchronous }
    | { readonly pg: string }
    | undefined
}

export interface Targets {
  readonly memory: Target
  readonly sqliteNormal: Target
  readonly sqliteFull: Target
  /** Absent when TEST_PG_URL is not set. */
  readonly postgres: Target | undefined
  readonly all: ReadonlyArray<Target>
  readonly durable: ReadonlyArray<Target>
  /** A path in this run's temporary folder. */
  readonly file: (name: string) => string
  readonly close: () => Promise<void>
}

const sqlite = (file: (name: string) => string, synchronous: Synchronous): Target => ({
  label: `SQLite ${synchronous}`,
  floorWrite: "single-insert transaction",
  durable: true,
  storage: () => ExecutionStorage.layerSqlite({ filename: file("ours.db"), synchronous }),
  floor: async () => sqliteFloor(file("floor.db"), synchronous),
  location: () => ({ sqlite: file("peer.db"), synchronous })
})

const postgres = (url: string): Target => ({
  label: "PostgreSQL",
  floorWrite: "autocommitted insert on one pg client",
  durable: true,
  storage: () => ExecutionStorage.layerPg({ url }),
  floor: () => pgFloor(url),
  location: () => ({ pg: url })
})

const memory: Target = {
  label: "memory",
  floorWrite: "Map set + promise resolution",
  durable: false,
  storage: () => ExecutionStorage.layerMemory,
  floor: async () => memoryFloor(),
  location: () => undefined
}

/** A database of its own for this run, dropped at the end (connections still open are ended by `force`). */
const pgDatabase = async (url: string) => {
  const name = `workflow_bench_${Date.now().toString(36)}`
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query(`create database ${name}`)
  const own = new URL(url)
  own.pathname = `/${name}`
  return {
    url: own.toString(),
    drop: async () => {
      await admin.query(`drop database if exists ${name} with (force)`)
      await admin.end()
    }
  }
}

export const make = async (): Promise<Targets> => {
  const dir = mkdtempSync(join(tmpdir(), "workflow-bench-"))
  let files = 0
  const file = (name: string) => join(dir, `${files++}-${name}`)
  const url = process.env.TEST_PG_URL
  if (url === undefined) console.log("NOTICE: TEST_PG_URL is not set; the PostgreSQL rows are skipped.")
  const database = url === undefined ? undefined : await pgDatabase(url)
  const targets = [memory, sqlite(file, "NORMAL"), sqlite(file, "FULL")] as const
  const pgTarget = database === undefined ? undefined : postgres(database.url)
  const all = pgTarget === undefined ? [...targets] : [...targets, pgTarget]
  return {
    memory,
    sqliteNormal: targets[1],
    sqliteFull: targets[2],
    postgres: pgTarget,
    all,
    durable: all.filter((target) => target.durable),
    file,
    close: async () => {
      await database?.drop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Our engine over one storage, and the workloads it is timed on. */
export interface Engine {
  readonly run: <A, E>(effect: Effect.Effect<A, E, WorkflowEngine.WorkflowEngine>) => Promise<A>
  /** Milliseconds of `effect`, timed inside the runtime (the Promise bridge is outside the span). */
  readonly measure: <E>(effect: Effect.Effect<unknown, E, WorkflowEngine.WorkflowEngine>) => Promise<number>
  /** Milliseconds from start to result of one execution of `n` sequential steps. */
  readonly sequential: (n: number) => Promise<number>
  /** Milliseconds from start to result of one one-step execution. */
  readonly oneStep: (input: number) => Promise<number>
  readonly dispose: () => Promise<void>
}

export const engine = async (target: Target): Promise<Engine> => {
  const runtime = ManagedRuntime.make(WorkflowEngine.layer.pipe(Layer.provideMerge(target.storage())))
  await runtime.runtime() // build it (open, migrate) now, not in the first sample
  const measure = <E>(effect: Effect.Effect<unknown, E, WorkflowEngine.WorkflowEngine>) =>
    runtime.runPromise(elapsed(effect))
  const startToResult = <E>(
    start: (engine: WorkflowEngine.WorkflowEngineService) => Effect.Effect<WorkflowEngine.WorkflowHandle<unknown>, E>
  ) => measure(WorkflowEngine.WorkflowEngine.pipe(Effect.flatMap(start), Effect.flatMap((handle) => handle.result)))
  return {
    run: (effect) => runtime.runPromise(effect),
    measure,
    sequential: (n) => startToResult((engine) => engine.start(steps, n)),
    oneStep: (input) => startToResult((engine) => engine.start(oneStep, input)),
    dispose: () => runtime.dispose()
  }
}

/** Runs `use` with our engine and a floor on `target`, and closes both. */
export const withEngineAndFloor = async <A>(
  target: Target,
  use: (engine: Engine, floor: Floor) => Promise<A>
): Promise<A> => {
  const ours = await engine(target)
  const floor = await target.floor()
  try {
    return await use(ours, floor)
  } finally {
    await floor.close()
    await ours.dispose()
  }
}

/** One row per target, each with our engine and a floor of its own, one target after another. */
export const rowPerTarget = async (
  targets: ReadonlyArray<Target>,
  row: (target: Target, engine: Engine, floor: Floor) => Promise<Result>
): Promise<Array<Result>> => {
  const results: Array<Result> = []
  for (const target of targets) {
    results.push(await withEngineAndFloor(target, (ours, floor) => row(target, ours, floor)))
  }
  return results
}
