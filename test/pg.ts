/**
 * PostgreSQL for tests: the server URL comes from TEST_PG_URL (.ci/run sets
 * it). Each run gets a fresh database, dropped at the end. Without the
 * variable, PostgreSQL tests are skipped with a printed notice.
 */
import { afterAll, beforeAll, describe } from "@effect/vitest"
import { Effect, Fiber, Layer, Option } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { ExecutionStorage } from "../src/index.js"

export const pgUrl = process.env.TEST_PG_URL

if (pgUrl === undefined) {
  console.warn("NOTICE: TEST_PG_URL is not set; the PostgreSQL tests are skipped.")
}

/** Creates a fresh database on the server of TEST_PG_URL and returns its URL and a dropper. */
export const freshDatabase = async (): Promise<{ readonly url: string; readonly drop: () => Promise<void> }> => {
  const name = `workflow_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  const admin = new pg.Client({ connectionString: pgUrl })
  await admin.connect()
  await admin.query(`create database ${name}`)
  await admin.end()
  const url = new URL(pgUrl!)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: pgUrl })
      await client.connect()
      await client.query(`drop database if exists ${name} with (force)`)
      await client.end()
    }
  }
}

/**
 * A fresh database for the tests of the enclosing `describe`: made before them, dropped after them.
 * `url()` is its URL once they run.
 */
export const suiteDatabase = (): { readonly url: () => string } => {
  let database: Awaited<ReturnType<typeof freshDatabase>> | undefined
  beforeAll(async () => {
    database = await freshDatabase()
  })
  afterAll(() => database?.drop())
  return { url: () => database!.url }
}

/**
 * Registers `suite` once over a SQLite file in a temporary directory and once
 * over a fresh PostgreSQL database (skipped without TEST_PG_URL).
 */
export const onDurableStorages = (
  suite: (name: string, layer: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>) => void
) => {
  const dir = mkdtempSync(join(tmpdir(), "workflow-durable-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  suite("SQLite", ExecutionStorage.layerSqlite({ filename: join(dir, "storage.db") }))
  describe.skipIf(pgUrl === undefined)("PostgreSQL", () => {
    const database = suiteDatabase()
    suite("PostgreSQL", Layer.suspend(() => ExecutionStorage.layerPg({ url: database.url() })))
  })
}

/** Registers `suite` over the memory storage, then as `onDurableStorages` does. */
export const onEveryStorage = (
  suite: (name: string, layer: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>) => void
) => {
  suite("memory", ExecutionStorage.layerMemory)
  onDurableStorages(suite)
}

/** A client of the database at `url()`, ended with the test's scope. */
export const testSession = (url: () => string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new pg.Client({ connectionString: url() })
      client.on("error", () => undefined)
      await client.connect()
      return client
    }),
    (client) => Effect.promise(() => client.end().catch(() => undefined))
  )

/**
 * Runs `statements` in a transaction of `other`, then `commit` while it is open; once `commit` waits
 * for a lock of `other`'s (or has ended), commits `other`'s transaction, and answers how `commit` ended.
 * With `mustWait`, a `commit` that ended without waiting is a defect.
 */
export const whileHeld = <A, E>(
  other: pg.Client,
  observer: pg.Client,
  statements: ReadonlyArray<readonly [string, ReadonlyArray<unknown>]>,
  commit: Effect.Effect<A, E>,
  options?: { readonly mustWait?: boolean }
) =>
  Effect.gen(function*() {
    yield* Effect.promise(() => other.query("begin"))
    for (const [text, params] of statements) yield* Effect.promise(() => other.query(text, [...params]))
    const otherPid = (yield* Effect.promise(() => other.query("select pg_backend_pid() as pid"))).rows[0].pid
    const waiting = yield* Effect.fork(Effect.exit(commit))
    // Until a session of the storage waits for a lock of `other`'s (or the commit ended without waiting).
    while (Option.isNone(yield* Fiber.poll(waiting))) {
      const { rows } = yield* Effect.promise(() =>
        observer.query(
          `select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'
             and $1 = any(pg_blocking_pids(pid))`,
          [otherPid]
        )
      )
      if (rows.length > 0) break
      yield* Effect.sleep("5 millis")
    }
    if (options?.mustWait === true && Option.isSome(yield* Fiber.poll(waiting))) {
      yield* Effect.promise(() => other.query("rollback"))
      return yield* Effect.dieMessage("it ended without waiting for the other transaction's lock")
    }
    yield* Effect.promise(() => other.query("commit"))
    return yield* waiting
  })
