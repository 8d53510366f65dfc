/**
 * Bounds on the sequential-step rows: how much of their ratio a step's
 * storage work takes before any engine work, in the same run as the floor.
 * Each row writes what one step of `bench-steps` stores (its start and end
 * events and its journal entry, guarded by the run's ownership), 500 steps
 * one after another (200 on PostgreSQL):
 * - "storage service": through `ExecutionStorage.commit`, the storage's
 *   whole path (encoding, its Effect, the statements), without the engine;
 * - "our statements": the same commit's statements (`commitProgram`, or the
 *   one statement PostgreSQL gets, `foldedStepEnd`) on a bare driver, in a
 *   transaction as the storage runs them;
 * - "least guarded write": one autocommitted insert of one event, made only
 *   if the run still holds the execution: what any design that keeps a
 *   per-execution log under an owner's lease cannot go below.
 */
import Database from "better-sqlite3"
import { Effect, Exit, ManagedRuntime, Scope } from "effect"
import type { Layer } from "effect"
import pg from "pg"
import { ExecutionStorage } from "../src/index.js"
import { stepEnd, stepStart } from "../src/internal/stepEvents.js"
import * as Checkpointer from "../src/internal/storage/checkpointer.js"
import { commitProgram, dbNow, numbered, runSync } from "../src/internal/storage/commitProgram.js"
import type { Query, Rows } from "../src/internal/storage/commitProgram.js"
import { logKeyColumn, logKeyValue } from "../src/internal/storage/creating.js"
import { encodeCommit } from "../src/internal/storage/payload.js"
import * as PgNotices from "../src/internal/storage/pgNotices.js"
import { foldedStepEnd } from "../src/internal/storage/pgStepEnd.js"
import { writes } from "./floors.js"
import type { Result } from "./harness.js"
import { compareMeasured, elapsed } from "./harness.js"
import { stepsOn } from "./sequential.js"
import type { Target, Targets } from "./targets.js"

const OWNER = "bench-owner"
const LEASE_MS = 3_600_000

let executions = 0
const executionId = () => `bounds-${process.pid}-${executions++}`

/** What step `i` of `bench-steps` commits, its start held back and stored with its end. */
const stepCommit = (id: string, i: number): ExecutionStorage.Commit => {
  const at = Date.now()
  const result = { _tag: "Success", value: i } as const
  return {
    events: [stepStart(id, "step", at, undefined, undefined), stepEnd(id, "step", at, at, result, undefined)],
    journal: { key: String(i), name: "step", kind: "step", state: "completed", result },
    owner: OWNER
  }
}

const runningRow = (dialect: "sqlite" | "pg", id: string): Query => ({
  text: `insert into workflow_executions
      (id, workflow, input, status, created_at, updated_at, last_seq, owner, lease_until${logKeyColumn[dialect]})
    values (?, 'bench-steps', '0', 'running', ?, ?, 0, ?, ${dbNow[dialect]} + ?${logKeyValue[dialect]})`,
  params: [id, Date.now(), Date.now(), OWNER, LEASE_MS]
})

/**
 * One event row, inserted only while `owner` holds the execution (its lease on the database's clock), in
 * the log's layout (SQLite's keyed by position, see sqliteLog.ts): its text and parameters.
 */
const guarded = (dialect: "sqlite" | "pg", id: string, i: number): Query => {
  const payload = JSON.stringify({ type: "step_end", runnableName: "step", output: i })
  const held = `owner = ? and lease_until > ${dbNow[dialect]}`
  return dialect === "pg"
    ? {
      text: `insert into workflow_events (execution_id, seq, type, payload)
        select ?, ?, 'step_end', ? where exists (select 1 from workflow_executions where id = ? and ${held})`,
      params: [id, i + 1, payload, id, OWNER]
    }
    : {
      text: `insert into workflow_events (position, type, payload)
        select log_key * 16777216 + cast(? as integer), 'step_end', ? from workflow_executions
         where id = ? and ${held}`,
      params: [i + 1, payload, id, OWNER]
    }
}

/** `steps` commits through the storage service of `layer`, timed inside its runtime. */
const throughService = async (layer: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>) => {
  const runtime = ManagedRuntime.make(layer)
  await runtime.runtime()
  return {
    run: (steps: number) =>
      runtime.runPromise(Effect.flatMap(ExecutionStorage.ExecutionStorage, (storage) => {
        const id = executionId()
        return Effect.zipRight(
          storage.create({
            id,
            workflow: "bench-steps",
            input: steps,
            status: "running",
            claim: { owner: OWNER, leaseMs: LEASE_MS }
          }),
          elapsed(Effect.forEach(
            Array.from({ length: steps }, (_, i) => i),
            (i) => storage.commit(id, stepCommit(id, i)),
            { discard: true }
          ))
        )
      })),
    close: () => runtime.dispose()
  }
}

/** A SQLite file migrated by the storage, opened bare with the storage's pragmas and its checkpointer. */
const bareSqlite = async (filename: string) => {
  const migrate = ManagedRuntime.make(ExecutionStorage.layerSqlite({ filename, synchronous: "NORMAL" }))
  await migrate.runtime()
  await migrate.dispose()
  const db = new Database(filename)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  const scope = Effect.runSync(Scope.make())
  const checkpointer = await Effect.runPromise(Scope.extend(Checkpointer.make(db), scope))
  const prepared = new Map<string, Database.Statement>()
  const statement = (text: string) => {
    let found = prepared.get(text)
    if (found === undefined) prepared.set(text, found = db.prepare(text))
    return found
  }
  const execute = ({ params, text }: Query): Rows => {
    const s = statement(text)
    return s.reader ? s.all(...params) as Rows : (s.run(...params), [])
  }
  const begin = db.prepare("begin immediate")
  const commit = db.prepare("commit")
  return {
    execute,
    /** Our commit of step `i`, its statements in one immediate transaction, as the storage writes it. */
    step: (id: string, i: number) => {
      const stepped = stepCommit(id, i)
      begin.run()
      const program = commitProgram("sqlite", id, stepped, encodeCommit(id, stepped), Date.now(), OWNER, {
        stepEndInLog: true
      })
      runSync(program, execute)
      commit.run()
      checkpointer.committed()
    },
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      db.close()
    }
  }
}

/** `steps` writes of `write`, one after another, on a new execution, in ms. */
const timedSteps = (
  start: (id: string) => void | Promise<void>,
  write: (id: string, i: number) => void | Promise<void>
) =>
async (steps: number): Promise<number> => {
  const id = executionId()
  await start(id)
  const started = performance.now()
  for (let i = 0; i < steps; i++) await write(id, i)
  return performance.now() - started
}

/** A target's bare writes: an execution held by the run, our commit of a step, the least guarded write. */
interface Bare {
  readonly start: (id: string) => Promise<void>
  readonly ours: (id: string, i: number) => void | Promise<void>
  readonly guarded: (id: string, i: number) => void | Promise<void>
  readonly close: () => Promise<void>
}

const rows = async (target: Target, bare: Bare): Promise<Array<Result>> => {
  const steps = stepsOn(target)
  const floor = await target.floor()
  const service = await throughService(target.storage())
  const row = (what: string, ours: (steps: number) => Promise<number>) =>
    compareMeasured(
      `bound: ${what}, ${target.label} (${steps} steps; floor: ${steps} x ${target.floorWrite})`,
      () => ours(steps),
      writes(floor, steps),
      { rounds: 9, warmup: 1 }
    )
  try {
    return [
      await row("storage service", service.run),
      await row("our commit's SQL", timedSteps(bare.start, bare.ours)),
      await row("least guarded write", timedSteps(bare.start, bare.guarded))
    ]
  } finally {
    await bare.close()
    await service.close()
    await floor.close()
  }
}

const sqliteBare = async (filename: string): Promise<Bare> => {
  const bare = await bareSqlite(filename)
  return {
    start: async (id) => void bare.execute(runningRow("sqlite", id)),
    ours: bare.step,
    guarded: (id, i) => void bare.execute(guarded("sqlite", id, i)),
    close: bare.close
  }
}

const pgBare = async (url: string): Promise<Bare> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const origin = `bench-${process.pid}`
  return {
    start: async (id) => {
      const { params, text } = runningRow("pg", id)
      await client.query(numbered(text), [...params])
    },
    // As the storage sends it: one statement, the step's end in the log alone, its notice included, prepared
    // once by name.
    ours: async (id, i) => {
      const stepped = stepCommit(id, i)
      const notice = PgNotices.notice(origin, id, undefined)
      const folded = foldedStepEnd(id, stepped, encodeCommit(id, stepped), OWNER, notice)!
      await client.query({ name: "bounds_commit", text: numbered(folded.text), values: [...folded.params] })
    },
    guarded: async (id, i) => {
      const { params, text } = guarded("pg", id, i)
      await client.query({ name: "bounds_guarded", text: numbered(text), values: [...params] })
    },
    close: () => client.end()
  }
}

export const run = async (targets: Targets): Promise<Array<Result>> => {
  const results = await rows(targets.sqliteNormal, await sqliteBare(targets.file("bounds.db")))
  const location = targets.postgres?.location()
  if (targets.postgres !== undefined && location !== undefined && "pg" in location) {
    results.push(...await rows(targets.postgres, await pgBare(location.pg)))
  }
  return results
}
