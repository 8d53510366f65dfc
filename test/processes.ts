/**
 * Real child processes for tests: one a test steers while it runs
 * (`startProcess`), or one run to its end, optionally writing to its stdin
 * and killing it with SIGKILL as soon as its output matches (`runProcess`).
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
): Promise<Finished> => {
  const child = startProcess(args, options)
  child.endInput(options.stdin)
  const timeoutMs = options.timeoutMs ?? 110_000
  const killWhen = options.killWhen
  // Checked on every chunk of output as it arrives: killed at once, not a moment later.
  if (killWhen !== undefined) child.output("its kill point", killWhen, timeoutMs).then(child.kill, () => undefined)
  return child.exit(timeoutMs)
}

/** A child process that a test steers while it runs. */
export interface Child {
  readonly pid: number
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves with the first line of stdout (so far or to come) that `match` accepts; rejects after `timeoutMs`. */
  readonly line: (match: (line: string) => boolean, timeoutMs?: number) => Promise<string>
  /** Resolves once `check` holds for the stdout so far, checked as each chunk arrives; rejects after `timeoutMs`. */
  readonly output: (what: string, check: (stdout: string) => boolean, timeoutMs: number) => Promise<void>
  /** Resolves when the process exits; rejects after `timeoutMs` (it is then killed). */
  readonly exit: (timeoutMs?: number) => Promise<Finished>
  readonly signal: (signal: NodeJS.Signals) => void
  /** Writes `text` to its stdin. */
  readonly input: (text: string) => void
  /** Ends its stdin, after writing `text` if given. */
  readonly endInput: (text?: string) => void
  /** Kills it (continued first, in case it was stopped) unless it has exited. */
  readonly kill: () => void
}

export const startProcess = (
  args: ReadonlyArray<string>,
  options: {
    readonly cwd: string
    readonly env?: NodeJS.ProcessEnv
    /**
     * A command that runs Node in its place, given Node and `args` after its own arguments (e.g.
     * `ip netns exec <namespace>`). It must exec Node, not fork it: the child's pid is then Node's.
     */
    readonly via?: readonly [string, ...Array<string>]
  }
): Child => {
  const [command, ...commandArgs] = [...(options.via ?? []), process.execPath, ...args] as [string, ...Array<string>]
  const child = spawn(command, commandArgs, {
    cwd: options.cwd,
    ...(options.env !== undefined ? { env: options.env } : {}),
    stdio: ["pipe", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  let finished: Finished | undefined
  const waiting = new Set<() => void>()
  const wake = () => {
    for (const check of [...waiting]) check()
  }
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString()
    wake()
  })
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  child.on("exit", (code, signal) => {
    finished = { code, signal, stdout, stderr }
    wake()
  })
  const describe = () => `${args.join(" ")}; stdout: ${stdout.slice(-4000)}; stderr: ${stderr.slice(-4000)}`
  /** Resolves with what `check` finds, re-checking on every output and at exit. */
  const until = <A>(what: string, check: () => A | undefined, timeoutMs: number): Promise<A> =>
    new Promise((resolve, reject) => {
      const done = (f: () => void) => {
        waiting.delete(attempt)
        clearTimeout(timer)
        f()
      }
      const attempt = () => {
        const found = check()
        if (found !== undefined) done(() => resolve(found))
        else if (finished !== undefined) {
          done(() => reject(new Error(`exited (${finished!.code ?? finished!.signal}) before ${what}: ${describe()}`)))
        }
      }
      const timer = setTimeout(
        () => done(() => reject(new Error(`timed out waiting for ${what}: ${describe()}`))),
        timeoutMs
      )
      waiting.add(attempt)
      attempt()
    })
  const kill = () => {
    if (finished !== undefined) return
    child.kill("SIGCONT")
    child.kill("SIGKILL")
  }
  return {
    pid: child.pid!,
    stdout: () => stdout,
    stderr: () => stderr,
    line: (match, timeoutMs = 60_000) => until("a line", () => stdout.split("\n").slice(0, -1).find(match), timeoutMs),
    output: (what, check, timeoutMs) =>
      until(what, () => (check(stdout) ? true : undefined), timeoutMs).then(() => undefined),
    exit: (timeoutMs = 60_000) =>
      until("its exit", () => finished, timeoutMs).catch((error) => {
        kill()
        throw error
      }),
    signal: (signal) => {
      child.kill(signal)
    },
    input: (text) => {
      child.stdin.write(text)
    },
    endInput: (text) => {
      child.stdin.end(text ?? "")
    },
    kill
  }
}

/**
 * Polls `check` until it gives a value (neither `undefined` nor `false`), every 25 ms; fails naming `what`
 * after `timeoutMs`. For conditions no event announces (a row in a database another process writes).
 */
export const waitFor = async <A>(
  what: string,
  check: () => Promise<A | false | undefined>,
  timeoutMs = 60_000
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  while (true) {
    const found = await check()
    if (found !== undefined && found !== false) return found
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
