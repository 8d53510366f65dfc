/**
 * The chat commands: `/workflow`, `/plan`, `/apply` and `/analyze`. Each
 * operation is an Effect over the `WorkflowEngine` that writes through the
 * `ChatAdapter`; `execute` reads a command's text (with `CommandLine`) and
 * runs the operation. The CLI's one-shot forms call the same operations. A
 * malformed command writes a line that says what was wrong and changes
 * nothing stored.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as ChatAdapter from "./ChatAdapter.js"
import * as ChatRender from "./ChatRender.js"
import * as CommandLine from "./CommandLine.js"
import type * as ExecutionStorage from "./ExecutionStorage.js"
import * as ExecutionIds from "./internal/executionIds.js"
import { messageOf } from "./internal/message.js"
import type * as Models from "./Models.js"
import * as Plan from "./Plan.js"
import * as Planning from "./Planning.js"
import type * as Workflow from "./Workflow.js"
import * as WorkflowEngine from "./WorkflowEngine.js"

export {
  /**
   * Descriptions and usage of the four commands.
   *
   * @since 0.1.0
   * @category commands
   */
  info,
  /**
   * A command that could not be understood; `usage` is printed after it.
   *
   * @since 0.1.0
   * @category errors
   */
  UsageError
} from "./CommandLine.js"

/**
 * @since 0.1.0
 * @category models
 */
export type Name = CommandLine.Name

/**
 * @since 0.1.0
 * @category models
 */
export type Info = CommandLine.Info

export {
  /**
   * An id given in part (its start, as people type it) that more than one execution's id starts with.
   *
   * @since 0.2.0
   * @category errors
   */
  AmbiguousExecutionId
} from "./internal/executionIds.js"

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

/** A line of prose; with `--json`, the data it tells of as one JSON line instead. */
const say = (chat: ChatAdapter.ChatAdapterService, text: string, data: unknown) =>
  chat.systemLine(chat.json === true ? JSON.stringify(data) : text)

/**
 * @since 0.1.0
 * @category models
 */
export type Requirements =
  | WorkflowEngine.WorkflowEngine
  | ChatAdapter.ChatAdapter
  | ChatAdapter.Debug
  | Models.Models

/**
 * Prints the usage of a command.
 *
 * @since 0.2.0
 * @category operations
 */
export const help = (name: Name): Effect.Effect<Result, never, ChatAdapter.ChatAdapter> =>
  Effect.flatMap(
    ChatAdapter.ChatAdapter,
    (chat) => Effect.as(Effect.forEach(CommandLine.info[name].usage, chat.systemLine, { discard: true }), done)
  )

const render = (executionId: string, options: ChatAdapter.RenderOptions & { readonly fromSeq?: number } = {}) =>
  Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const chat = yield* ChatAdapter.ChatAdapter
    const debug = yield* (yield* ChatAdapter.Debug).debug
    return yield* ChatAdapter.render(engine, executionId, { debug, json: chat.json === true, ...options })
  })

const runResult = (executionId: string) => (outcome: ChatAdapter.Outcome): Result => ({
  _tag: "Run",
  executionId,
  outcome
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
  if (workflows.length === 0 && chat.json !== true) yield* chat.systemLine("No workflows are registered.")
  for (const workflow of workflows) {
    yield* say(chat, `${workflow.name}${workflow.description !== undefined ? ` — ${workflow.description}` : ""}`, {
      name: workflow.name,
      ...(workflow.description !== undefined ? { description: workflow.description } : {})
    })
  }
  return done
})

/**
 * @since 0.1.0
 * @category operations
 */
export const status = Effect.fn("Commands.status")(function*(idOrPrefix: string) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const record = yield* engine.status(yield* ExecutionIds.resolve(engine, idOrPrefix))
  if (chat.json === true) yield* chat.systemLine(JSON.stringify(record))
  else for (const line of ChatRender.recordLines(record)) yield* chat.systemLine(line)
  return done
})

/**
 * Shows the stored events of an execution, from `fromSeq` (default 1).
 *
 * @since 0.1.0
 * @category operations
 */
export const events = Effect.fn("Commands.events")(function*(idOrPrefix: string, fromSeq?: number) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const id = yield* ExecutionIds.resolve(engine, idOrPrefix)
  const record = yield* engine.status(id)
  if (record.lastSeq < (fromSeq ?? 1)) {
    if (chat.json !== true) {
      yield* chat.systemLine(`No events${fromSeq !== undefined ? ` from seq ${fromSeq}` : ""} in ${id}.`)
    }
    return done
  }
  yield* render(id, { untilSeq: record.lastSeq, ...(fromSeq !== undefined ? { fromSeq } : {}) })
  return done
})

/**
 * Shows an execution from `fromSeq` (default: its first event) as it goes on, through its waits, until it
 * ends: from any process on the storage.
 *
 * @since 0.2.0
 * @category operations
 */
export const watch = Effect.fn("Commands.watch")(function*(idOrPrefix: string, fromSeq?: number) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const id = yield* ExecutionIds.resolve(engine, idOrPrefix)
  const record = yield* engine.status(id)
  if (chat.json !== true) yield* chat.systemLine(`Watching ${record.workflow} execution ${id} (${record.status})`)
  return runResult(id)(yield* render(id, { untilEnd: true, fromSeq: fromSeq ?? 1 }))
})

/**
 * @since 0.1.0
 * @category operations
 */
export const executions = Effect.fn("Commands.executions")(function*(filter: ExecutionStorage.ListFilter = {}) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const page = yield* engine.executions({ limit: 50, ...filter })
  if (page.executions.length === 0 && chat.json !== true) yield* chat.systemLine("No executions.")
  for (const record of page.executions) {
    yield* say(
      chat,
      `${record.id}  ${record.workflow}  ${record.status}  ${new Date(record.updatedAt).toISOString()}`,
      record
    )
  }
  if (page.cursor !== undefined) {
    yield* say(chat, "(more: narrow with --status or --workflow)", { cursor: page.cursor })
  }
  return done
})

/**
 * Resumes an unfinished execution and shows it from its next event.
 *
 * @since 0.1.0
 * @category operations
 */
export const resume = Effect.fn("Commands.resume")(function*(idOrPrefix: string) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const id = yield* ExecutionIds.resolve(engine, idOrPrefix)
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
export const cancel = Effect.fn("Commands.cancel")(function*(idOrPrefix: string) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const id = yield* ExecutionIds.resolve(engine, idOrPrefix)
  yield* engine.cancel(id)
  yield* say(chat, `Cancelled execution ${id}`, { cancelled: id })
  return done
})

/**
 * Answers an approval, then shows the run going on. Approving a plan runs it. Without an execution, the
 * only approval waiting is answered; without a task, the one the execution waits for. Where that is not
 * one approval, the command is refused, listing the approvals waiting.
 *
 * @since 0.1.0
 * @category operations
 */
export const approve = Effect.fn("Commands.approve")(
  function*(idOrPrefix: string | undefined, task: string | undefined, answer: Workflow.ApprovalAnswer) {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const chat = yield* ChatAdapter.ChatAdapter
    const { id, taskId } = yield* approvalNamed(idOrPrefix, task)
    const before = yield* engine.status(id)
    // The runs that started this one, as they are now: shown going on after it.
    const parents = yield* ExecutionIds.ancestors(engine, before)
    yield* engine.approve(id, taskId, answer)
    if (chat.json !== true) yield* chat.systemLine(`Answered "${taskId}" of ${id}: ${answer.status}`)
    return yield* goingOn(before, parents)
  }
)

/**
 * Sends a signal; an execution that waited for it is shown going on, as after an approval.
 *
 * @since 0.2.0
 * @category operations
 */
export const signal = Effect.fn("Commands.signal")(function*(idOrPrefix: string, name: string, payload: unknown) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const id = yield* ExecutionIds.resolve(engine, idOrPrefix)
  const before = yield* engine.status(id)
  const parents = yield* ExecutionIds.ancestors(engine, before)
  yield* engine.signal(id, name, payload)
  if (chat.json !== true) yield* chat.systemLine(`Sent signal "${name}" to ${id}`)
  return before.status === "waiting" && before.waitingFor === `signal:${name}` ? yield* goingOn(before, parents) : done
})

/**
 * Starts a fork of an execution from a root step (`engine.fork`) and shows it.
 *
 * @since 0.2.0
 * @category operations
 */
export const fork = Effect.fn("Commands.fork")(function*(idOrPrefix: string, fromStep: number) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const id = yield* ExecutionIds.resolve(engine, idOrPrefix)
  const handle = yield* engine.fork(id, { fromStep })
  if (chat.json !== true) yield* chat.systemLine(`Forked ${id} from step ${fromStep} as execution ${handle.id}`)
  return runResult(handle.id)(yield* render(handle.id))
})

/** Shows a run going on after it was answered, then the runs that started it as they go on with it. */
const goingOn = (before: ExecutionStorage.ExecutionRecord, parents: ReadonlyArray<ExecutionStorage.ExecutionRecord>) =>
  Effect.gen(function*() {
    let result = yield* follow(before.id, before.lastSeq + 1)
    let child = before.id
    for (const parent of parents) {
      // Going on with its child: running (a step awaiting it), or waiting for its end (`Workflow.child`).
      const goesOn = parent.status === "running" || parent.waitingFor === `signal:child:${child}`
      const stopped = result._tag !== "Run" || result.outcome._tag === "Waiting" || result.outcome._tag === "Suspended"
      if (stopped || !goesOn) break
      result = yield* follow(parent.id, parent.lastSeq + 1)
      child = parent.id
    }
    return result
  })

/** The approval an `approve` names, in full or in part (see `approve`). */
const approvalNamed = (idOrPrefix: string | undefined, taskId: string | undefined) =>
  Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    if (idOrPrefix !== undefined) {
      const id = yield* ExecutionIds.resolve(engine, idOrPrefix)
      if (taskId !== undefined) return { id, taskId }
      const waiting = ExecutionIds.approvalOf(yield* engine.status(id))
      if (waiting !== undefined) return { id, taskId: waiting.taskId }
      return yield* Effect.fail(CommandLine.usageError("workflow", `${id} is not waiting for an approval`))
    }
    const waiting = yield* ExecutionIds.waitingApprovals(engine, 20)
    const [only] = waiting
    if (waiting.length === 1 && only !== undefined) return { id: only.executionId, taskId: only.taskId }
    return yield* Effect.fail(
      waiting.length === 0
        ? CommandLine.usageError("workflow", "No approval is waiting")
        : new CommandLine.UsageError({
          message: "More than one approval is waiting: name the execution",
          usage: waiting.map(({ executionId, taskId, workflow }) => `  ${executionId}  ${taskId}  (${workflow})`)
        })
    )
  })

/**
 * Shows an execution from `fromSeq` (default: its first event). A plan's
 * run ends with its report; an approved plan is followed into its run.
 */
const follow = (
  id: string,
  fromSeq?: number
): Effect.Effect<
  Result,
  ChatAdapter.RenderError,
  WorkflowEngine.WorkflowEngine | ChatAdapter.ChatAdapter | ChatAdapter.Debug
> =>
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
    return yield* Effect.fail(CommandLine.usageError("apply", "No plan to apply: make one with /plan <prompt>"))
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

/**
 * Shows the debug flag, setting it first when `on` is given.
 *
 * @since 0.2.0
 * @category operations
 */
export const debug = Effect.fn("Commands.debug")(function*(on?: boolean) {
  const chat = yield* ChatAdapter.ChatAdapter
  const flag = yield* ChatAdapter.Debug
  if (on !== undefined) yield* flag.setDebug(on)
  const now = yield* flag.debug
  yield* say(chat, `Debug is ${now ? "on" : "off"}`, { debug: now })
  return done
})

const when = (ms: number) => new Date(ms).toISOString()

/** A schedule in one line: name, workflow, expression (and zone), next tick or paused, last execution. */
const scheduleLine = (schedule: ExecutionStorage.ScheduleRecord) =>
  `${schedule.name}  ${schedule.workflow}  "${schedule.cron}"` +
  (schedule.timezone !== undefined ? ` ${schedule.timezone}` : "") +
  (schedule.paused ? "  paused" : `  next ${when(schedule.nextAt)}`) +
  (schedule.lastExecution !== undefined ? `  last ${schedule.lastExecution}` : "")

/**
 * Stores a schedule (`engine.schedule`) and shows it.
 *
 * @since 0.2.0
 * @category operations
 */
export const schedule = Effect.fn("Commands.schedule")(function*(
  command: Omit<CommandLine.Command & { readonly _tag: "Schedule" }, "_tag">
) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const stored = yield* engine.schedule({
    name: command.name,
    cron: command.cron,
    workflow: command.workflow,
    input: command.input,
    ...(command.timezone !== undefined ? { timezone: command.timezone } : {}),
    ...(command.missed !== undefined ? { missed: command.missed } : {})
  })
  yield* say(chat, `Scheduled ${scheduleLine(stored)}`, stored)
  return done
})

/**
 * @since 0.2.0
 * @category operations
 */
export const schedules = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const schedules = yield* engine.schedules
  if (schedules.length === 0 && chat.json !== true) yield* chat.systemLine("No schedules.")
  for (const schedule of schedules) yield* say(chat, scheduleLine(schedule), schedule)
  return done
})

const said = { pause: "Paused", resume: "Resumed", remove: "Removed" } as const

/**
 * Pauses, resumes or removes a schedule.
 *
 * @since 0.2.0
 * @category operations
 */
export const scheduleControl = Effect.fn("Commands.scheduleControl")(function*(
  action: "pause" | "resume" | "remove",
  name: string
) {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const chat = yield* ChatAdapter.ChatAdapter
  const steer = { pause: engine.pauseSchedule, resume: engine.resumeSchedule, remove: engine.unschedule }[action]
  yield* steer(name)
  yield* say(chat, `${said[action]} schedule ${name}`, {
    schedule: name,
    [action === "remove" ? "removed" : action === "pause" ? "paused" : "resumed"]: true
  })
  return done
})

/**
 * Runs a command read by `CommandLine.parse`.
 *
 * @since 0.2.0
 * @category commands
 */
export const perform: (command: CommandLine.Command) => Effect.Effect<Result, unknown, Requirements> = CommandLine
  .Command.$match({
    Help: ({ name }) => help(name),
    List: () => list,
    Run: ({ input, workflow }) => run(workflow, input),
    Debug: ({ on }) => debug(on),
    Status: ({ id }) => status(id),
    Events: ({ fromSeq, id }) => events(id, fromSeq),
    Watch: ({ fromSeq, id }) => watch(id, fromSeq),
    Executions: ({ filter }) => executions(filter),
    Resume: ({ id }) => resume(id),
    Cancel: ({ id }) => cancel(id),
    Approve: ({ answer, id, taskId }) => approve(id, taskId, answer),
    Signal: ({ id, name, payload }) => signal(id, name, payload),
    Fork: ({ fromStep, id }) => fork(id, fromStep),
    Schedule: (command) => schedule(command),
    Schedules: () => schedules,
    ScheduleControl: ({ action, name }) => scheduleControl(action, name),
    Plan: ({ prompt }) => plan(prompt),
    Apply: () => apply,
    Analyze: ({ options, prompt }) => analyze(prompt, options)
  })

/**
 * Runs a command from its text (the part after `/name `). Every failure is
 * written as an error line (with the usage for a malformed command) and
 * returned as `Rejected`.
 *
 * @since 0.1.0
 * @category commands
 */
export const execute = (name: Name, remainder: string): Effect.Effect<Result, never, Requirements> =>
  handled(Effect.flatMap(CommandLine.parse(name, remainder), perform)).pipe(
    Effect.withSpan("Commands.execute", { attributes: { command: name } })
  )

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
      if (error instanceof CommandLine.UsageError) { for (const line of error.usage) yield* chat.systemLine(line) }
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
  const command = CommandLine.split(line)
  return command === undefined ? undefined : execute(command.name, command.remainder)
}
