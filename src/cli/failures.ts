/**
 * How the `token-ring-workflow` command reports what stops it: one line on
 * stderr and exit code 1, never a stack trace, a log line or the JSON of an
 * argument error on stdout. Effect's logs go to stderr too, one line each,
 * and only when `--log-level` asks for them. (What is wrong with argv is
 * said by `argvProblems`, which needs `@effect/cli`.)
 *
 * @since 0.2.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
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
 * Sets exit code 1, for a failure whose line has been written.
 *
 * @since 0.2.0
 * @category reporting
 */
export const failed: Effect.Effect<void> = Effect.sync(() => {
  process.exitCode = 1
})

/**
 * Writes `text` as one error line (stderr) and sets exit code 1.
 *
 * @since 0.2.0
 * @category reporting
 */
export const report = (text: string): Effect.Effect<void> =>
  Effect.zipRight(Effect.sync(() => process.stderr.write(`${oneLine(text)}\n`)), failed)
