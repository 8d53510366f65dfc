/**
 * Reading a chat command: the text after `/workflow`, `/plan`, `/apply` or
 * `/analyze` becomes a `Command` (data), or a `UsageError` that says what was
 * wrong. Everything that can be checked before anything runs is checked here
 * (actions, ids, flags, `/analyze` options and model names, a workflow's
 * arguments); `Commands` runs what comes out.
 *
 * A chat line is not argv: `run <name> [args]` passes the rest of the line
 * as written, JSON with spaces included.
 *
 * @since 0.2.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as ExecutionStorage from "./ExecutionStorage.js"
import { formatIssues, issuesOf } from "./internal/errorInfo.js"
import { messageOf } from "./internal/message.js"
import { prototypeKeyPath, prototypeKeyReason } from "./internal/prototypeKeys.js"
import * as TextTasks from "./internal/textTasks.js"
import * as Models from "./Models.js"
import * as Planning from "./Planning.js"
import type * as Workflow from "./Workflow.js"
import * as WorkflowEngine from "./WorkflowEngine.js"

/**
 * A command that could not be understood; `usage` is printed after it.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly message: string
  readonly usage: ReadonlyArray<string>
}> {}

/**
 * @since 0.1.0
 * @category models
 */
export type Name = "workflow" | "plan" | "apply" | "analyze"

/**
 * @since 0.1.0
 * @category models
 */
export interface Info {
  readonly description: string
  readonly usage: ReadonlyArray<string>
}

/**
 * Descriptions and usage of the four commands.
 *
 * @since 0.1.0
 * @category commands
 */
export const info: Record<Name, Info> = {
  workflow: {
    description: "List, run and inspect workflows and their executions",
    usage: [
      "/workflow list                                  registered workflows",
      "/workflow run <name> [args]                     run one (args: JSON, key=value pairs, or its own format)",
      "/workflow debug [on|off]                        show or set debug output",
      "/workflow status <id>                           an execution's status",
      "/workflow events <id> [--from <seq>]            an execution's stored events",
      "/workflow watch <id> [--from <seq>]             follow an execution, through its waits, until it ends",
      "/workflow executions [--status s] [--workflow w] executions, newest first",
      "/workflow resume <id>                           run an unfinished execution on from its journal",
      "/workflow cancel <id>                           stop a running or waiting execution",
      "/workflow approve [<id> [<taskId>]] [approved|rejected] [feedback...]  answer an approval",
      "                                                (the only one waiting, or the one <id> waits for)",
      "/workflow signal <id> <name> [json]             send a signal (its payload: JSON, default null)",
      "/workflow fork <id> <step>                      run an execution again from a root step (0 is the first)",
      "/workflow schedule <name> \"<cron>\" [--timezone tz] [--missed skip|once] <workflow> [args]",
      "                                                start a workflow at each tick of a cron expression",
      "/workflow schedules                             stored schedules",
      "/workflow pause-schedule|resume-schedule|unschedule <name>  steer a schedule"
    ]
  },
  plan: {
    description: "Plan a prompt into tasks and wait for approval to apply them",
    usage: ["/plan <prompt>    plan, print and store the plan; /apply runs it"]
  },
  apply: {
    description: "Run the plan made by /plan",
    usage: ["/apply    approve the waiting plan and run its tasks"]
  },
  analyze: {
    description: "Score a prompt's complexity, then execute it directly or plan and apply subtasks",
    usage: [
      "/analyze [k=v ...] -- <prompt>",
      "  model=<name>               a configured model, or builtin",
      "  plan=auto|always|never     plan subtasks when the analysis says so (auto), always, or never"
    ]
  }
}

/**
 * A `UsageError` of the command `name`, with its usage.
 *
 * @since 0.2.0
 * @category errors
 */
export const usageError = (name: Name, message: string): UsageError =>
  new UsageError({ message, usage: info[name].usage })

/**
 * A command as read from its text, ready to run.
 *
 * @since 0.2.0
 * @category models
 */
export type Command = Data.TaggedEnum<{
  /** Print the usage of a command. */
  Help: { readonly name: Name }
  List: {}
  Run: { readonly workflow: string; readonly input: unknown }
  /** Show the debug flag, setting it first when `on` is given. */
  Debug: { readonly on: boolean | undefined }
  Status: { readonly id: string }
  Events: { readonly id: string; readonly fromSeq: number | undefined }
  Watch: { readonly id: string; readonly fromSeq: number | undefined }
  Executions: { readonly filter: ExecutionStorage.ListFilter }
  Resume: { readonly id: string }
  Cancel: { readonly id: string }
  /** Without an id, the only approval waiting; without a task, the one the execution waits for. */
  Approve: {
    readonly id: string | undefined
    readonly taskId: string | undefined
    readonly answer: Workflow.ApprovalAnswer
  }
  Signal: { readonly id: string; readonly name: string; readonly payload: unknown }
  Fork: { readonly id: string; readonly fromStep: number }
  Schedule: {
    readonly name: string
    readonly cron: string
    readonly timezone: string | undefined
    readonly missed: "skip" | "once" | undefined
    readonly workflow: string
    readonly input: unknown
  }
  Schedules: {}
  ScheduleControl: { readonly action: "pause" | "resume" | "remove"; readonly name: string }
  Plan: { readonly prompt: string }
  Apply: {}
  Analyze: { readonly prompt: string; readonly options: typeof Planning.AnalyzerOptions.Type }
}>

/**
 * Constructors and matching of `Command`s.
 *
 * @since 0.2.0
 * @category constructors
 */
export const Command = Data.taggedEnum<Command>()

/**
 * Splits a chat line such as `/workflow list` into the command's name and the
 * rest of the line; `undefined` when the line is not one of these commands.
 *
 * @since 0.2.0
 * @category parsing
 */
export const split = (line: string): { readonly name: Name; readonly remainder: string } | undefined => {
  const match = /^\/(workflow|plan|apply|analyze)(?:\s+([\s\S]*))?$/.exec(line.trim())
  return match === null ? undefined : { name: match[1] as Name, remainder: match[2] ?? "" }
}

/**
 * Reads a command from its text (the part after `/name `). A `/workflow run`
 * is checked against the registered workflows, `/analyze` options against
 * the configured models.
 *
 * @since 0.2.0
 * @category parsing
 */
export const parse = (
  name: Name,
  remainder: string
): Effect.Effect<Command, UsageError, WorkflowEngine.WorkflowEngine | Models.Models> => {
  const text = remainder.trim()
  if (text === "help" && name !== "workflow") return Effect.succeed(Command.Help({ name }))
  switch (name) {
    case "workflow":
      return workflowCommand(text)
    case "plan":
      return text === ""
        ? Effect.fail(usageError("plan", "/plan needs a prompt"))
        : Effect.succeed(Command.Plan({ prompt: text }))
    case "apply":
      return text === ""
        ? Effect.succeed(Command.Apply())
        : Effect.fail(usageError("apply", `/apply takes no arguments, not "${text}"`))
    case "analyze":
      return text === "" ? Effect.fail(usageError("analyze", "/analyze needs a prompt")) : analyzeCommand(text)
  }
}

/** Splits off the first `count` words; the rest of the text is returned as it was written. */
const words = (text: string, count: number): { readonly head: ReadonlyArray<string>; readonly rest: string } => {
  const head: Array<string> = []
  let rest = text.trim()
  while (head.length < count && rest !== "") {
    const match = /^(\S+)\s*/.exec(rest)!
    head.push(match[1]!)
    rest = rest.slice(match[0].length)
  }
  return { head, rest }
}

/** `--flag value` pairs; any other word is refused. */
const flags = (text: string, allowed: ReadonlyArray<string>) =>
  Effect.suspend(() => {
    const tokens = text.split(/\s+/).filter((token) => token !== "")
    const values: Record<string, string> = {}
    for (let i = 0; i < tokens.length; i += 2) {
      const flag = tokens[i]!.replace(/^--/, "")
      if (!tokens[i]!.startsWith("--") || !allowed.includes(flag)) {
        return Effect.fail(
          usageError("workflow", `Unexpected "${tokens[i]}" (options: ${allowed.map((a) => `--${a}`).join(", ")})`)
        )
      }
      const value = tokens[i + 1]
      if (value === undefined) return Effect.fail(usageError("workflow", `--${flag} needs a value`))
      values[flag] = value
    }
    return Effect.succeed(values)
  })

/**
 * The input of `workflow` as read from a chat or a command line, unless it
 * holds a `__proto__` key (or an object whose prototype a parser set from
 * one): decoding would make that key a prototype, and its fields hidden
 * fields of the input. `constructor`, `prototype` and the like are plain keys.
 *
 * @since 0.2.0
 * @category parsing
 */
export const safeInput = (workflow: string, input: unknown): Effect.Effect<unknown, UsageError> => {
  const path = prototypeKeyPath(input)
  return path === undefined
    ? Effect.succeed(input)
    : Effect.fail(usageError("workflow", `The arguments of ${workflow} are refused: ${prototypeKeyReason(path)}`))
}

/** Reads the input of `/workflow run` from its arguments. */
const inputFrom = (workflow: WorkflowEngine.WorkflowInfo, args: string): Effect.Effect<unknown, UsageError> =>
  Effect.flatMap(readInput(workflow, args), (input) => safeInput(workflow.name, input))

const readInput = (workflow: WorkflowEngine.WorkflowInfo, args: string): Effect.Effect<unknown, UsageError> =>
  Effect.suspend(() => {
    const fail = (message: string) => Effect.fail(usageError("workflow", message))
    if (workflow.parseArgs !== undefined) {
      return Effect.try({
        try: () => workflow.parseArgs!(args),
        catch: (error) =>
          usageError("workflow", `Could not read the arguments of ${workflow.name}: ${messageOf(error)}`)
      })
    }
    if (args === "") return Effect.succeed({})
    if (/^[[{"]/.test(args)) {
      try {
        return Effect.succeed(JSON.parse(args))
      } catch (error) {
        return fail(`The arguments of ${workflow.name} are not valid JSON: ${(error as Error).message}`)
      }
    }
    const pairs = TextTasks.keyValues(args)
    if (Object.keys(pairs).length > 0 && TextTasks.withoutKeyValues(args).trim() === "") return Effect.succeed(pairs)
    return fail(`The arguments of ${workflow.name} must be JSON or key=value pairs; got "${args}"`)
  })

const statuses = ExecutionStorage.ExecutionStatus.literals

const runCommand = (rest: string) =>
  Effect.gen(function*() {
    const { head: [name], rest: args } = words(rest, 1)
    if (name === undefined) return yield* Effect.fail(usageError("workflow", "/workflow run needs a workflow name"))
    const engine = yield* WorkflowEngine.WorkflowEngine
    const workflow = (yield* engine.list).find((w) => w.name === name)
    if (workflow === undefined) {
      return yield* Effect.fail(usageError("workflow", `No workflow named "${name}" (see /workflow list)`))
    }
    return Command.Run({ workflow: name, input: yield* inputFrom(workflow, args) })
  })

const eventsCommand = (id: string, extra: string) =>
  Effect.gen(function*() {
    const { from } = yield* flags(extra, ["from"])
    if (from !== undefined && !/^\d+$/.test(from)) {
      return yield* Effect.fail(usageError("workflow", `--from takes a seq (a whole number), not "${from}"`))
    }
    return Command.Events({ id, fromSeq: from !== undefined ? Number(from) : undefined })
  })

const executionsCommand = (rest: string) =>
  Effect.gen(function*() {
    const filter = yield* flags(rest, ["status", "workflow"])
    if (filter.status !== undefined && !(statuses as ReadonlyArray<string>).includes(filter.status)) {
      return yield* Effect.fail(
        usageError("workflow", `Unknown status "${filter.status}" (one of ${statuses.join(", ")})`)
      )
    }
    return Command.Executions({
      filter: {
        ...(filter.status !== undefined ? { status: filter.status as ExecutionStorage.ExecutionStatus } : {}),
        ...(filter.workflow !== undefined ? { workflow: filter.workflow } : {})
      }
    })
  })

const answers = ["approved", "rejected"]

/** `[id [taskId]] [approved|rejected] [feedback...]`: the answer is the first of those two words. */
const approveCommand = (text: string) => {
  const { head } = words(text, 3)
  const at = head.findIndex((word) => answers.includes(word))
  const named = at === -1 ? head.slice(0, 2) : head.slice(0, at)
  if (named.length > 2) {
    return Effect.fail(usageError("workflow", `An answer is approved or rejected, not "${head[2]}"`))
  }
  // What follows the answer (or the two names, without one) is feedback, as written.
  const after = at === -1 ? words(text, 2).rest : words(text, at + 1).rest
  if (at === -1 && after !== "") {
    const { head: [word] } = words(after, 1)
    return Effect.fail(usageError("workflow", `An answer is approved or rejected, not "${word}"`))
  }
  return Effect.succeed(Command.Approve({
    id: named[0],
    taskId: named[1],
    answer: {
      status: (at === -1 ? "approved" : head[at]) as "approved" | "rejected",
      ...(after !== "" ? { feedback: after } : {})
    }
  }))
}

const signalCommand = (id: string, name: string, json: string) =>
  Effect.gen(function*() {
    if (json === "") return Command.Signal({ id, name, payload: null })
    const payload = yield* Effect.try({
      try: () => JSON.parse(json) as unknown,
      catch: (error) => usageError("workflow", `The payload of signal "${name}" is not valid JSON: ${messageOf(error)}`)
    })
    return Command.Signal({ id, name, payload: yield* safeInput(`signal "${name}"`, payload) })
  })

const forkCommand = (id: string, step: string) =>
  /^\d{1,9}$/.test(step)
    ? Effect.succeed(Command.Fork({ id, fromStep: Number(step) }))
    : Effect.fail(usageError("workflow", `A step to fork from is a root position (0, 1, ...), not "${step}"`))

/** `<name> "<cron>" [--timezone tz] [--missed skip|once] <workflow> [args]`: the cron in quotes, having spaces. */
const scheduleCommand = (rest: string) =>
  Effect.gen(function*() {
    const fail = (message: string) => Effect.fail(usageError("workflow", message))
    const { head: [name], rest: afterName } = words(rest, 1)
    const quoted = /^(["'])([^"'\n]*)\1\s*/.exec(afterName)
    if (name === undefined || quoted === null) {
      return yield* fail("/workflow schedule needs a name and a cron expression in quotes")
    }
    let text = afterName.slice(quoted[0].length)
    const options: Record<string, string> = {}
    while (text.startsWith("--")) {
      const { head: [flag, value], rest: next } = words(text, 2)
      if (flag !== "--timezone" && flag !== "--missed") {
        return yield* fail(`Unexpected "${flag}" (options: --timezone, --missed)`)
      }
      if (value === undefined) return yield* fail(`${flag} needs a value`)
      options[flag.slice(2)] = value
      text = next
    }
    if (options.missed !== undefined && options.missed !== "skip" && options.missed !== "once") {
      return yield* fail(`--missed takes skip or once, not "${options.missed}"`)
    }
    const run = yield* runCommand(text)
    return Command.Schedule({
      name,
      cron: quoted[2]!,
      timezone: options.timezone,
      missed: options.missed as "skip" | "once" | undefined,
      workflow: run.workflow,
      input: run.input
    })
  })

const scheduleActions = { "pause-schedule": "pause", "resume-schedule": "resume", unschedule: "remove" } as const

const workflowCommand = (remainder: string) =>
  Effect.gen(function*() {
    const { head: [action], rest } = words(remainder, 1)
    /** The `count` ids an action starts with, and the text after them. */
    const ids = (count: number, what: string) => {
      const { head, rest: extra } = words(rest, count)
      return head.length < count
        ? Effect.fail(usageError("workflow", `/workflow ${action} needs ${what}`))
        : Effect.succeed({ head: head as ReadonlyArray<string>, extra })
    }
    const id = Effect.map(ids(1, "an execution id"), ({ head }) => head[0]!)
    switch (action) {
      case undefined:
      case "help":
        return Command.Help({ name: "workflow" })
      case "list":
        return Command.List()
      case "run":
        return yield* runCommand(rest)
      case "debug":
        if (rest !== "" && rest !== "on" && rest !== "off") {
          return yield* Effect.fail(usageError("workflow", `/workflow debug takes on or off, not "${rest}"`))
        }
        return Command.Debug({ on: rest === "" ? undefined : rest === "on" })
      case "status":
        return Command.Status({ id: yield* id })
      case "events":
      case "watch": {
        const { extra, head } = yield* ids(1, "an execution id")
        const read = yield* eventsCommand(head[0]!, extra)
        return action === "events" ? read : Command.Watch({ id: read.id, fromSeq: read.fromSeq })
      }
      case "executions":
        return yield* executionsCommand(rest)
      case "resume":
        return Command.Resume({ id: yield* id })
      case "cancel":
        return Command.Cancel({ id: yield* id })
      case "approve":
        return yield* approveCommand(rest)
      case "signal": {
        const { extra, head: [execution, name] } = yield* ids(2, "an execution id and a signal name")
        return yield* signalCommand(execution!, name!, extra.trim())
      }
      case "fork": {
        const { extra, head: [execution, step] } = yield* ids(2, "an execution id and a step")
        if (extra !== "") return yield* Effect.fail(usageError("workflow", `Unexpected "${extra}" after the step`))
        return yield* forkCommand(execution!, step!)
      }
      case "schedule":
        return yield* scheduleCommand(rest)
      case "schedules":
        return Command.Schedules()
      case "pause-schedule":
      case "resume-schedule":
      case "unschedule": {
        const { extra, head: [name] } = yield* ids(1, "a schedule name")
        if (extra !== "") return yield* Effect.fail(usageError("workflow", `Unexpected "${extra}" after the name`))
        return Command.ScheduleControl({ action: scheduleActions[action], name: name! })
      }
      default:
        return yield* Effect.fail(usageError("workflow", `Unknown action "${action}"`))
    }
  })

const analyzeCommand = (remainder: string) =>
  Effect.gen(function*() {
    const separator = /(?:^|\s)--(?:\s|$)/.exec(remainder)
    // Without "--" the whole text is the prompt; options written before it would silently become prompt text.
    if (separator === null && /^[A-Za-z_][\w-]*=\S/.test(remainder)) {
      return yield* Effect.fail(usageError("analyze", "Put -- between the options and the prompt"))
    }
    const optionText = separator === null ? "" : remainder.slice(0, separator.index)
    const prompt = (separator === null ? remainder : remainder.slice(separator.index + separator[0].length)).trim()
    const tokens = optionText.split(/\s+/).filter((token) => token !== "")
    const bad = tokens.find((token) => !/^[A-Za-z_][\w-]*=\S+$/.test(token))
    if (bad !== undefined) return yield* Effect.fail(usageError("analyze", `Options are key=value, not "${bad}"`))
    if (prompt === "") return yield* Effect.fail(usageError("analyze", "/analyze needs a prompt after --"))
    const raw = Object.fromEntries(tokens.map((token) => token.split(/=(.*)/s).slice(0, 2)))
    const options = yield* Schema.decodeUnknown(Planning.AnalyzerOptions, { errors: "all" })(raw).pipe(
      // One line naming each bad option, not Schema's tree.
      Effect.mapError((error) => usageError("analyze", `Invalid options: ${formatIssues(issuesOf(error))}`))
    )
    const models = yield* Models.Models
    if (options.model !== undefined && !models.names.includes(options.model)) {
      return yield* Effect.fail(
        usageError("analyze", `Unknown model "${options.model}" (configured: ${models.names.join(", ")})`)
      )
    }
    return Command.Analyze({ prompt, options })
  })
