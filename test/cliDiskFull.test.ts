/**
 * Issue 10, item 5: the CLI on a disk that fills up. A workflow writes until
 * a 1 MB tmpfs holding the SQLite database is full: the run's commit fails
 * with "database or disk is full", the run stops, and the CLI exits 1 with
 * that one line on stderr (nothing from a logger on stdout) instead of
 * following a stream that never ends. What was committed before is intact:
 * once there is room, `resume` finishes the execution without running a
 * completed step again.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { cliIn, idOf, writeModule } from "./cliProcess.js"
import { remount, withTmpfs } from "./tmpfs.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-cli-full-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const cli = cliIn(dir)

const witness = join(dir, "witness.txt")
/** Each step writes 100 KB into the journal and appends its number to the witness file. */
const module = writeModule(join(dir, "fill.mjs"), [
  `export const fill = Workflow.make({`,
  `  name: "fill",`,
  `  run: () => Effect.gen(function*() {`,
  `    for (let i = 1; i <= 40; i++) {`,
  `      yield* Workflow.step("write " + i, Effect.sync(() => {`,
  `        fs.appendFileSync(${JSON.stringify(witness)}, i + "\\n")`,
  `        return "x".repeat(100000)`,
  `      }))`,
  `    }`,
  `    return "filled"`,
  `  })`,
  `})`
])

/** How often each step's body ran, by step number. */
const runs = () => {
  const counts = new Map<number, number>()
  for (const line of readFileSync(witness, "utf8").split("\n").filter((line) => line !== "")) {
    counts.set(Number(line), (counts.get(Number(line)) ?? 0) + 1)
  }
  return counts
}

describe("token-ring-workflow on a full disk", () => {
  it("exits 1 with one line naming the cause, and what was committed before is intact", async () => {
    const disk = join(dir, "disk")
    await withTmpfs(disk, "1M", async () => {
      const db = ["--db", join(disk, "full.db"), "--workflows", module]
      const full = await cli([...db, "run", "fill"])
      expect(full.stderr).toBe("Execution storage failed during commit: database or disk is full\n")
      expect(full.code).toBe(1)
      // Only the run's own lines: no log line of the failure.
      const id = idOf(full.stdout, "fill")
      expect(full.stdout).not.toMatch(/ERROR|WARN|level=|full/)
      const ended = full.stdout.split("\n").filter((line) => line.startsWith("✓ write")).length
      expect(ended).toBeGreaterThan(0)
      expect(ended).toBeLessThan(40)

      // On the full disk still: the execution is as the failed commit left it, every completed step stored.
      const status = await cli([...db, "status", id])
      expect(status.stdout).toContain(`${id}  fill  running`)
      const stored = await cli([...db, "events", id])
      expect(stored.stdout.split("\n").filter((line) => line.startsWith("✓ write")).length).toBe(ended)

      // Room again: resume finishes it, and no step that completed before runs again.
      remount(disk, "size=64M")
      const resumed = await cli([...db, "resume", id])
      expect(resumed.stderr).toBe("")
      expect(resumed.code).toBe(0)
      expect(resumed.stdout).toContain("Output: filled")
      const counts = runs()
      for (let step = 1; step <= 40; step++) {
        if (step <= ended) expect(counts.get(step), `step ${step}`).toBe(1)
        else expect(counts.get(step), `step ${step}`).toBeGreaterThanOrEqual(1)
      }
    })
  })
})
