/**
 * Real child processes for tests: run one to its end, optionally writing to
 * its stdin and killing it with SIGKILL as soon as its output matches.
 */
import { spawn } from "node:child_process"

export interface Finished {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export const runProcess = (
  args: ReadonlyArray<string>,
  options: {
    readonly cwd: string
    /** The child's whole environment (default: this process's). */
    readonly env?: NodeJS.ProcessEnv
    readonly stdin?: string
    /** Sends SIGKILL the first time this holds for the stdout so far. */
    readonly killWhen?: (stdout: string) => boolean
    readonly timeoutMs?: number
  }
): Promise<Finished> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      ...(options.env !== undefined ? { env: options.env } : {}),
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      if (options.killWhen?.(stdout)) child.kill("SIGKILL")
    })
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${args.join(" ")} timed out; stdout: ${stdout}; stderr: ${stderr}`))
    }, options.timeoutMs ?? 110_000)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    child.stdin.end(options.stdin ?? "")
  })
