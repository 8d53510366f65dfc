/**
 * Following and steering runs from the `token-ring-workflow` one-shot
 * commands, in real processes over one SQLite file: ids by a unique prefix,
 * `approve` with no id or no task, `watch` following a run another process
 * started until a third one resumes it, hints that name one-shot commands,
 * `--json` on every command, help written for people, and the session's
 * history kept across sessions in a real terminal.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { bin, cliIn, idOf, inTerminalIn, root, writeModule } from "./cliProcess.js"
import { startProcess } from "./processes.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-cli-follow-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const cli = cliIn(dir)
const module = writeModule(join(dir, "gate.mjs"), [
  `const Go = Schema.Struct({ n: Schema.Number })`,
  `export const gate = Workflow.make({`,
  `  name: "gate",`,
  `  signals: { go: Go },`,
  `  run: () => Effect.map(Workflow.signal("go", Go), ({ n }) => n * 2)`,
  `})`
])
const options = ["--db", join(dir, "follow.db"), "--workflows", module]

describe("following and steering runs from the CLI", () => {
  it("takes a unique start of an id; approve finds the approval waiting, or lists those waiting", async () => {
    const first = await cli([...options, "run", "release", "--input", `{"version":"1.0.0"}`])
    expect(first.code).toBe(0)
    const id = idOf(first.stdout, "release")
    // A one-shot command's hint names the one-shot command to type.
    expect(first.stdout).toContain(`token-ring-workflow approve ${id} publish approved|rejected [feedback]`)
    expect(first.stdout).not.toContain("/workflow approve")
    const status = await cli([...options, "status", id.slice(0, 8)])
    expect(status.code).toBe(0)
    expect(status.stdout).toContain(id)
    expect(status.stdout).toContain("waiting")
    const only = await cli([...options, "approve"])
    expect(only.stderr).toBe("")
    expect(only.stdout).toContain(`Answered "publish" of ${id}: approved`)
    expect(only.stdout).toContain("Output: app-1.0.0.tgz published")
    const [a, b] = await Promise.all(
      ["2.0.0", "3.0.0"].map((version) => cli([...options, "run", "release", "--input", JSON.stringify({ version })]))
    )
    const ids = [idOf(a!.stdout, "release"), idOf(b!.stdout, "release")]
    const several = await cli([...options, "approve"])
    expect(several.code).toBe(1)
    expect(several.stderr).toContain("More than one approval is waiting: name the execution")
    for (const waiting of ids) expect(several.stdout).toContain(`${waiting}  publish  (release)`)
    const named = await cli([...options, "approve", ids[1]!.slice(0, 10), "rejected", "not", "now"])
    expect(named.stdout).toContain("Output: app-3.0.0.tgz not published: not now")
    const unknown = await cli([...options, "status", "no-such-execution"])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain(`"no-such-execution"`)
  }, 180_000)

  it("watch follows a run started by another process, through its wait, until a third process ends it", async () => {
    const started = await cli([...options, "run", "gate"])
    const id = idOf(started.stdout, "gate")
    expect(started.stdout).toContain(`token-ring-workflow signal ${id} go --payload <json>`)
    const watcher = startProcess([bin, ...options, "watch", id.slice(0, 12)], { cwd: root })
    await watcher.line((line) => line.includes(`waiting for signal "go"`), 60_000)
    const sent = await cli([...options, "signal", id, "go", "--payload", `{"n":5}`])
    expect(sent.code).toBe(0)
    const watched = await watcher.exit(60_000)
    expect(watched.code).toBe(0)
    expect(watched.stdout).toContain(`Watching gate execution ${id} (waiting)`)
    expect(watched.stdout).toContain("Output: 10")
  }, 180_000)

  it("--json prints one JSON value per line for every command", async () => {
    const json = ["--json", ...options]
    const lines = async (args: ReadonlyArray<string>) => {
      const done = await cli([...json, ...args])
      expect(done.stderr).toBe("")
      return done.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>)
    }
    expect((await lines(["list"])).map((workflow) => workflow.name)).toContain("gate")
    const [execution] = await lines(["executions", "--workflow", "gate"])
    expect(execution).toMatchObject({ workflow: "gate", status: "completed" })
    const [status] = await lines(["status", String(execution!.id)])
    expect(status).toMatchObject({ id: execution!.id, workflow: "gate", output: 10 })
    const [scheduled] = await lines(["schedule", "nightly", "0 3 * * *", "gate"])
    expect(scheduled).toMatchObject({ name: "nightly", cron: "0 3 * * *", workflow: "gate" })
    expect(await lines(["schedules"])).toMatchObject([{ name: "nightly" }])
    expect(await lines(["unschedule", "nightly"])).toEqual([{ schedule: "nightly", removed: true }])
  }, 180_000)

  it("--help is written for people: every command, and each command's arguments", async () => {
    const help = await cli(["--help"])
    expect(help.code).toBe(0)
    expect(help.stdout).not.toContain("A user-defined piece of text")
    for (const command of ["watch", "approve", "signal", "schedule", "worker"]) {
      expect(help.stdout).toMatch(new RegExp(`\\n  ${command} +[A-Z]`))
    }
    const approve = await cli([...options, "approve", "--help"])
    expect(approve.code).toBe(0)
    expect(approve.stdout).toContain("Usage: token-ring-workflow [options] approve [<id> [<task-id>]]")
    expect(approve.stdout).toContain("Without an id, answers the only approval waiting")
  }, 60_000)

  it("the session keeps what was typed at its prompt for the next session", async () => {
    const history = join(dir, "history")
    const env = { ...process.env, TOKEN_RING_WORKFLOW_HISTORY: history }
    const inTerminal = inTerminalIn(dir)
    const first = await inTerminal(options, [
      { after: /to leave\./, type: () => "/workflow list\r" },
      { after: /release — /, type: () => "/exit\r" }
    ], env)
    expect(first.code).toBe(0)
    expect(existsSync(history) && readFileSync(history, "utf8")).toContain("/workflow list")
    // Private, also when the file was there before with another mode.
    expect(statSync(history).mode & 0o777).toBe(0o600)
    chmodSync(history, 0o644)
    // Up arrow twice (past its /exit), then Enter: the line typed before it in the session before.
    const second = await inTerminal(options, [
      { after: /to leave\./, type: () => "\x1b[A\x1b[A\r" },
      { after: /release — /, type: () => "/exit\r" }
    ], env)
    expect(second.code).toBe(0)
    expect(second.output).toContain("gate")
    expect(statSync(history).mode & 0o777).toBe(0o600)
  }, 180_000)
})
