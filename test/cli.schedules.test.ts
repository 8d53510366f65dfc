/**
 * Schedules, signals and forks from the `token-ring-workflow` one-shot
 * commands, in real processes over a SQLite file: a schedule stored by one
 * command is ticked by a `worker` (stopped with SIGTERM), listed and steered
 * by others; a run that waits for a signal ends its command, and `signal`
 * resumes it in another.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { bin, cliIn, idOf, root, writeModule } from "./cliProcess.js"
import { startProcess, waitFor } from "./processes.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-cli-schedules-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const cli = cliIn(dir)
const stamps = join(dir, "stamps.txt")
const module = writeModule(join(dir, "timed.mjs"), [
  `export const stamp = Workflow.make({`,
  `  name: "stamp",`,
  `  input: Schema.Struct({ label: Schema.String }),`,
  `  run: (input) => Workflow.step("write", Effect.sync(() => fs.appendFileSync(${
    JSON.stringify(stamps)
  }, input.label + "\\n")))`,
  `})`,
  `const Go = Schema.Struct({ n: Schema.Number })`,
  `const doubled = () => Effect.map(Workflow.signal("go", Go), ({ n }) => n * 2)`,
  `export const gate = Workflow.make({ name: "gate", signals: { go: Go }, run: doubled })`,
  `export const loose = Workflow.make({ name: "loose", run: doubled })`
])
const options = ["--db", join(dir, "timed.db"), "--workflows", module]
const lines = () => (existsSync(stamps) ? readFileSync(stamps, "utf8").trim().split("\n") : [])

describe("schedules, signals and forks from the CLI", () => {
  it("a stored schedule is ticked by a worker, listed, paused and removed", async () => {
    const set = await cli([
      ...options,
      "schedule",
      "every-second",
      "* * * * * *",
      "stamp",
      "--input",
      `{"label":"tick"}`
    ])
    expect(set.stderr).toBe("")
    expect(set.code).toBe(0)
    expect(set.stdout).toMatch(/Scheduled every-second {2}stamp {2}"\* \* \* \* \* \*" {2}next /)
    // A command that only stores runs no tick (nor does a listing).
    expect((await cli([...options, "schedules"])).stdout).toMatch(/^every-second {2}stamp .* next /)
    expect(lines()).toEqual([])
    const worker = startProcess([bin, ...options, "worker"], { cwd: root })
    await worker.line((line) => line.startsWith("Worker running"), 60_000)
    await waitFor("three ticks", async () => lines().length >= 3, 60_000)
    worker.signal("SIGTERM")
    const stopped = await worker.exit()
    expect(stopped.stderr).toBe("")
    expect(stopped.code).toBe(130)
    expect(lines().every((line) => line === "tick")).toBe(true)
    const listed = await cli([...options, "executions", "--workflow", "stamp"])
    expect(listed.stdout).toMatch(/every-second@\S+ {2}stamp {2}completed/)
    expect((await cli([...options, "pause-schedule", "every-second"])).code).toBe(0)
    expect((await cli([...options, "schedules"])).stdout).toMatch(/every-second .* paused/)
    expect((await cli([...options, "unschedule", "every-second"])).code).toBe(0)
    const again = await cli([...options, "unschedule", "every-second"])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain(`No schedule named "every-second" is stored`)
    const bad = await cli([...options, "schedule", "broken", "* * 99 * *", "stamp", "--input", `{"label":"x"}`])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain(`Invalid cron: "* * 99 * *"`)
    expect((await cli([...options, "schedules"])).stdout).toBe("No schedules.\n")
  }, 180_000)

  it("a run waiting for a signal ends its command; `signal` resumes it; `fork` reruns it", async () => {
    const started = await cli([...options, "run", "gate"])
    expect(started.code).toBe(0)
    const id = idOf(started.stdout, "gate")
    expect(started.stdout).toContain(`waiting for signal "go"`)
    const refused = await cli([...options, "signal", id, "go", "--payload", `{"n":"two"}`])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(`Signal "go" refused`)
    const sent = await cli([...options, "signal", id, "go", "--payload", `{"n":21}`])
    expect(sent.stderr).toBe("")
    expect(sent.code).toBe(0)
    expect(sent.stdout).toContain(`Sent signal "go" to ${id}`)
    expect(sent.stdout).toContain("Output: 42")
    // From the signal wait (position 0): the fork waits for a signal of its own.
    const forked = await cli([...options, "fork", id, "0"])
    expect(forked.code).toBe(0)
    expect(forked.stdout).toMatch(/Forked \S+ from step 0 as execution \S+/)
    expect(forked.stdout).toContain(`waiting for signal "go"`)
  }, 180_000)

  it("a bad payload of a signal a workflow does not declare is skipped by the run, which waits on", async () => {
    const id = idOf((await cli([...options, "run", "loose"])).stdout, "loose")
    const skipped = await cli([...options, "signal", id, "go", "--payload", `{"n":"two"}`])
    expect(skipped.code).toBe(0)
    expect(skipped.stdout).toMatch(/Signal "go" \(seq \d+\) skipped/)
    expect(skipped.stdout.split(`waiting for signal "go"`).length).toBe(2)
    const sent = await cli([...options, "signal", id, "go", "--payload", `{"n":4}`])
    expect(sent.stdout).toContain("Output: 8")
  }, 180_000)
})
