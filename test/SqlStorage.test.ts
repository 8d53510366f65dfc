import { afterAll, beforeAll, describe } from "@effect/vitest"
import { Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExecutionStorage } from "../src/index.js"
import { freshDatabase, pgUrl } from "./pg.js"
import { storageContract } from "./storageContract.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-sqlite-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

storageContract("SQLite", ExecutionStorage.layerSqlite({ filename: join(dir, "contract.db") }))

describe.skipIf(pgUrl === undefined)("PostgreSQL", () => {
  let database: Awaited<ReturnType<typeof freshDatabase>> | undefined
  let url = ""
  beforeAll(async () => {
    database = await freshDatabase()
    url = database.url
  })
  afterAll(() => database?.drop())
  storageContract("PostgreSQL", Layer.suspend(() => ExecutionStorage.layerPg({ url })))
})
