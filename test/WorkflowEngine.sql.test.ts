import { afterAll, beforeAll, describe } from "@effect/vitest"
import { Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExecutionStorage } from "../src/index.js"
import { engineSuite } from "./engineSuite.js"
import { freshDatabase, pgUrl } from "./pg.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-engine-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

engineSuite("SQLite", ExecutionStorage.layerSqlite({ filename: join(dir, "engine.db") }))

describe.skipIf(pgUrl === undefined)("PostgreSQL", () => {
  let database: Awaited<ReturnType<typeof freshDatabase>> | undefined
  let url = ""
  beforeAll(async () => {
    database = await freshDatabase()
    url = database.url
  })
  afterAll(() => database?.drop())
  engineSuite("PostgreSQL", Layer.suspend(() => ExecutionStorage.layerPg({ url })))
})
