/**
 * The chat commands: `/workflow`, `/plan`, `/apply` and `/analyze`. Each
 * operation is an Effect over the `WorkflowEngine` that writes through the
 * `ChatAdapter`; `execute` reads a command's text and runs the operation.
 * The CLI's one-shot forms call the same operations. A malformed command
 * writes a line that says what was wrong and changes nothing stored.
 *
 * @since 0.1.0
 */
import { Data, Effect, Option, Schema } from "effect"
import * as ChatAdapter from "./ChatAdapter.js"
import * as ExecutionStorage from "./ExecutionStorage.js"
import { messageOf } from "./internal/message.js"
import * as TextTasks from "./internal/textTasks.js"
import * as Models from "./Models.js"
import * as Plan from "./Plan.js"
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
 * What a command did.
 *
 * @since 0.1.0
 * @category models
 */
export type Result =
  | { readonly _tag: "Done" }
  | { readonly _tag: "Run"; readonly executionId: string; readonly outcome: ChatAdapter.Outcome }
  | { readonly _tag: "Planned"; readonly executionId: string; readonly prompt: string; readonly plan: Plan.Plan }
  /** The command was malformed or failed; the line saying why was written. */
  | { readonly _tag: "Rejected"; readonly message: string }

const done: Result = { _tag: "Done" }

/**
 * @since 0.1.0
 * @category models
 */
export type Requirements = WorkflowEngine.WorkflowEngine | ChatAdapter.ChatAdapter | Models.Models

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
      "/workflow executions [--status s] [--workflow w] executions, newest first",
      "/workflow resume <id>                           run an unfinished execution on from its journal",
      "/workflow cancel <id>                           stop a running or waiting execution",
      "/workflow approve <id> <taskId> [approved|rejected] [feedback...]  answer an approval"
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

const usage = (name: Name, message: string) => new UsageError({ message, usage: info[name].usage })

const showUsage = (name: Name) =>
  Effect.flatMap(
    ChatAdapter.ChatAdapter,
    (chat) => Effect.as(Effect.forEach(info[name].usage, chat.systemLine, { discard: true }), done)
  )

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
const flags = (name: Name, text: string, allowed: ReadonlyArray<string>) =>
  Effect.suspend(() => {
    const tokens = text.split(/\s+/).filter((token) => token !== "")
    const values: Record<string, string> = {}
    for (let i = 0; i < tokens.length; i += 2) {
      const flag = tokens[i]!.replace(/^--/, "")
      if (!tokens[i]!.startsWith("--") || !allowed.includes(flag)) {
        return Effect.fail(
          usage(name, `Unexpected "${tokens[i]}" (options: ${allowed.map((a) => `--${a}`).join(", ")})`)
        )
      }
      const value = tokens[i + 1]
      if (value === undefined) return Effect.fail(usage(name, `--${flag} needs a value`))
      values[flag] = value
    }
    return Effect.succeed(values)
  })

const render = (executionId: string, options: ChatAdapter.RenderOptions & { readonly fromSeq?: number } = {}) =>
  Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const chat = yield* ChatAdapter.ChatAdapter
    const debug = yield* engine.debug
    return yield* ChatAdapter.render(engine, executionId, { debug, json: chat.json === true, ...options })
  })

const runResult = (executionId: string) => (outcome: ChatAdapter.Outcome): Result => ({
  _tag: "Run",
  executionId,
  outcome
})

/** Reads the input of `/workflow run` from its arguments. */
const inputFrom = (workflow: WorkflowEngine.WorkflowInfo, args: string): Effect.Effect<unknown, UsageError> =>
  Effect.suspend(() => {
    const fail = (message: string) => Effect.fail(usage("workflow", message))
    if (workflow.parseArgs !== undefined) {
      return Effect.try({
        try: () => workflow.parseArgs!(args),
        catch: (error) => usage("workflow", `Could not read the arguments of ${workflow.name}: ${messageOf(error)}`)
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

/**
 * Starts a workflow and shows the run until it ends or waits for an approval.
 *
 * @since 0.1.0
 * @category operations
 */
export const run = Effect.fn("Commands.run")(function*(name: string, input: unknown) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const handle = yield* engine.start(name, input)
  if (chat.json !== true) yield* chat.systemLine(`Started ${name} as execution ${handle.id}`)
  return runResult(handle.id)(yield* render(handle.id))
})

/**
 * @since 0.1.0
 * @category operations
 */
export const list = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const workflows = yield* engine.list
  if (workflows.length === 0) yield* chat.systemLine("No workflows are registered.")
  for (const workflow of workflows) {
    yield* chat.systemLine(`${workflow.name}${workflow.description !== undefined ? ` — ${workflow.description}` : ""}`)
  }
  return done
})

const describeRecord = (record: ExecutionStorage.ExecutionRecord): ReadonlyArray<string> => [
  `${record.id}  ${record.workflow}  ${record.status}`,
  `  created ${new Date(record.createdAt).toISOString()}, updated ${new Date(record.updatedAt).toISOString()}, ` +
  `${record.lastSeq} events`,
  ...(record.leaseUntil !== undefined
    ? [`  claimed by a process until ${new Date(record.leaseUntil).toISOString()}`]
    : []),
  ...(record.output !== undefined ? [`  output: ${ChatAdapter.show(record.output)}`] : []),
  ...(record.error !== undefined ? [`  error: ${record.error.name}: ${record.error.message}`] : [])
]

/**
 * @since 0.1.0
 * @category operations
 */
export const status = Effect.fn("Commands.status")(function*(id: string) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const record = yield* engine.status(id)
  for (const line of describeRecord(record)) yield* chat.systemLine(line)
  return done
})

/**
 * Shows the stored events of an execution, from `fromSeq` (default 1).
 *
 * @since 0.1.0
 * @category operations
 */
export const events = Effect.fn("Commands.events")(function*(id: string, fromSeq?: number) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const record = yield* engine.status(id)
  if (record.lastSeq < (fromSeq ?? 1)) {
    yield* chat.systemLine(`No events${fromSeq !== undefined ? ` from seq ${fromSeq}` : ""} in ${id}.`)
    return done
  }
  yield* render(id, { untilSeq: record.lastSeq, ...(fromSeq !== undefined ? { fromSeq } : {}) })
  return done
})

/**
 * @since 0.1.0
 * @category operations
 */
export const executions = Effect.fn("Commands.executions")(function*(filter: ExecutionStorage.ListFilter = {}) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const page = yield* engine.executions({ limit: 50, ...filter })
  if (page.executions.length === 0) yield* chat.systemLine("No executions.")
  for (const record of page.executions) {
    yield* chat.systemLine(
      `${record.id}  ${record.workflow}  ${record.status}  ${new Date(record.updatedAt).toISOString()}`
    )
  }
  if (page.cursor !== undefined) yield* chat.systemLine("(more: narrow with --status or --workflow)")
  return done
})

/**
 * Resumes an unfinished execution and shows it from its next event.
 *
 * @since 0.1.0
 * @category operations
 */
export const resume = Effect.fn("Commands.resume")(function*(id: string) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const before = yield* engine.status(id)
  yield* engine.resume(id)
  if (chat.json !== true) yield* chat.systemLine(`Resumed ${before.workflow} execution ${id}`)
  // A process that died keeps its claim until the lease runs out: say why nothing happens until then.
  if (before.status === "running" && before.leaseUntil !== undefined && before.leaseUntil > Date.now()) {
    yield* chat.warningLine(
      `${id} is claimed until ${new Date(before.leaseUntil).toISOString()} by the process that ran it; ` +
        "if that process has stopped, it goes on here once the claim expires"
    )
  }
  return runResult(id)(yield* render(id, { fromSeq: before.lastSeq + 1 }))
})

/**
 * @since 0.1.0
 * @category operations
 */
export const cancel = Effect.fn("Commands.cancel")(function*(id: string) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  yield* engine.cancel(id)
  yield* chat.systemLine(`Cancelled execution ${id}`)
  return done
})

/**
 * Answers an approval, then shows the run going on. Approving a plan runs it.
 *
 * @since 0.1.0
 * @category operations
 */
export const approve = Effect.fn("Commands.approve")(
  function*(id: string, taskId: string, answer: Workflow.ApprovalAnswer) {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const chat = yield* ChatAdapter.ChatAdapter
    const before = yield* engine.status(id)
    // The runs waiting on this one (child ids are `<parent>.<part>`), as they are now: shown going on after it.
    const parents = yield* Effect.forEach(parentsOf(id), (parent) => Effect.option(engine.status(parent)))
    yield* engine.approve(id, taskId, answer)
    if (chat.json !== true) yield* chat.systemLine(`Answered "${taskId}" of ${id}: ${answer.status}`)
    let result = yield* follow(id, before.lastSeq + 1)
    for (const parent of parents) {
      if (result._tag !== "Run" || result.outcome._tag === "Waiting") break
      if (Option.isNone(parent) || parent.value.status !== "running") break
      result = yield* follow(parent.value.id, parent.value.lastSeq + 1)
    }
    return result
  }
)

/** `a.apply.task-1` → `a.apply`, `a`. */
const parentsOf = (id: string): ReadonlyArray<string> =>
  id.split(".").slice(0, -1).map((_, i, parts) => parts.slice(0, parts.length - i).join("."))

/**
 * Shows an execution from `fromSeq` (default: its first event). A plan's
 * run ends with its report; an approved plan is followed into its run.
 */
const follow = (
  id: string,
  fromSeq?: number
): Effect.Effect<Result, ChatAdapter.RenderError, WorkflowEngine.WorkflowEngine | ChatAdapter.ChatAdapter> =>
  Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const { workflow } = yield* engine.status(id)
    const planning = workflow === Planning.TASK_PLANNER || workflow === Planning.PLAN_EXECUTOR
    const outcome = yield* render(id, { ...(fromSeq !== undefined ? { fromSeq } : {}), output: !planning })
    if (workflow === Planning.PLAN_EXECUTOR) yield* report(outcome)
    if (workflow === Planning.TASK_PLANNER && outcome._tag === "Completed") return yield* followPlan(outcome.output)
    return runResult(id)(outcome)
  })

/** Follows the `plan-executor` run a planner started. */
const followPlan = (plannerOutput: unknown): ReturnType<typeof follow> =>
  Effect.gen(function*() {
    const chat = yield* ChatAdapter.ChatAdapter
    const output = Schema.decodeUnknownOption(Planning.PlannerOutput)(plannerOutput)
    if (Option.isNone(output) || output.value.execution === undefined) {
      if (chat.json !== true) yield* chat.systemLine("The plan was not applied.")
      return done
    }
    if (chat.json !== true) yield* chat.systemLine(`Running the plan as execution ${output.value.execution}`)
    return yield* follow(output.value.execution)
  })

/**
 * Runs tasks as a plan (a `plan-executor` execution) and shows it, then its report.
 *
 * @since 0.1.0
 * @category operations
 */
export const applyTasks = Effect.fn("Commands.applyTasks")(function*(prompt: string, tasks: ReadonlyArray<Plan.Task>) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const handle = yield* engine.start(Planning.PLAN_EXECUTOR, { prompt, tasks })
  if (chat.json !== true) yield* chat.systemLine(`Running the plan as execution ${handle.id}`)
  return yield* follow(handle.id)
})

const report = (outcome: ChatAdapter.Outcome) =>
  Effect.gen(function*() {
    const chat = yield* ChatAdapter.ChatAdapter
    const decoded = outcome._tag === "Completed"
      ? Schema.decodeUnknownOption(Plan.Report)(outcome.output)
      : Option.none()
    if (Option.isNone(decoded)) return
    const { completed, failed, outcomes } = decoded.value
    for (const task of outcomes) {
      const line = `${task.index + 1}. ${task.intent}: ${task.status}` +
        (task.error !== undefined
          ? ` (${task.error})`
          : task.output !== undefined
          ? ` → ${ChatAdapter.show(task.output)}`
          : "")
      yield* (task.status === "failed" ? chat.warningLine(line) : chat.systemLine(line))
    }
    yield* chat.systemLine(`Plan done: ${completed} completed, ${failed} failed.`)
  })

const SUPERSEDED = "replaced by a newer plan"

/**
 * Plans `prompt` with the `task-planner` workflow, prints the plan and leaves
 * it waiting for approval.
 *
 * @since 0.1.0
 * @category operations
 */
export const plan = Effect.fn("Commands.plan")(function*(prompt: string) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const handle = yield* engine.start(Planning.TASK_PLANNER, { prompt })
  const outcome = yield* render(handle.id)
  if (outcome._tag !== "Waiting") return runResult(handle.id)(outcome)
  const pending = yield* Planning.waitingPlan(handle.id)
  if (Option.isNone(pending)) return runResult(handle.id)(outcome)
  // One plan waits at a time: an older one still waiting is answered "rejected", so /apply cannot run it later.
  const older = yield* engine.executions({ workflow: Planning.TASK_PLANNER, status: "waiting", limit: 100 })
  for (const record of older.executions) {
    if (record.id === handle.id) continue
    yield* Effect.ignore(
      engine.approve(record.id, Planning.APPROVAL_TASK, { status: "rejected", feedback: SUPERSEDED })
    )
    yield* chat.systemLine(`Replaced the plan that was waiting in ${record.id}.`)
  }
  yield* chat.systemLine("Plan:")
  for (const line of Plan.format(pending.value.plan)) yield* chat.systemLine(`  ${line}`)
  yield* chat.systemLine(`Run it with /apply (or /workflow approve ${handle.id} ${Planning.APPROVAL_TASK} approved).`)
  return { _tag: "Planned", executionId: handle.id, prompt, plan: pending.value.plan } as Result
})

/**
 * Approves the waiting plan and shows it running.
 *
 * @since 0.1.0
 * @category operations
 */
export const apply = Effect.gen(function*() {
  const pending = yield* Planning.pending
  if (Option.isNone(pending)) {
    return yield* Effect.fail(usage("apply", "No plan to apply: make one with /plan <prompt>"))
  }
  return yield* approve(pending.value.executionId, Planning.APPROVAL_TASK, { status: "approved" })
})

/**
 * Runs the `prompt-analyzer` workflow and shows it, then the plan it ran, if any.
 *
 * @since 0.1.0
 * @category operations
 */
export const analyze = Effect.fn("Commands.analyze")(
  function*(prompt: string, options: typeof Planning.AnalyzerOptions.Type = {}) {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const handle = yield* engine.start(Planning.PROMPT_ANALYZER, { prompt, options })
    const outcome = yield* render(handle.id)
    if (outcome._tag === "Completed") {
      const output = Schema.decodeUnknownOption(Planning.AnalyzerOutput)(outcome.output)
      if (Option.isSome(output) && output.value.report !== undefined) {
        yield* report({ _tag: "Completed", output: output.value.report })
      }
    }
    return runResult(handle.id)(outcome)
  }
)

const statuses = ExecutionStorage.ExecutionStatus.literals

const workflowCommand = (remainder: string) =>
  Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const chat = yield* ChatAdapter.ChatAdapter
    const { head: [action], rest } = words(remainder, 1)
    const ids = (count: number, what: string) => {
      const { head, rest: extra } = words(rest, count)
      return head.length < count
        ? Effect.fail(usage("workflow", `/workflow ${action} needs ${what}`))
        : Effect.succeed({ head, extra })
    }
    switch (action) {
      case undefined:
      case "help":
        return yield* showUsage("workflow")
      case "list":
        return yield* list
      case "run": {
        const { head: [name], rest: args } = words(rest, 1)
        if (name === undefined) return yield* Effect.fail(usage("workflow", "/workflow run needs a workflow name"))
        const workflow = (yield* engine.list).find((w) => w.name === name)
        if (workflow === undefined) {
          return yield* Effect.fail(
            usage("workflow", `No workflow named "${name}" (see /workflow list)`)
          )
        }
        return yield* run(name, yield* inputFrom(workflow, args))
      }
      case "debug": {
        if (rest !== "" && rest !== "on" && rest !== "off") {
          return yield* Effect.fail(usage("workflow", `/workflow debug takes on or off, not "${rest}"`))
        }
        if (rest !== "") yield* engine.setDebug(rest === "on")
        yield* chat.systemLine(`Debug is ${(yield* engine.debug) ? "on" : "off"}`)
        return done
      }
      case "status":
        return yield* status((yield* ids(1, "an execution id")).head[0]!)
      case "events": {
        const { extra, head } = yield* ids(1, "an execution id")
        const { from } = yield* flags("workflow", extra, ["from"])
        if (from !== undefined && !/^\d+$/.test(from)) {
          return yield* Effect.fail(usage("workflow", `--from takes a seq (a whole number), not "${from}"`))
        }
        return yield* events(head[0]!, from !== undefined ? Number(from) : undefined)
      }
      case "executions": {
        const filter = yield* flags("workflow", rest, ["status", "workflow"])
        if (filter.status !== undefined && !(statuses as ReadonlyArray<string>).includes(filter.status)) {
          return yield* Effect.fail(
            usage("workflow", `Unknown status "${filter.status}" (one of ${statuses.join(", ")})`)
          )
        }
        return yield* executions({
          ...(filter.status !== undefined ? { status: filter.status as ExecutionStorage.ExecutionStatus } : {}),
          ...(filter.workflow !== undefined ? { workflow: filter.workflow } : {})
        })
      }
      case "resume":
        return yield* resume((yield* ids(1, "an execution id")).head[0]!)
      case "cancel":
        return yield* cancel((yield* ids(1, "an execution id")).head[0]!)
      case "approve": {
        const { extra, head: [id, taskId] } = yield* ids(2, "an execution id and a task id")
        const { head: [answer], rest: feedback } = words(extra, 1)
        if (answer !== undefined && answer !== "approved" && answer !== "rejected") {
          return yield* Effect.fail(usage("workflow", `An answer is approved or rejected, not "${answer}"`))
        }
        return yield* approve(id!, taskId!, {
          status: answer ?? "approved",
          ...(feedback !== "" ? { feedback } : {})
        })
      }
      default:
        return yield* Effect.fail(usage("workflow", `Unknown action "${action}"`))
    }
  })

const analyzeCommand = (remainder: string) =>
  Effect.gen(function*() {
    const separator = /(?:^|\s)--(?:\s|$)/.exec(remainder)
    // Without "--" the whole text is the prompt; options written before it would silently become prompt text.
    if (separator === null && /^[A-Za-z_][\w-]*=\S/.test(remainder)) {
      return yield* Effect.fail(usage("analyze", "Put -- between the options and the prompt"))
    }
    const optionText = separator === null ? "" : remainder.slice(0, separator.index)
    const prompt = (separator === null ? remainder : remainder.slice(separator.index + separator[0].length)).trim()
    const tokens = optionText.split(/\s+/).filter((token) => token !== "")
    const bad = tokens.find((token) => !/^[A-Za-z_][\w-]*=\S+$/.test(token))
    if (bad !== undefined) return yield* Effect.fail(usage("analyze", `Options are key=value, not "${bad}"`))
    if (prompt === "") return yield* Effect.fail(usage("analyze", "/analyze needs a prompt after --"))
    const raw = Object.fromEntries(tokens.map((token) => token.split(/=(.*)/s).slice(0, 2)))
    const options = yield* Schema.decodeUnknown(Planning.AnalyzerOptions)(raw).pipe(
      Effect.mapError((error) => usage("analyze", `Invalid options: ${error.message}`))
    )
    const models = yield* Models.Models
    if (options.model !== undefined && !models.names.includes(options.model)) {
      return yield* Effect.fail(
        usage("analyze", `Unknown model "${options.model}" (configured: ${models.names.join(", ")})`)
      )
    }
    return yield* analyze(prompt, options)
  })

/**
 * Runs a command from its text (the part after `/name `). Every failure is
 * written as an error line (with the usage for a malformed command) and
 * returned as `Rejected`.
 *
 * @since 0.1.0
 * @category commands
 */
export const execute = (name: Name, remainder: string): Effect.Effect<Result, never, Requirements> => {
  const text = remainder.trim()
  const command: Effect.Effect<Result, unknown, Requirements> = text === "help" && name !== "workflow"
    ? showUsage(name)
    : name === "workflow"
    ? workflowCommand(text)
    : name === "plan"
    ? text === "" ? Effect.fail(usage("plan", "/plan needs a prompt")) : plan(text)
    : name === "apply"
    ? text === "" ? apply : Effect.fail(usage("apply", `/apply takes no arguments, not "${text}"`))
    : text === ""
    ? Effect.fail(usage("analyze", "/analyze needs a prompt"))
    : analyzeCommand(text)
  return handled(command).pipe(Effect.withSpan("Commands.execute", { attributes: { command: name } }))
}

/**
 * Writes a command's failure as an error line (with the usage after a
 * malformed command) and returns it as `Rejected`.
 *
 * @since 0.1.0
 * @category commands
 */
export const handled = <R>(
  command: Effect.Effect<Result, unknown, R>
): Effect.Effect<Result, never, R | ChatAdapter.ChatAdapter> =>
  Effect.catchAll(command, (error) =>
    Effect.gen(function*() {
      const chat = yield* ChatAdapter.ChatAdapter
      const message = messageOf(error)
      yield* chat.errorLine(message)
      if (error instanceof UsageError) { for (const line of error.usage) yield* chat.systemLine(line) }
      return { _tag: "Rejected", message } as Result
    }))

/**
 * Runs a whole chat line such as `/workflow list`; `undefined` when the line
 * is not one of these commands.
 *
 * @since 0.1.0
 * @category commands
 */
export const executeLine = (line: string): Effect.Effect<Result, never, Requirements> | undefined => {
  const match = /^\/(workflow|plan|apply|analyze)(?:\s+([\s\S]*))?$/.exec(line.trim())
  return match === null ? undefined : execute(match[1] as Name, match[2] ?? "")
}
