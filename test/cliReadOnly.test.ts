/**
 * Commands that only read (`status`, `list`, `executions`, `events`) run
 * nothing: after a CLI run is killed with SIGKILL in the middle of a step,
 * none of them runs that step again, and the execution stays as the killed
 * process left it. The step's body appends to a file: the witness of every
 * time it ran.
 */
import Database from "better-sqlite3"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { cliIn, idOf, writeModule } from "./cliProcess.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-cli-read-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const cli = cliIn(dir)

const witness = join(dir, "witness.txt")
const module = writeModule(join(dir, "witness.mjs"), [
  `export const witness = Workflow.make({`,
  `  name: "witness",`,
  `  run: () => Workflow.step("work", Effect.zipRight(`,
  `    Effect.sync(() => { fs.appendFileSync(${JSON.stringify(witness)}, "ran\\n"); console.log("working") }),`,
  `    Effect.never`,
  `  ))`,
  `})`
])

interface Row {
  readonly status: string
  readonly last_seq: number
  readonly owner: string | null
  readonly lease_until: number | null
  readonly updated_at: number
}

/** The stored row of the execution, read directly from the file. */
const row = (file: string, id: string): Row => {
  const db = new Database(file, { readonly: true })
  try {
    return db.prepare(
      "select status, last_seq, owner, lease_until, updated_at from workflow_executions where id = ?"
    ).get(id) as Row
  } finally {
    db.close()
  }
}

/** Waits until the killed process's lease has expired: from then on, any engine that recovers would take the run. */
const leaseExpired = async (file: string, id: string) => {
  const until = Number(row(file, id).lease_until)
  while (Date.now() <= until + 50) await new Promise((resolve) => setTimeout(resolve, until + 100 - Date.now()))
}

describe("read-only commands", () => {
  it("never run the step a killed CLI left half done: status, list, executions and events only read", async () => {
    const file = join(dir, "killed.db")
    const db = ["--db", file, "--workflows", module, "--lease", "1"]
    const killed = await cli([...db, "run", "witness"], { killAt: /^working$/m })
    expect(killed.signal).toBe("SIGKILL")
    const id = idOf(killed.stdout, "witness")
    expect(readFileSync(witness, "utf8")).toBe("ran\n")
    await leaseExpired(file, id)
    const before = row(file, id)
    expect(before.status).toBe("running")

    const status = await cli([...db, "status", id])
    expect(status.code).toBe(0)
    expect(status.stdout).toContain("running")
    const list = await cli([...db, "list"])
    expect(list.code).toBe(0)
    expect(list.stdout).toContain("witness")
    const executions = await cli([...db, "executions"])
    expect(executions.stdout).toContain(`${id}  witness  running`)
    const events = await cli([...db, "events", id])
    expect(events.code).toBe(0)
    for (const read of [status, list, executions, events]) {
      expect(read.stderr).toBe("")
      expect(read.stdout).not.toContain("working")
    }

    // The step ran once, in the killed process; the execution is exactly as that process left it.
    expect(readFileSync(witness, "utf8")).toBe("ran\n")
    expect(row(file, id)).toEqual(before)

    // A command that acts does take the run over (the lease had expired): the step runs again there.
    const resumed = await cli([...db, "resume", id], { killAt: /^working$/m })
    expect(resumed.signal).toBe("SIGKILL")
    expect(readFileSync(witness, "utf8")).toBe("ran\nran\n")
  })
})
