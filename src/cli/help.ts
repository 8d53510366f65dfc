/**
 * `--help`, written for people: what each command does, its arguments and
 * options in one screen, with the words a person would use (the `@effect/cli`
 * command takes its descriptions from here, so the two never disagree).
 *
 * @since 0.2.0
 */

/**
 * A command as its help shows it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Entry {
  /** Its arguments and options, after its name. */
  readonly usage: string
  /** One line: what it does. */
  readonly summary: string
  /** What else a person needs to know, if anything. */
  readonly details?: string
  readonly options?: ReadonlyArray<readonly [string, string]>
}

const fromSeq: readonly [string, string] = ["--from <seq>", "the first event to show (default 1)"]

/**
 * Every subcommand's help, in the order the root help lists them.
 *
 * @since 0.2.0
 * @category help
 */
export const commands: Record<string, Entry> = {
  run: {
    usage: "<workflow> [--input <json>]",
    summary: "Run a workflow and show it until it ends, or waits for someone (an approval, a signal)",
    options: [["--input <json>", "its input (default {})"]]
  },
  list: { usage: "", summary: "List the registered workflows" },
  status: { usage: "<id>", summary: "Show an execution's status" },
  executions: {
    usage: "[--status <status>] [--workflow <name>]",
    summary: "List executions, newest first",
    options: [
      ["--status <status>", "created, running, waiting, completed, failed or cancelled"],
      ["--workflow <name>", "only this workflow's"]
    ]
  },
  events: { usage: "<id> [--from <seq>]", summary: "Show an execution's stored events", options: [fromSeq] },
  watch: {
    usage: "<id> [--from <seq>]",
    summary: "Follow an execution live, from any process, through its waits until it ends (Ctrl-C stops watching)",
    options: [fromSeq]
  },
  approve: {
    usage: "[<id> [<task-id>]] [approved|rejected] [feedback...]",
    summary: "Answer an approval (default approved), then show the run going on",
    details: "Without an id, answers the only approval waiting; without a task id, the one <id> waits for. " +
      "When that is not one approval, lists those waiting."
  },
  resume: {
    usage: "<id>",
    summary: "Run an unfinished execution on from its journal",
    details: "After a crash it takes over once the previous owner's lease (see --lease) has expired."
  },
  cancel: { usage: "<id>", summary: "Cancel a running or waiting execution (and the executions it started)" },
  signal: {
    usage: "<id> <name> [--payload <json>]",
    summary: "Send a signal to an execution; one waiting for it is shown going on",
    options: [["--payload <json>", "its payload (default null)"]]
  },
  fork: {
    usage: "<id> <step>",
    summary: "Start a copy of an execution that reuses its steps before <step> (0 is the first) and runs on from there"
  },
  schedule: {
    usage: "<name> <cron> <workflow> [--input <json>] [--timezone <zone>] [--missed skip|once]",
    summary: "Store a schedule: the workflow starts at each tick, in any process that runs it (see worker)",
    details: "<cron> is a cron expression in quotes: 5 fields, or 6 with seconds first.",
    options: [
      ["--input <json>", "the input of each run (default {})"],
      ["--timezone <zone>", "the IANA time zone to read <cron> in (default UTC)"],
      ["--missed skip|once", "ticks missed while no process ran: skipped, or the latest run once (default)"]
    ]
  },
  schedules: { usage: "", summary: "List the stored schedules" },
  "pause-schedule": { usage: "<name>", summary: "Pause a schedule: no ticks until resumed" },
  "resume-schedule": { usage: "<name>", summary: "Resume a schedule from its next tick after now" },
  unschedule: { usage: "<name>", summary: "Remove a schedule (the executions it started stay)" },
  serve: {
    usage: "[--port <n>] [--host <host>] [--token <token>]",
    summary: "Serve the HTTP API and the dashboard until stopped (Ctrl-C, SIGTERM), running executions as worker does",
    details: "Open the printed address in a browser for the dashboard. A host other than a loopback one needs a token.",
    options: [
      ["--port <n>", "the port (default 8787; 0 for a free one)"],
      ["--host <host>", "the address to bind (default 127.0.0.1)"],
      ["--token <token>", "a token every API request must send (default TOKEN_RING_WORKFLOW_TOKEN)"]
    ]
  },
  worker: {
    usage: "",
    summary: "Run executions until stopped (Ctrl-C, SIGTERM): schedules tick, sleeps wake, " +
      "and what stopped processes left is taken over"
  }
}

/**
 * The options that come before a command, with what they do.
 *
 * @since 0.2.0
 * @category help
 */
export const rootOptions: ReadonlyArray<readonly [string, string]> = [
  ["--db <file>", "the SQLite file to store executions in (default .workflow/workflow.db)"],
  ["--pg-url <url>", "store in PostgreSQL instead"],
  ["--workflows <module>", "register the workflows and Runnables a module exports (repeatable)"],
  ["--model <provider:model>", "the model for /plan and /analyze (default TOKEN_RING_MODEL, else built in)"],
  ["--json", "print one JSON value per line instead of prose"],
  ["--lease <seconds>", "how long this process's claim on a run lasts without renewal (default 30)"],
  ["--log-level <level>", "first on the line: the engine's logs on stderr from this level up"]
]

/** Rows of two columns, the first padded to the widest. */
const table = (rows: ReadonlyArray<readonly [string, string]>) => {
  const width = Math.max(...rows.map(([left]) => left.length))
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`)
}

const NAME = "token-ring-workflow"

/**
 * The help of `command` (a subcommand's name), or of the whole CLI.
 *
 * @since 0.2.0
 * @category help
 */
export const text = (version: string, command?: string): string => {
  const entry = command === undefined ? undefined : commands[command]
  if (command === undefined || entry === undefined) {
    return [
      `${NAME} ${version}: durable, observable workflows`,
      "",
      "Usage:",
      ...table([
        [`${NAME} [options]`, "an interactive chat session (type /help in it)"],
        [`${NAME} [options] <command> ...`, "one command, for scripts: exit 0, or 1 when it fails"]
      ]),
      "",
      "Commands:",
      ...table(Object.entries(commands).map(([name, { summary }]) => [name, summary])),
      "",
      "Options (before the command):",
      ...table(rootOptions),
      "",
      "An <id> is an execution id, or any start of one that no other execution's id has.",
      `${NAME} <command> --help says more about a command.`
    ].join("\n")
  }
  return [
    `${NAME} ${command}: ${entry.summary}`,
    "",
    `Usage: ${NAME} [options] ${command}${entry.usage === "" ? "" : ` ${entry.usage}`}`,
    ...(entry.details !== undefined ? ["", entry.details] : []),
    ...(entry.options !== undefined ? ["", "Options:", ...table(entry.options)] : []),
    "",
    `The options before ${command} (--db, --pg-url, --workflows, --json, ...): ${NAME} --help`
  ].join("\n")
}

/**
 * The command whose help `args` (argv after the program) asks for: `null` for the whole CLI, `undefined`
 * when it asks for none. Asked by `--help` or `-h` anywhere; the command is the first word naming one.
 *
 * @since 0.2.0
 * @category help
 */
export const requested = (args: ReadonlyArray<string>): string | null | undefined => {
  const end = args.indexOf("--")
  const words = end === -1 ? args : args.slice(0, end)
  if (!words.some((word) => word === "--help" || word === "-h")) return undefined
  return words.find((word) => Object.hasOwn(commands, word)) ?? null
}
