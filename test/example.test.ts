import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("..", import.meta.url))
const run = promisify(execFile)

describe("examples/main.ts (the main job)", () => {
  it("runs the example workflow end to end and prints its events live", async () => {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "examples/main.ts", "testing"], { cwd: root })
    const lines = stdout.split("\n")
    expect(lines[0]).toMatch(/^execution [0-9a-f-]{36} \(write-article\) stored in .workflow\/workflow.db$/)
    for (const expected of ["▶ research", "? Publish", "✔ publish: approved — looks good", "⇒ {\"title\""]) {
      expect(lines.some((line) => line.includes(expected))).toBe(true)
    }
    const seqs = lines.filter((line) => line.startsWith("#")).map((line) => Number(line.slice(1, 3)))
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
    expect(stdout).toContain("published: true")
  })
})

describe("examples/workflowServiceExample.ts", () => {
  it("streams, fails, takes an approval, cancels and resumes after a restart", async () => {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "examples/workflowServiceExample.ts"], {
      cwd: root
    })
    const lines = stdout.split("\n").map((line) => line.trim())
    for (
      const expected of [
        "#1 ▶ add-ten",
        "#11 ⇒ 25",
        "result: 25",
        "result rejected: 13 is unlucky",
        "? Publish \"Durable workflows\"?",
        "✔ publish: approved",
        "result: published \"Durable workflows\"",
        "result rejected: WorkflowCancelled",
        "status: cancelled",
        "status after restart: running",
        "resumed result: 19",
        "steps started, across both runs: add-ten, double, finish, finish[0]"
      ]
    ) {
      expect(lines).toContain(expected)
    }
  })
})
