/**
 * The built `token-ring-workflow` binary in real processes, for the CLI
 * tests: one invocation at a time in a working directory, and modules of
 * workflows written for a test (`--workflows`).
 */
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { runProcess } from "./processes.js"

export const root = fileURLToPath(new URL("..", import.meta.url))
export const bin = join(root, "dist", "cli", "main.js")

export interface CliOptions {
  readonly stdin?: string
  /** Kills the CLI with SIGKILL as soon as its stdout matches. */
  readonly killAt?: RegExp
  readonly env?: NodeJS.ProcessEnv
}

/** Runs the CLI in `cwd` with `args`. */
export const cliIn = (cwd: string) => (args: ReadonlyArray<string>, options: CliOptions = {}) =>
  runProcess([bin, ...args], {
    cwd,
    ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.killAt !== undefined ? { killWhen: (stdout: string) => options.killAt!.test(stdout) } : {})
  })

/**
 * Writes an ES module at `path` that imports `effect` (as `Effect`, `Schema`),
 * the built package (as `Workflow`, `Runnable`) and `node:fs` (as `fs`), then
 * runs `body`: for `--workflows`.
 */
export const writeModule = (path: string, body: ReadonlyArray<string>): string => {
  const url = (...parts: Array<string>) => JSON.stringify(pathToFileURL(join(root, ...parts)).href)
  writeFileSync(
    path,
    [
      `import { Effect, Schema } from ${url("node_modules", "effect", "dist", "esm", "index.js")}`,
      `import { Runnable, Workflow } from ${url("dist", "index.js")}`,
      `import * as fs from "node:fs"`,
      ...body
    ].join("\n")
  )
  return path
}

/** The execution id in a `Started <workflow> as execution <id>` line. */
export const idOf = (stdout: string, workflow: string) => {
  const match = new RegExp(`Started ${workflow} as execution (\\S+)`).exec(stdout)
  if (match === null) throw new Error(`no execution id in: ${stdout}`)
  return match[1]!
}

/**
 * Runs the CLI in a pseudo-terminal (util-linux `script`). Each step waits
 * until the output after the previous step matches, then types its text
 * (keys as a terminal sends them: "\r" for Enter, "\x03" for ^C).
 */
export const inTerminalIn = (cwd: string) =>
(
  args: ReadonlyArray<string>,
  steps: ReadonlyArray<{ readonly after: RegExp; readonly type: (match: RegExpExecArray) => string }> = [],
  env?: NodeJS.ProcessEnv
) =>
  new Promise<{ readonly code: number | null; readonly output: string }>((resolve, reject) => {
    const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`
    const command = [process.execPath, bin, ...args].map(quote).join(" ")
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      cwd,
      stdio: ["pipe", "pipe", "inherit"],
      ...(env !== undefined ? { env } : {})
    })
    const pending = [...steps]
    let output = ""
    let from = 0
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      let match: RegExpExecArray | null
      while (pending.length > 0 && (match = pending[0]!.after.exec(output.slice(from))) !== null) {
        from += match.index + match[0].length
        child.stdin.write(pending.shift()!.type(match))
      }
    })
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${command} timed out; output: ${output}`))
    }, 110_000)
    child.on("exit", (code) => {
      clearTimeout(timer)
      child.stdin.end()
      resolve({ code, output })
    })
  })
