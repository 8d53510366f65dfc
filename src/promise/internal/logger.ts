/**
 * Where the logs of a `WorkflowService`'s engine go: the user's `logger`
 * option, or nowhere. A library is quiet by default; Effect's own console
 * logger is taken out of the service's runtime, never added to anyone else's.
 */
import * as Cause from "effect/Cause"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import type { WorkflowLogger, WorkflowLogLevel as Level } from "../WorkflowService.js"

const levelOf = (level: LogLevel.LogLevel): Level => {
  switch (level._tag) {
    case "Fatal":
    case "Error":
      return "error"
    case "Warning":
      return "warn"
    case "Info":
      return "info"
    default:
      return "debug"
  }
}

const minimum: Record<Level, LogLevel.LogLevel> = {
  debug: LogLevel.Trace,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  error: LogLevel.Error
}

/** An Effect logger handing each entry to `logger`: the first message, then the other values and the cause. */
const toEffectLogger = (logger: WorkflowLogger): Logger.Logger<unknown, void> =>
  Logger.make(({ cause, logLevel, message }) => {
    const [first, ...rest] = Array.isArray(message) ? message : [message]
    const details = Cause.isEmpty(cause) ? rest : [...rest, Cause.squash(cause)]
    try {
      logger(
        levelOf(logLevel),
        typeof first === "string" ? first : Inspectable.toStringUnknown(first),
        details.length <= 1 ? details[0] : details
      )
    } catch {
      // A logger that throws must not fail the work it reports on.
    }
  })

/** The service's runtime logs through `logger` from `level` up, or nowhere without one. */
export const layer = (logger: WorkflowLogger | undefined, level: Level = "info"): Layer.Layer<never> =>
  Layer.merge(
    Logger.replace(Logger.defaultLogger, logger === undefined ? Logger.none : toEffectLogger(logger)),
    Logger.minimumLogLevel(minimum[level])
  )

/** What Effects run from Promise code outside any run or service call log through: nothing. */
export const quiet: Layer.Layer<never> = Logger.remove(Logger.defaultLogger)
