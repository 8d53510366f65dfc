#!/usr/bin/env node
/**
 * `token-ring-workflow`: with no subcommand, an interactive chat session
 * with `/workflow`, `/plan`, `/apply` and `/analyze`; with one, a one-shot
 * form for scripts (`run`, `list`, `status`, `executions`, `events`,
 * `approve`, `resume`, `cancel`) that exits 0 on success and 1 on failure.
 *
 * A reading command written plainly (`plainArgv`) runs at once; anything
 * else loads the `@effect/cli` command (`command`), which reads every form.
 *
 * @since 0.1.0
 */
// Subpath import: the package index would also load its HTTP server, undici and ws (~0.2 s at startup).
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ChatAdapter from "../ChatAdapter.js"
import * as Commands from "../Commands.js"
import * as Failures from "./failures.js"
import * as OneShot from "./oneShot.js"
import * as PlainArgv from "./plainArgv.js"

// A reader that stopped reading (`| head`) ends the command quietly, as SIGPIPE ends other commands (and
// with the status a shell gives those, 128 + 13): not with a stack trace of the failed write.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error
  process.exit(141)
})

const plain = PlainArgv.read(process.argv.slice(2))

const program = plain !== undefined
  ? OneShot.reading(plain.config, Commands.perform(plain.command))
  : Effect.flatMap(Effect.promise(() => import("./command.js")), (command) => command.run(process.argv))

program.pipe(
  Effect.catchAllDefect((defect) => Failures.report(`token-ring-workflow failed: ${ChatAdapter.messageOf(defect)}`)),
  Effect.provide(Failures.logging),
  NodeRuntime.runMain({
    // Every failure was reported as one line; interruption is not a failure to report.
    disableErrorReporting: true,
    // Its pretty logger writes to stdout: Failures.logging is the CLI's logger.
    disablePrettyLogger: true,
    // Interrupted (^C at the session prompt, SIGINT, SIGTERM): 130, as shells report ^C.
    teardown: (exit, onExit) =>
      onExit(
        Exit.isSuccess(exit)
          ? (typeof process.exitCode === "number" ? process.exitCode : 0)
          : Cause.isInterruptedOnly(exit.cause)
          ? 130
          : 1
      )
  })
)
