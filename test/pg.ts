/**
 * PostgreSQL for tests: the server URL comes from TEST_PG_URL (.ci/run sets
 * it). Each run gets a fresh database, dropped at the end. Without the
 * variable, PostgreSQL tests are skipped with a printed notice.
 */
import { afterAll, beforeAll, describe } from "@effect/vitest"
import { Layer } from "effect"
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
