/**
 * The `token-ring-workflow` command as a person or a script uses it: the
 * built binary in real processes, over a SQLite file in a temporary
 * directory; piped stdin for the interactive session, a pseudo-terminal
 * (util-linux `script`) for live progress and ^C, SIGKILL for a crash.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { cliIn, idOf, inTerminalIn, writeModule } from "./cliProcess.js"
import { freshDatabase, pgUrl } from "./pg.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-cli-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const cli = cliIn(dir)

const inTerminal = inTerminalIn(dir)

describe("token-ring-workflow", () => {
  it("interactive session over piped stdin: list, run, approve, plan, apply", async () => {
    const db = ["--db", join(dir, "interactive.db")]
    const first = await cli(db, {
      stdin: [
        "/workflow list",
        `/workflow run count-words {"text":"to be or not to be"}`,
        "/workflow run release version=2.0",
        "/plan 1. hello name=Ada 2. count-words text=\"a b a\" 3. write a poem",
        "just chatting",
        "/exit"
      ].join("\n")
    })
    expect(first.code).toBe(0)
    expect(first.stdout).toContain("slow-count — Counts to")
    expect(first.stdout).toMatch(/✓ rank \(\d+ ms\)/)
    expect(first.stdout).toContain(`Output: {"words":6,"top":[["be",2],["to",2],["not",1]]}`)
    expect(first.stdout).toContain("? Publish app-2.0.tgz? [approved|rejected]")
    expect(first.stdout).toContain("  3. write a poem")
    expect(first.stdout).not.toContain("Unknown task")
    expect(first.stdout).toContain(`Not a command: "just chatting"`)
    const release = idOf(first.stdout, "release")

    // A second session: the plan and the waiting release were stored.
    const second = await cli(db, {
      stdin: [`/workflow approve ${release} publish approved`, "/apply", "/apply", "/exit"].join("\n")
    })
    expect(second.code).toBe(0)
    expect(second.stdout).toContain("Output: app-2.0.tgz published")
    expect(second.stdout).toContain("1. hello name=Ada: completed → Hello, Ada!")
    expect(second.stderr).toMatch(/✗ task 3: write a poem \(\d+ ms\): .*needs a language model/)
    expect(second.stdout).toContain("Plan done: 2 completed, 1 failed.")
    expect(second.stderr).toContain("No plan to apply")
  })

  it("one-shot forms exit 0 or 1 and print JSON lines with --json", async () => {
    const db = ["--db", join(dir, "oneshot.db")]
    const ok = await cli([...db, "run", "hello", "--input", `{"name":"Ada"}`])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain("Output: Hello, Ada!")

    const json = await cli([...db, "--json", "run", "count-words", "--input", `{"text":"a a b"}`])
    expect(json.code).toBe(0)
    const events = json.stdout.trim().split("\n").map((line) => JSON.parse(line))
    expect(events.map((event) => event.type)).toEqual([
      "step_start",
      "step_end",
      "step_start",
      "step_end",
      "final_output"
    ])
    expect(events.at(-1).data).toEqual({ words: 3, top: [["a", 2], ["b", 1]] })

    const badJson = await cli([...db, "run", "hello", "--input", "{name"])
    expect(badJson.code).toBe(1)
    expect(badJson.stderr).toContain("--input for hello is not valid JSON")
    const badInput = await cli([...db, "run", "count-words", "--input", "{}"])
    expect(badInput.code).toBe(1)
    expect(badInput.stderr).toContain(`Invalid input for workflow "count-words"`)
    const unknown = await cli([...db, "run", "nope"])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain(`No workflow named "nope"`)

    const listed = await cli([...db, "executions", "--status", "completed"])
    expect(listed.code).toBe(0)
    expect(listed.stdout.trim().split("\n")).toHaveLength(2)
    const id = idOf(ok.stdout, "hello")
    const shown = await cli([...db, "events", id, "--from", "2"])
    expect(shown.stdout.trim().split("\n")).toEqual([
      expect.stringMatching(/^✓ greet \(\d+ ms\)$/),
      "Output: Hello, Ada!"
    ])
    const missing = await cli([...db, "status", "no-such-id"])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(`No execution with id "no-such-id"`)

    const waiting = await cli([...db, "run", "release"])
    expect(waiting.code).toBe(0)
    const release = idOf(waiting.stdout, "release")
    const wrongTask = await cli([...db, "approve", release, "deploy"])
    expect(wrongTask.code).toBe(1)
    const rejected = await cli([...db, "approve", release, "publish", "rejected", "not", "today"])
    expect(rejected.code).toBe(0)
    expect(rejected.stdout).toContain("Output: app-1.0.0.tgz not published: not today")
  })

  it("--help, a command's --help and --version print and exit 0", async () => {
    const help = await cli(["--help"])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("token-ring-workflow 0.1.0")
    for (
      const word of ["run", "list", "status", "executions", "events", "approve", "resume", "cancel", "--db", "--json"]
    ) {
      expect(help.stdout).toContain(word)
    }
    const listHelp = await cli(["--db", join(dir, "help.db"), "list", "--help"])
    expect(listHelp.code).toBe(0)
    expect(listHelp.stdout).toContain("List the registered workflows")
    const version = await cli(["--version"])
    expect([version.code, version.stdout.trim()]).toEqual([0, "0.1.0"])
  })

  it("a CLI killed with SIGKILL mid-run is finished by `resume` in a second invocation", async () => {
    const db = ["--db", join(dir, "killed.db"), "--lease", "1"]
    const killed = await cli([...db, "run", "slow-count", "--input", `{"to":8,"delayMs":150}`], {
      killAt: /▶ count 4\n/
    })
    expect(killed.signal).toBe("SIGKILL")
    const id = idOf(killed.stdout, "slow-count")
    expect(killed.stdout).toContain("✓ count 3")
    expect(killed.stdout).not.toContain("✓ count 4")

    const resumed = await cli([...db, "resume", id])
    expect(resumed.code).toBe(0)
    expect(resumed.stdout).toContain(`Resumed slow-count execution ${id}`)
    expect(resumed.stdout).not.toMatch(/▶ count [123]\n/)
    expect(resumed.stdout).toContain("✓ count 8")
    expect(resumed.stdout).toContain(`Output: ${1 + 2 + 3 + 4 + 5 + 6 + 7 + 8}`)

    // Every step but the interrupted one ran once.
    const log = await cli([...db, "events", id])
    const ends = log.stdout.split("\n").filter((line) => line.startsWith("✓ count"))
    expect(ends).toHaveLength(8)
  })

  it("in a terminal, shows a live progress line with the running step and its elapsed time", async () => {
    const { code, output } = await inTerminal([
      "--db",
      join(dir, "tty.db"),
      "run",
      "slow-count",
      "--input",
      `{"to":2,"delayMs":600}`
    ])
    expect(code).toBe(0)
    // The progress line: carriage return, clear line, dim, a spinner frame, the step and its elapsed time.
    // eslint-disable-next-line no-control-regex
    expect(output).toMatch(/\r\x1b\[2K\x1b\[2m[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] count 1 0\.\ds/)
    expect(output).toContain("Output: 3")
  })

  it("in a terminal, ^C stops showing a run, which goes on; ^C at the prompt ends the session with 130", async () => {
    const db = ["--db", join(dir, "ctrl-c.db")]
    const { code, output } = await inTerminal(db, [
      { after: /to leave\./, type: () => `/workflow run slow-count {"to":4,"delayMs":500}\r` },
      { after: /▶ count 1\r\n/, type: () => "\x03" },
      // The run was not stopped with the command: resuming it here follows the same run on.
      {
        after: /Stopped following (\S+); it goes on: \/workflow status \1/,
        type: ([, id]) => `/workflow resume ${id}\r`
      },
      { after: /Output: 10\r\n/, type: () => "\x03" }
    ])
    expect(code).toBe(130)
    const id = /Stopped following (\S+);/.exec(output)![1]!
    expect(output).toContain(`Resumed slow-count execution ${id}`)

    // One run, never restarted: every step started and ended once.
    const log = await cli([...db, "events", id])
    const lines = log.stdout.split("\n")
    expect(lines.filter((line) => line.startsWith("▶ count"))).toEqual([
      "▶ count 1",
      "▶ count 2",
      "▶ count 3",
      "▶ count 4"
    ])
    expect(lines.filter((line) => line.startsWith("✓ count"))).toHaveLength(4)
  })

  it("registers the workflows and Runnables a --workflows module exports, each once however often exported", async () => {
    const module = writeModule(join(dir, "mine.mjs"), [
      `export const greet = Workflow.make({`,
      `  name: "greet-module",`,
      `  description: "Greets from a module",`,
      `  run: (input) => Workflow.step("wave", Effect.succeed("Hi, " + input.name + "!"))`,
      `})`,
      `class Shout extends Runnable {`,
      `  description = "Shouts its text"`,
      `  async *invoke(input) {`,
      `    yield { type: "log", level: "info", message: "shouting" }`,
      `    return input.text.toUpperCase()`,
      `  }`,
      `}`,
      `export const shout = new Shout()`,
      `export default shout`,
      `export const all = [greet, shout]`
    ])
    const db = ["--db", join(dir, "module.db"), "--workflows", module]
    const listed = await cli([...db, "list"])
    expect(listed.stderr).toBe("")
    expect(listed.code).toBe(0)
    expect(listed.stdout).toContain("greet-module — Greets from a module\n")
    expect(listed.stdout).toContain("Shout — Shouts its text\n")
    const shouted = await cli([...db, "run", "Shout", "--input", `{"text":"hey"}`])
    expect(shouted.code).toBe(0)
    expect(shouted.stdout).toContain("shouting\nOutput: HEY")
    const greeted = await cli([...db, "run", "greet-module", "--input", `{"name":"Ada"}`])
    expect(greeted.code).toBe(0)
    expect(greeted.stdout).toContain("Output: Hi, Ada!")
  })

  it("options the CLI cannot start with are one error line and exit 1", async () => {
    const both = await cli(["--db", join(dir, "both.db"), "--pg-url", "postgres://x", "list"])
    expect(both.code).toBe(1)
    expect(both.stderr).toBe("Give --db or --pg-url, not both\n")
    expect(both.stdout).toBe("")
    const missing = await cli(["--db", join(dir, "missing.db"), "--workflows", "./nope.mjs", "list"])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/^Could not load --workflows \.\/nope\.mjs: [^\n]*nope\.mjs[^\n]*\n$/)
  })

  it("a --model that cannot work stops the CLI at startup, in both forms, before anything is stored", async () => {
    const db = ["--db", join(dir, "model.db")]
    const withoutKey = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== "OPENAI_API_KEY"))
    const oneShot = await cli([...db, "--model", "openai:x", "list"], { env: withoutKey })
    expect(oneShot.code).toBe(1)
    expect(oneShot.stderr).toBe(`Model "openai:x" is unavailable: OPENAI_API_KEY is not set\n`)
    const session = await cli([...db, "--model", "openai:x"], { env: withoutKey, stdin: "/plan a then b\n/exit\n" })
    expect(session.code).toBe(1)
    expect(session.stderr).toContain("OPENAI_API_KEY is not set")
    expect(session.stdout).toBe("")
    const noProvider = await cli([...db, "--model", "gpt-4o", "run", "hello"])
    expect(noProvider.code).toBe(1)
    expect(noProvider.stderr).toContain(`unknown provider "gpt-4o"`)

    const stored = await cli([...db, "executions"])
    expect(stored.code).toBe(0)
    expect(stored.stdout).toBe("No executions.\n")
  })
})

describe.skipIf(pgUrl === undefined)("token-ring-workflow on PostgreSQL", () => {
  it("--pg-url stores executions in PostgreSQL: a run, then a second invocation approving it", async () => {
    const database = await freshDatabase()
    try {
      const pg = ["--pg-url", database.url]
      const waiting = await cli([...pg, "run", "release", "--input", `{"version":"3.1"}`])
      expect(waiting.code).toBe(0)
      const id = idOf(waiting.stdout, "release")
      const approved = await cli([...pg, "approve", id, "publish"])
      expect(approved.code).toBe(0)
      expect(approved.stdout).toContain("Output: app-3.1.tgz published")
      const listed = await cli([...pg, "executions", "--workflow", "release"])
      expect(listed.stdout).toContain(`${id}  release  completed`)
    } finally {
      await database.drop()
    }
  })
})
