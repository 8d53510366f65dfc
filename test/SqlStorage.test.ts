import { SqliteClient } from "@effect/sql-sqlite-node"
import { afterAll } from "@effect/vitest"
import { Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ExecutionStorage } from "../src/index.js"
import { onDurableStorages } from "./pg.js"
import { storageContract } from "./storageContract.js"

onDurableStorages(storageContract)

// The shared implementation over an SqlClient the caller provides: every operation, commit included,
// goes through the client (the SQLite and PostgreSQL layers commit on their drivers instead).
const dir = mkdtempSync(join(tmpdir(), "workflow-sqlclient-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
storageContract(
  "layerSql over @effect/sql-sqlite-node",
  ExecutionStorage.layerSql.pipe(Layer.provide(SqliteClient.layer({ filename: join(dir, "client.db") })))
)
