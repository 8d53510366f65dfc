/**
 * The `token-ring-workflow` command as `@effect/cli` reads it: every form of
 * argv, help (`--help`), `--version`, `--log-level`, completions and the
 * wizard, and the argument errors, each reported in one line. `main` comes
 * here for everything but a reading command written plainly (`plainArgv`).
 *
 * @since 0.2.0
 */
import { Args, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
// Subpath import: the package index would also load its HTTP server, undici and ws (~0.2 s at startup).
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as ChatAdapter from "../ChatAdapter.js"
import * as CommandLine from "../CommandLine.js"
import * as Commands from "../Commands.js"
import * as ExecutionStorage from "../ExecutionStorage.js"
import * as App from "./App.js"
import * as ArgvProblems from "./argvProblems.js"
import * as Failures from "./failures.js"
import * as Help from "./help.js"
import * as OneShot from "./oneShot.js"
import { rootOptions } from "./plainArgv.js"
import * as Session from "./session.js"

const db = Options.text("db").pipe(
  Options.withDescription(`SQLite file to store executions in (default ${App.DEFAULT_DB})`),
  Options.optional
)
const pgUrl = Options.text("pg-url").pipe(
  Options.withDescription("PostgreSQL URL to store executions in, instead of SQLite"),
  Options.optional
)
const workflows = Options.text("workflows").pipe(
  Options.withDescription("A module exporting workflows (Workflow.make) or Runnables to register; repeatable"),
  Options.repeated
)
const model = Options.text("model").pipe(
  Options.withDescription(
    "Language model for /plan and /analyze: openai:<model> or anthropic:<model> " +
      "(default: TOKEN_RING_MODEL, else the built-in planner)"
  ),
  Options.optional
)
const json = Options.boolean("json").pipe(Options.withDescription("Print run events as JSON lines"))
const lease = Options.integer("lease").pipe(
  Options.withDescription("Seconds an execution stays claimed by this process without renewal (default 30)"),
  Options.mapEffect((seconds) =>
    seconds >= 1
      ? Effect.succeed(seconds)
      : Effect.fail(
        ValidationError.invalidValue(HelpDoc.p(`--lease takes a whole number of seconds of at least 1, not ${seconds}`))
      )
  ),
  Options.optional
)

const root = Command.make("token-ring-workflow", { db, pgUrl, workflows, model, json, lease })

/** A one-shot command that acts on executions, with the root options. */
const acting = <E>(command: Effect.Effect<Commands.Result, E, App.Services>) =>
  Effect.flatMap(root, (config) => OneShot.acting(config, command))

/** A one-shot command that only reads, with the root options. */
const reading = <E>(command: Effect.Effect<Commands.Result, E, App.Services>) =>
  Effect.flatMap(root, (config) => OneShot.reading(config, command))

/** The description of the command `name`, as its help gives it. */
const described = (name: string) => Command.withDescription(Help.commands[name]?.summary ?? name)

const id = Args.text({ name: "execution-id" })

/** `--input`: JSON without `__proto__` keys (see `CommandLine.safeInput`); a bad one is an error line, no usage. */
const parseInput = (name: string, text: string, option = "--input") =>
  Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: (error) => new Error(`${option} for ${name} is not valid JSON: ${(error as Error).message}`)
  }).pipe(
    Effect.flatMap((value) => Effect.mapError(CommandLine.safeInput(name, value), (error) => new Error(error.message)))
  )

const runWorkflow = Command.make(
  "run",
  {
    name: Args.text({ name: "workflow" }),
    input: Options.text("input").pipe(Options.withDescription("The input as JSON"), Options.withDefault("{}"))
  },
  ({ input, name }) => acting(Effect.flatMap(parseInput(name, input), (value) => Commands.run(name, value)))
).pipe(described("run"))

const list = Command.make("list", {}, () => reading(Commands.list)).pipe(
  described("list")
)

const status = Command.make("status", { id }, ({ id }) => reading(Commands.status(id))).pipe(
  described("status")
)

const executions = Command.make(
  "executions",
  {
    status: Options.choice("status", ExecutionStorage.ExecutionStatus.literals).pipe(Options.optional),
    workflow: Options.text("workflow").pipe(Options.optional)
  },
  (filter) =>
    reading(Commands.executions({
      ...Option.match(filter.status, { onNone: () => ({}), onSome: (status) => ({ status }) }),
      ...Option.match(filter.workflow, { onNone: () => ({}), onSome: (workflow) => ({ workflow }) })
    }))
).pipe(described("executions"))

const events = Command.make(
  "events",
  { id, from: Options.integer("from").pipe(Options.withDescription("First seq to show"), Options.optional) },
  ({ from, id }) => reading(Commands.events(id, Option.getOrUndefined(from)))
).pipe(described("events"))

const watch = Command.make(
  "watch",
  {
    id,
    from: Options.integer("from").pipe(Options.withDescription("First seq to show (default 1)"), Options.optional)
  },
  ({ from, id }) => reading(Commands.watch(id, Option.getOrUndefined(from)))
).pipe(
  described("watch")
)

const approve = Command.make(
  "approve",
  {
    words: Args.text({ name: "[id [task-id]] [approved|rejected] [feedback...]" }).pipe(Args.repeated)
  },
  // Read as the chat reads `/workflow approve ...`: the id and task may be left out (see `Commands.approve`).
  ({ words }) =>
    acting(Effect.flatMap(CommandLine.parse("workflow", ["approve", ...words].join(" ")), Commands.perform))
).pipe(
  described("approve")
)

const resume = Command.make("resume", { id }, ({ id }) => acting(Commands.resume(id))).pipe(
  described("resume")
)

const cancel = Command.make("cancel", { id }, ({ id }) => acting(Commands.cancel(id))).pipe(
  described("cancel")
)

const signal = Command.make(
  "signal",
  {
    id,
    name: Args.text({ name: "signal" }),
    payload: Options.text("payload").pipe(Options.withDescription("The payload as JSON"), Options.withDefault("null"))
  },
  ({ id, name, payload }) =>
    acting(
      Effect.flatMap(parseInput(`signal "${name}"`, payload, "--payload"), (value) => Commands.signal(id, name, value))
    )
).pipe(described("signal"))

const fork = Command.make(
  "fork",
  {
    id,
    step: Args.integer({ name: "step" }).pipe(Args.withDescription("The root step to run again from (0 is the first)"))
  },
  ({ id, step }) => acting(Commands.fork(id, step))
).pipe(
  described("fork")
)

const scheduleName = Args.text({ name: "schedule" })

const schedule = Command.make(
  "schedule",
  {
    name: scheduleName,
    cron: Args.text({ name: "cron" }).pipe(
      Args.withDescription("A cron expression, quoted (5 fields, or 6 with seconds)")
    ),
    workflow: Args.text({ name: "workflow" }),
    input: Options.text("input").pipe(Options.withDescription("The input as JSON"), Options.withDefault("{}")),
    timezone: Options.text("timezone").pipe(
      Options.withDescription("IANA time zone of the expression"),
      Options.optional
    ),
    missed: Options.choice("missed", ["skip", "once"]).pipe(
      Options.withDescription("Ticks missed while no process ran: skip them, or run the latest once (default)"),
      Options.optional
    )
  },
  (options) =>
    reading(Effect.flatMap(parseInput(options.workflow, options.input), (input) =>
      Commands.schedule({
        name: options.name,
        cron: options.cron,
        workflow: options.workflow,
        input,
        timezone: Option.getOrUndefined(options.timezone),
        missed: Option.getOrUndefined(options.missed)
      })))
).pipe(
  described("schedule")
)

const schedules = Command.make("schedules", {}, () => reading(Commands.schedules)).pipe(
  described("schedules")
)

const scheduleControl = (name: string, action: "pause" | "resume" | "remove") =>
  Command.make(name, { name: scheduleName }, ({ name }) => reading(Commands.scheduleControl(action, name))).pipe(
    described(name)
  )

const worker = Command.make("worker", {}, () => Effect.flatMap(root, (config) => OneShot.worker(config))).pipe(
  described("worker")
)

const serve = Command.make(
  "serve",
  {
    port: Options.integer("port").pipe(
      Options.withDescription(`Port to listen on (default ${OneShot.DEFAULT_PORT}; 0 for a free one)`),
      Options.withDefault(OneShot.DEFAULT_PORT)
    ),
    host: Options.text("host").pipe(
      Options.withDescription("Host to bind (default 127.0.0.1); any other than a loopback one needs a token"),
      Options.withDefault("127.0.0.1")
    ),
    token: Options.text("token").pipe(
      Options.withDescription("Token every API request must send (default: TOKEN_RING_WORKFLOW_TOKEN)"),
      Options.optional
    )
  },
  (options) =>
    Effect.flatMap(root, (config) =>
      OneShot.serve(config, {
        port: options.port,
        host: options.host,
        token: Option.getOrUndefined(options.token) ?? (process.env.TOKEN_RING_WORKFLOW_TOKEN || undefined)
      }))
).pipe(described("serve"))

/**
 * The whole command: the session without a subcommand, one-shot forms with one.
 *
 * @since 0.2.0
 * @category commands
 */
export const command = root.pipe(
  Command.withHandler((config) => App.provide(config, Session.interactive)),
  Command.withDescription("Durable, observable workflows: an interactive chat session, or one-shot commands"),
  Command.withSubcommands([
    runWorkflow,
    list,
    status,
    executions,
    events,
    watch,
    approve,
    resume,
    cancel,
    signal,
    fork,
    schedule,
    schedules,
    scheduleControl("pause-schedule", "pause"),
    scheduleControl("resume-schedule", "resume"),
    scheduleControl("unschedule", "remove"),
    worker,
    serve
  ])
)

const VERSION = "0.1.0"

const cli = Command.run(command, { name: "token-ring-workflow", version: VERSION })

/**
 * `@effect/cli` prints an argument error itself (several lines, to stderr) before failing with it: its
 * console's `error` is muted, and the failure is reported as one line instead.
 */
const mutedErrorDocs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.console, (console) => Effect.withConsole(effect, { ...console, error: () => Effect.void }))

const commandNames = [...HashMap.keys(Command.getSubcommands(command))].sort()

/**
 * Runs the command `argv` (all of `process.argv`) asks for; what stops it is one error line and exit code 1.
 *
 * @since 0.2.0
 * @category running
 */
export const run = (argv: ReadonlyArray<string>): Effect.Effect<void> => {
  // Help is ours, written for people; everything else is read by @effect/cli.
  const help = Help.requested(argv.slice(2))
  if (help !== undefined) return Console.log(Help.text(VERSION, help ?? undefined))
  return cli(argv).pipe(
    mutedErrorDocs,
    Effect.catchAll((error) =>
      Failures.report(
        ValidationError.isValidationError(error)
          ? ArgvProblems.argvProblem(error, argv.slice(2), rootOptions, commandNames)
          : ChatAdapter.messageOf(error)
      )
    ),
    Effect.provide(NodeContext.layer)
  )
}
