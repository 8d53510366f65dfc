/**
 * The built `token-ring-workflow` binary in real processes, for the CLI
 * tests: one invocation at a time in a working directory, and modules of
 * workflows written for a test (`--workflows`).
 */
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
