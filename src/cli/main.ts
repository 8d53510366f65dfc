#!/usr/bin/env node
/**
 * `token-ring-workflow`: with no subcommand, an interactive chat session
 * with `/workflow`, `/plan`, `/apply` and `/analyze`; with one, a one-shot
 * form for scripts (`run`, `list`, `status`, `executions`, `events`,
 * `approve`, `resume`, `cancel`) that exits 0 on success and 1 on failure.
 *
 * @since 0.1.0
 */
import { Args, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
// Subpath imports: the package index would also load its HTTP server, undici and ws (~0.2 s at startup).
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Either, Exit, HashMap, Option, Queue, Ref, Stream } from "effect"
import { createInterface } from "node:readline"
import * as ChatAdapter from "../ChatAdapter.js"
import * as CommandLine from "../CommandLine.js"
import * as Commands from "../Commands.js"
import * as ExecutionStorage from "../ExecutionStorage.js"
import * as WorkflowEngine from "../WorkflowEngine.js"
import * as App from "./App.js"
import * as Failures from "./failures.js"
import * as Terminal from "./terminal.js"

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

/** The root options as argv spells them, to name the word an argument error is about. */
const rootOptions: Failures.RootOptions = {
  valued: ["--db", "--pg-url", "--workflows", "--model", "--lease"],
  flags: ["--json"]
}

const failed = Effect.sync(() => {
  process.exitCode = 1
})

/**
 * Runs `program` with the services of the root options. When they cannot be
 * built (conflicting options, a module that does not load, a model without
 * its key), that is one error line and exit code 1, before anything is stored.
 */
const provideApp = <E>(
  config: App.Config,
  program: Effect.Effect<void, E, App.Services>,
  options: { readonly recover: boolean } = { recover: true }
) =>
  program.pipe(
    Effect.provide(App.layer(config, options)),
    Effect.catchAll((error) =>
      Effect.flatMap(ChatAdapter.ChatAdapter, (chat) => chat.errorLine(ChatAdapter.messageOf(error))).pipe(
        Effect.zipRight(failed),
        Effect.provide(Terminal.layer({ json: config.json }))
      )
    )
  )

/** Runs `command` with the services of the root options; exits 1 when it was rejected or the run failed. */
const withApp = <E>(command: Effect.Effect<Commands.Result, E, App.Services>, options: { readonly recover: boolean }) =>
  Effect.flatMap(root, (config) =>
    provideApp(
      config,
      Effect.flatMap(
        Commands.handled(command),
        (result) =>
          result._tag === "Rejected" || (result._tag === "Run" && result.outcome._tag === "Failed")
            ? failed
            : Effect.void
      ),
      options
    ))

/**
 * A command that acts on executions (`run`, `resume`, `approve`, `cancel`):
 * its engine also recovers what a stopped process left running.
 */
const acting = <E>(command: Effect.Effect<Commands.Result, E, App.Services>) => withApp(command, { recover: true })

/**
 * A command that only reads (`list`, `status`, `executions`, `events`): its
 * engine recovers nothing, so it never runs a step, not even one a killed
 * process left half done; it exits as soon as it has read.
 */
const reading = <E>(command: Effect.Effect<Commands.Result, E, App.Services>) => withApp(command, { recover: false })

const id = Args.text({ name: "execution-id" })

/** `--input`: JSON without `__proto__` keys (see `CommandLine.safeInput`); a bad one is an error line, no usage. */
const parseInput = (name: string, text: string) =>
  Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: (error) => new Error(`--input for ${name} is not valid JSON: ${(error as Error).message}`)
  }).pipe(
    Effect.flatMap((value) => Effect.mapError(CommandLine.safeInput(name, value), (error) => new Error(error.message)))
  )

const run = Command.make(
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

const help = [
  "Commands: /workflow <action> ... | /plan <prompt> | /apply | /analyze [k=v ...] -- <prompt> | /help | /exit",
  ...Object.values(Commands.info).flatMap((info) => info.usage)
]

/** One line of the interactive session; false ends it. */
const line = (text: string) =>
  Effect.gen(function*() {
    const chat = yield* ChatAdapter.ChatAdapter
    const trimmed = text.trim()
    if (trimmed === "") return true
    if (trimmed === "/exit" || trimmed === "/quit") return false
    if (trimmed === "/help") {
      for (const line of help) yield* chat.systemLine(line)
      return true
    }
    const command = Commands.executeLine(trimmed)
    if (command === undefined) {
      yield* chat.warningLine(`Not a command: "${trimmed}". Commands start with /; try /help`)
    } else {
      yield* command
    }
    return true
  })

/**
 * The engine as the session's commands see it, keeping the ids of the runs
 * being shown (outermost first), so that ^C can say which one goes on.
 */
const tracking = (
  engine: WorkflowEngine.WorkflowEngineService,
  shown: Ref.Ref<ReadonlyArray<string>>
): WorkflowEngine.WorkflowEngineService => ({
  ...engine,
  events: (id: string, options?: { readonly fromSeq?: number }) =>
    Stream.unwrapScoped(
      Effect.acquireRelease(
        Ref.update(shown, (ids) => [...ids, id]),
        () => Ref.update(shown, (ids) => ids.filter((shownId) => shownId !== id))
      ).pipe(Effect.as(engine.events(id, options)))
    )
})

/** What ^C during a command says: the run it was showing, if any, and whether that run goes on. */
const stoppedLine = (engine: WorkflowEngine.WorkflowEngineService, id: string | undefined) =>
  id === undefined
    ? Effect.succeed("Stopped the command.")
    : Effect.map(
      Effect.option(engine.status(id)),
      (record) =>
        Option.exists(record, ({ status }) => ExecutionStorage.isTerminal(status))
          ? `Stopped showing ${id}.`
          : `Stopped following ${id}; it goes on: /workflow status ${id}`
    )

const interactive = Effect.scoped(Effect.gen(function*() {
  const chat = yield* ChatAdapter.ChatAdapter
  const engine = yield* WorkflowEngine.WorkflowEngine
  const tty = process.stdin.isTTY === true
  // None: the input ended (end of file, ^D).
  const lines = yield* Queue.unbounded<Option.Option<string>>()
  const ctrlC = yield* Queue.unbounded<void>()
  const reader = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const reader = createInterface({ input: process.stdin, output: process.stdout, terminal: tty })
      reader.on("line", (text) => lines.unsafeOffer(Option.some(text)))
      reader.on("close", () => lines.unsafeOffer(Option.none()))
      // In a terminal readline reads ^C as a key, not a signal; without this listener it would only close itself.
      reader.on("SIGINT", () => ctrlC.unsafeOffer(undefined))
      return reader
    }),
    (reader) => Effect.sync(() => reader.close())
  )
  const shown = yield* Ref.make<ReadonlyArray<string>>([])
  const sessionEngine = tracking(engine, shown)
  /** Runs a line; ^C meanwhile stops the command (not the execution it shows, which runs on in the engine). */
  const runLine = (text: string) =>
    Effect.gen(function*() {
      const result = yield* Effect.race(
        Effect.map(line(text), Either.right),
        Effect.map(Effect.zipRight(Queue.take(ctrlC), Ref.get(shown)), (ids) => Either.left(ids[0]))
      ).pipe(Effect.provideService(WorkflowEngine.WorkflowEngine, sessionEngine))
      if (Either.isRight(result)) return result.right
      yield* chat.warningLine(yield* stoppedLine(engine, result.left))
      return true
    })
  const prompt = Effect.sync(() => tty && reader.prompt())
  yield* chat.systemLine("token-ring-workflow — type /help for commands, /exit to leave.")
  while (true) {
    yield* prompt
    const next = yield* Effect.race(
      Effect.map(Queue.take(lines), Either.right),
      Effect.map(Queue.take(ctrlC), Either.left)
    )
    // ^C at the prompt ends the session as an interruption: exit code 130.
    if (Either.isLeft(next)) return yield* Effect.interrupt
    if (Option.isNone(next.right) || !(yield* runLine(next.right.value))) return
  }
}))

const command = root.pipe(
  Command.withHandler((config) => provideApp(config, interactive)),
  Command.withDescription("Durable, observable workflows: an interactive chat session, or one-shot commands"),
  Command.withSubcommands([run, list, status, executions, events, approve, resume, cancel])
)

const cli = Command.run(command, { name: "token-ring-workflow", version: "0.1.0" })

/**
 * `@effect/cli` prints an argument error itself (several lines, to stderr) before failing with it: its
 * console's `error` is muted, and the failure is reported as one line instead.
 */
const mutedErrorDocs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.console, (console) => Effect.withConsole(effect, { ...console, error: () => Effect.void }))

const commandNames = [...HashMap.keys(Command.getSubcommands(command))].sort()

cli(process.argv).pipe(
  mutedErrorDocs,
  Effect.catchAll((error) =>
    Failures.report(
      ValidationError.isValidationError(error)
        ? Failures.argvProblem(error, process.argv.slice(2), rootOptions, commandNames)
        : ChatAdapter.messageOf(error)
    )
  ),
  Effect.catchAllDefect((defect) => Failures.report(`token-ring-workflow failed: ${ChatAdapter.messageOf(defect)}`)),
  Effect.provide(Failures.logging),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({
    // Every failure was reported above as one line; interruption is not a failure to report.
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
