import { afterAll } from "@effect/vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExecutionStorage } from "../src/index.js"
import { engineSuite } from "./engineSuite.js"
import { onDurableStorages } from "./pg.js"

onDurableStorages(engineSuite)

// Synchronous FULL turns on group commit: every commit of a run then waits for its batch's transaction.
const dir = mkdtempSync(join(tmpdir(), "workflow-full-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
engineSuite(
  "SQLite, synchronous FULL (group commit)",
  ExecutionStorage.layerSqlite({ filename: join(dir, "full.db"), synchronous: "FULL" })
)
