/**
 * How the `token-ring-workflow` command reports what stops it: one line on
 * stderr and exit code 1, never a stack trace, a log line or the JSON of an
 * argument error on stdout. Effect's logs go to stderr too, one line each,
 * and only when `--log-level` asks for them.
 *
 * @since 0.2.0
 */
import { HelpDoc, ValidationError } from "@effect/cli"
import { Cause, Effect, Layer, Logger, LogLevel } from "effect"
import * as ChatAdapter from "../ChatAdapter.js"

/**
 * Text on one line: an error that spans several (a driver's, say) is still
 * one line of the CLI's output.
 *
 * @since 0.2.0
 * @category formatting
 */
export const oneLine = (text: string): string =>
  text.split("\n").map((line) => line.trim()).filter((line) => line !== "").join(" ")

/**
 * Effect's logs, one line each on stderr: stdout carries only what commands
 * print. Off unless `--log-level` (an option of every `@effect/cli` command)
 * sets a level: a command reports its own failures, and the engine's
 * diagnostics would only repeat them.
 *
 * @since 0.2.0
 * @category layers
 */
export const logging: Layer.Layer<never> = Layer.merge(
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ cause, logLevel, message }) => {
      const parts = (Array.isArray(message) ? message : [message]).map(ChatAdapter.messageOf)
      if (!Cause.isEmpty(cause)) parts.push(ChatAdapter.messageOf(Cause.squash(cause)))
      process.stderr.write(`${logLevel.label.toLowerCase()}: ${oneLine(parts.join(" "))}\n`)
    })
  ),
  Logger.minimumLogLevel(LogLevel.None)
)

/**
 * The root command's options, as argv spells them (`--log-level` and
 * `--completions` are `@effect/cli`'s own): those that take a value, and
 * flags.
 *
 * @since 0.2.0
 * @category models
 */
export interface RootOptions {
  readonly valued: ReadonlyArray<string>
  readonly flags: ReadonlyArray<string>
}

const builtIn: RootOptions = {
  valued: ["--log-level", "--completions"],
  flags: ["--help", "-h", "--version", "--wizard"]
}

/** The first word of `args` that is none of the root options (or their values): what argv went wrong at. */
const firstUnknown = (args: ReadonlyArray<string>, root: RootOptions): string | undefined => {
  const valued = new Set([...root.valued, ...builtIn.valued])
  const flags = new Set([...root.flags, ...builtIn.flags])
  let i = 0
  while (i < args.length) {
    const [name = "", ...value] = args[i]!.split("=")
    if (valued.has(name)) i += value.length > 0 ? 1 : 2
    else if (flags.has(name)) i += 1
    else return args[i]
  }
  return undefined
}

/**
 * What is wrong with argv, in one line. `@effect/cli` says "Invalid
 * subcommand" for an unknown option before the command as for an unknown
 * command: this names the word instead.
 *
 * @since 0.2.0
 * @category formatting
 */
export const argvProblem = (
  error: ValidationError.ValidationError,
  args: ReadonlyArray<string>,
  root: RootOptions,
  commands: ReadonlyArray<string>
): string => {
  if (ValidationError.isCommandMismatch(error)) {
    const word = firstUnknown(args, root)
    if (word?.startsWith("-")) {
      return `Unknown option ${word.split("=")[0]} (before the command: ${[...root.valued, ...root.flags].join(", ")})`
    }
    if (word !== undefined && !commands.includes(word)) {
      return `Unknown command "${word}" (one of ${commands.join(", ")})`
    }
  }
  // eslint-disable-next-line no-control-regex -- the ANSI styling of a help paragraph
  const text = oneLine("error" in error ? HelpDoc.toAnsiText(error.error).replace(/\x1b\[[0-9;]*m/g, "") : "")
  return text === "" ? `Invalid arguments: ${error._tag}` : text
}

/**
 * Writes `text` as one error line (stderr) and sets exit code 1.
 *
 * @since 0.2.0
 * @category reporting
 */
export const report = (text: string): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stderr.write(`${oneLine(text)}\n`)
    process.exitCode = 1
  })
