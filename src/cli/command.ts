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
import { Effect, HashMap, Option } from "effect"
import * as ChatAdapter from "../ChatAdapter.js"
import * as CommandLine from "../CommandLine.js"
import * as Commands from "../Commands.js"
import * as ExecutionStorage from "../ExecutionStorage.js"
import * as App from "./App.js"
import * as ArgvProblems from "./argvProblems.js"
import * as Failures from "./failures.js"
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
).pipe(Command.withDescription("Run a workflow and stream it until it ends or waits for approval"))

const list = Command.make("list", {}, () => reading(Commands.list)).pipe(
  Command.withDescription("List the registered workflows")
)

const status = Command.make("status", { id }, ({ id }) => reading(Commands.status(id))).pipe(
  Command.withDescription("Show an execution's status")
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
).pipe(Command.withDescription("List executions, newest first"))

const events = Command.make(
  "events",
  { id, from: Options.integer("from").pipe(Options.withDescription("First seq to show"), Options.optional) },
  ({ from, id }) => reading(Commands.events(id, Option.getOrUndefined(from)))
).pipe(Command.withDescription("Show an execution's stored events"))

const approve = Command.make(
  "approve",
  {
    id,
    taskId: Args.text({ name: "task-id" }),
    answer: Args.choice([["approved", "approved"], ["rejected", "rejected"]], { name: "answer" }).pipe(
      Args.withDefault("approved")
    ),
    feedback: Args.text({ name: "feedback" }).pipe(Args.repeated)
  },
  ({ answer, feedback, id, taskId }) =>
    acting(Commands.approve(id, taskId, {
      status: answer,
      ...(feedback.length > 0 ? { feedback: feedback.join(" ") } : {})
    }))
).pipe(Command.withDescription("Answer a waiting approval, then stream the run on"))

const resume = Command.make("resume", { id }, ({ id }) => acting(Commands.resume(id))).pipe(
  Command.withDescription(
    "Resume an unfinished execution from its journal. After a crash it takes over once the previous " +
      "owner's lease (see --lease) has expired; until then it waits."
  )
)

const cancel = Command.make("cancel", { id }, ({ id }) => acting(Commands.cancel(id))).pipe(
  Command.withDescription("Cancel a running or waiting execution")
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
).pipe(Command.withDescription("Send a signal to an execution; one waiting for it is streamed on"))

const fork = Command.make(
  "fork",
  {
    id,
    step: Args.integer({ name: "step" }).pipe(Args.withDescription("The root step to run again from (0 is the first)"))
  },
  ({ id, step }) => acting(Commands.fork(id, step))
).pipe(
  Command.withDescription("Start a copy of an execution that reuses its steps before <step> and runs on from there")
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
  Command.withDescription(
    "Store a schedule: the workflow starts at each tick, in any process that runs it (see worker)"
  )
)

const schedules = Command.make("schedules", {}, () => reading(Commands.schedules)).pipe(
  Command.withDescription("List the stored schedules")
)

const scheduleControl = (name: string, action: "pause" | "resume" | "remove", description: string) =>
  Command.make(name, { name: scheduleName }, ({ name }) => reading(Commands.scheduleControl(action, name))).pipe(
    Command.withDescription(description)
  )

const worker = Command.make("worker", {}, () => Effect.flatMap(root, (config) => OneShot.worker(config))).pipe(
  Command.withDescription(
    "Run executions until stopped (Ctrl-C, SIGTERM): schedules tick, sleeps wake, and what stopped processes left is taken over"
  )
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
).pipe(
  Command.withDescription(
    "Serve the HTTP API and the dashboard until stopped (Ctrl-C, SIGTERM), running executions as worker does"
  )
)

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
    approve,
    resume,
    cancel,
    signal,
    fork,
    schedule,
    schedules,
    scheduleControl("pause-schedule", "pause", "Pause a schedule: no ticks until resumed"),
    scheduleControl("resume-schedule", "resume", "Resume a schedule from its next tick after now"),
    scheduleControl("unschedule", "remove", "Remove a schedule (the executions it started stay)"),
    worker,
    serve
  ])
)

const cli = Command.run(command, { name: "token-ring-workflow", version: "0.1.0" })

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
export const run = (argv: ReadonlyArray<string>): Effect.Effect<void> =>
  cli(argv).pipe(
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
