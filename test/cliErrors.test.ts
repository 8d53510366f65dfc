/**
 * Whatever stops the `token-ring-workflow` command is one clear line on
 * stderr and exit code 1: nothing on stdout, no stack trace, no JSON of an
 * argument error, no log line. Real processes of the built binary.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { bin, cliIn, writeModule } from "./cliProcess.js"
import type { Finished } from "./processes.js"
import { remount, withTmpfs } from "./tmpfs.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-cli-errors-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const cli = cliIn(dir)
const db = ["--db", join(dir, "errors.db")]

/** Exit 1, stdout empty, and stderr exactly one line that matches `line`. */
const expectOneErrorLine = (result: Finished, line: RegExp) => {
  expect(result.stdout).toBe("")
  expect(result.stderr).toMatch(/^[^\n]+\n$/)
  expect(result.stderr).toMatch(line)
  expect(result.stderr).not.toMatch(/\bat .*:\d+:\d+|_tag|\{"/)
  expect(result.code).toBe(1)
}

describe("token-ring-workflow errors", () => {
  it("output to a reader that stopped reading ends quietly, with the status SIGPIPE gives", async () => {
    const child = spawn(process.execPath, [bin, ...db, "list"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
    // Closed before the CLI writes: its first line meets a pipe with no reader (EPIPE).
    child.stdout.destroy()
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve))
    expect({ code, stderr }).toEqual({ code: 141, stderr: "" })
  })

  it("argument errors: an unknown option or command is named, and none prints JSON or a stack", async () => {
    expectOneErrorLine(await cli([...db, "--bogus", "list"]), /^Unknown option --bogus \(before the command: --db/)
    expectOneErrorLine(await cli([...db, "--bogus=1", "list"]), /^Unknown option --bogus /)
    expectOneErrorLine(await cli([...db, "lsit"]), /^Unknown command "lsit" \(one of approve, cancel, /)
    expectOneErrorLine(await cli([...db, "list", "--bogus"]), /unknown argument: '--bogus'/)
    expectOneErrorLine(await cli([...db, "status"]), /^Missing argument <execution-id>$/m)
    expectOneErrorLine(await cli([...db, "events", "x", "--from", "abc"]), /'abc' is not a integer/)
    expectOneErrorLine(await cli([...db, "executions", "--status", "nope"]), /created, running, waiting/)
  })

  it("--lease below one second is refused as given, not as Duration(0)", async () => {
    for (const seconds of ["-5", "0"]) {
      expectOneErrorLine(
        await cli([...db, "--lease", seconds, "list"]),
        new RegExp(`^--lease takes a whole number of seconds of at least 1, not ${seconds}$`, "m")
      )
    }
  })

  it("--model with a provider named like an inherited property is an unknown provider", async () => {
    for (const provider of ["constructor", "__proto__", "toString"]) {
      expectOneErrorLine(
        await cli([...db, "--model", `${provider}:x`, "list"]),
        new RegExp(`^Model "${provider}:x" is unavailable: unknown provider "${provider}"`)
      )
    }
  })

  it("--db under a regular file names the file in the way", async () => {
    const file = join(dir, "plain-file")
    writeFileSync(file, "not a directory")
    expectOneErrorLine(
      await cli(["--db", join(file, "x.db"), "list"]),
      new RegExp(`cannot be used as a SQLite database: "${file}" is a file, not a directory$`, "m")
    )
  })

  it("a read-only file system is named as such, for a new file and for an existing one", async () => {
    const mounted = join(dir, "read-only")
    await withTmpfs(mounted, "1M", async () => {
      const existing = join(mounted, "existing.db")
      expect((await cli(["--db", existing, "run", "hello"])).code).toBe(0)
      remount(mounted, "ro")
      for (const file of [existing, join(mounted, "new.db"), join(mounted, "sub", "new.db")]) {
        expectOneErrorLine(
          await cli(["--db", file, "list"]),
          /cannot be used as a SQLite database: the file system of ".*" is read-only$/m
        )
      }
    })
  })

  it("bad input names every failing path", async () => {
    expectOneErrorLine(
      await cli([...db, "run", "slow-count", "--input", `{"to":"x","delayMs":"y"}`]),
      /^Invalid input for workflow "slow-count": to: .*; delayMs: /
    )
  })

  it("--input with a __proto__ key is refused before anything runs", async () => {
    expectOneErrorLine(
      await cli([...db, "run", "hello", "--input", `{"__proto__":{"name":"admin"}}`]),
      /^The arguments of hello are refused: "__proto__" cannot be a key \(at __proto__\)/
    )
  })

  it("Effect logs never reach stdout: silent by default, one line each on stderr with --log-level", async () => {
    const module = writeModule(join(dir, "logs.mjs"), [
      `export const noisy = Workflow.make({`,
      `  name: "noisy",`,
      `  run: () => Effect.as(Effect.logWarning("careful", "now"), "done")`,
      `})`
    ])
    const quiet = await cli([...db, "--workflows", module, "run", "noisy"])
    expect(quiet.code).toBe(0)
    expect(quiet.stdout).not.toContain("careful")
    expect(quiet.stderr).toBe("")
    const logged = await cli(["--log-level", "warning", ...db, "--workflows", module, "run", "noisy"])
    expect(logged.code).toBe(0)
    expect(logged.stdout).toContain("Output: done")
    expect(logged.stdout).not.toContain("careful")
    expect(logged.stderr).toBe("warn: careful now\n")
  })
})
