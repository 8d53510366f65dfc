/**
 * The built-in planning workflows behind `/plan`, `/apply` and `/analyze`:
 *
 * - `task-planner` plans a prompt (a journaled step), asks for approval
 *   (`human_approval_required`, task id `apply-plan`) and, when approved,
 *   starts `plan-executor` on the plan as a child execution;
 * - `plan-executor` runs each task as a journaled step: a task that names a
 *   registered workflow runs it as a child execution, any other goes to the
 *   task executor. A failed task is reported (a `warn` log and a `failed`
 *   outcome) and the next one runs; a crash resumes at the first task not
 *   journaled;
 * - `prompt-analyzer` scores a prompt and either executes it directly or
 *   plans it and runs the plan.
 *
 * Each takes a `model` (a name in `Models`); the built-in services are used
 * when no model is configured.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Analyzer from "./Analyzer.js"
import { messageOf } from "./internal/message.js"
import { prototypeKeyPath, prototypeKeyReason } from "./internal/prototypeKeys.js"
import * as TextTasks from "./internal/textTasks.js"
import * as Models from "./Models.js"
import * as Plan from "./Plan.js"
import * as Planner from "./Planner.js"
import * as TaskExecutor from "./TaskExecutor.js"
import * as Workflow from "./Workflow.js"
import * as WorkflowEngine from "./WorkflowEngine.js"

/**
 * @since 0.1.0
 * @category constants
 */
export const TASK_PLANNER = "task-planner"

/**
 * @since 0.1.0
 * @category constants
 */
export const PLAN_EXECUTOR = "plan-executor"

/**
 * @since 0.1.0
 * @category constants
 */
export const PROMPT_ANALYZER = "prompt-analyzer"

/**
 * The task id of the planner's approval request.
 *
 * @since 0.1.0
 * @category constants
 */
export const APPROVAL_TASK = "apply-plan"

const builtinNames: ReadonlyArray<string> = [TASK_PLANNER, PLAN_EXECUTOR, PROMPT_ANALYZER]

/**
 * The id of the child execution `parent` starts for `part`: fixed, so a
 * replayed parent finds the child it started instead of starting another.
 *
 * @since 0.1.0
 * @category models
 */
export const childId = (parent: string, part: string): string => `${parent}.${part}`

const ModelName = Schema.optional(Schema.NonEmptyTrimmedString)

/**
 * Runs `f` with one of a model's services. The model is looked up when the
 * step runs, not when the run starts, so a replay whose steps are all
 * journaled needs no model at all.
 */
const withModel = <I extends Models.Services, S, A, E>(
  model: string | undefined,
  tag: Context.Tag<I, S>,
  f: (service: S) => Effect.Effect<A, E>
) =>
  Effect.flatMap(
    Effect.flatMap(Models.Models, (models) => models.use(model)),
    (context) => f(Context.get(context, tag))
  )

/** The model a run uses: the one it names, else the default here (recorded in what it starts, so children agree). */
const modelName = (model: string | undefined) =>
  model !== undefined ? Effect.succeed(model) : Effect.map(Models.Models, (models) => models.default)

/**
 * Runs a child execution (`Workflow.child`, by name) and waits for its
 * output durably: the parent waits with no process holding it, and the
 * child's end resumes it. A replayed parent finds the child it started (its
 * id is fixed, `childId`, and journaled). An input with a `__proto__` key
 * (from a prompt, a model or code) fails the task instead: decoded, it would
 * hand the workflow hidden fields.
 */
const runChild = (workflow: string, input: unknown, executionId: string) =>
  Effect.suspend((): Effect.Effect<unknown, unknown, Workflow.ExecutionContext> => {
    const unsafe = prototypeKeyPath(input)
    return unsafe !== undefined
      ? new TaskExecutor.TaskFailed({ task: workflow, reason: prototypeKeyReason(unsafe) })
      : Workflow.child(workflow, input, { id: executionId })
  })

const candidates = Effect.map(
  Effect.flatMap(WorkflowEngine.WorkflowEngine, (engine) => engine.list),
  (workflows) => workflows.filter((workflow) => !builtinNames.includes(workflow.name))
)

const planSchema: Schema.Schema<Plan.Plan, any> = Plan.Plan

/** The journaled planning step: the registered workflows are offered to the planner. */
const planStep = (prompt: string, model: string) => {
  const planned = Effect.flatMap(
    candidates,
    (workflows) => withModel(model, Planner.Planner, (planner) => planner.plan({ prompt, workflows }))
  )
  return Workflow.step("plan", planned, { input: { prompt }, success: planSchema })
}

/**
 * @since 0.1.0
 * @category schemas
 */
export const PlannerInput = Schema.Struct({ prompt: Schema.NonEmptyTrimmedString, model: ModelName })

/**
 * @since 0.1.0
 * @category schemas
 */
export const PlannerOutput = Schema.Struct({
  plan: Plan.Plan,
  approved: Schema.Boolean,
  /** The `plan-executor` execution running the plan, once approved. */
  execution: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category workflows
 */
export const taskPlanner = Workflow.make({
  name: TASK_PLANNER,
  description: "Plans a prompt into tasks, asks for approval, then runs the plan",
  input: PlannerInput,
  output: PlannerOutput,
  run: ({ model, prompt }) =>
    Effect.gen(function*() {
      const name = yield* modelName(model)
      const plan = yield* planStep(prompt, name)
      const answer = yield* Workflow.approval({
        taskId: APPROVAL_TASK,
        dataForApproval: Schema.encodeSync(Plan.Plan)(plan),
        message: `Apply this plan of ${plan.tasks.length} task${plan.tasks.length === 1 ? "" : "s"}?`,
        choices: ["approved", "rejected"]
      })
      if (answer.status !== "approved") return { plan, approved: false }
      const { executionId } = yield* Workflow.ExecutionContext
      const execution = childId(executionId, "apply")
      yield* Workflow.step(
        "apply",
        Effect.flatMap(WorkflowEngine.WorkflowEngine, (engine) =>
          Effect.map(
            engine.start(PLAN_EXECUTOR, { prompt, tasks: plan.tasks, model: name }, { executionId: execution }),
            // What the journal keeps: the id (a handle is not data).
            (handle) => handle.id
          )),
        { input: { execution } }
      )
      return { plan, approved: true, execution }
    })
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const ExecutorInput = Schema.Struct({
  prompt: Schema.String,
  tasks: Schema.Array(Plan.Task).pipe(Schema.minItems(1)),
  model: ModelName
})

const runTask = (
  task: Plan.Task,
  number: string,
  prompt: string,
  model: string | undefined
): Effect.Effect<Plan.TaskOutcome, never, Workflow.ExecutionContext | WorkflowEngine.WorkflowEngine | Models.Models> =>
  Effect.gen(function*() {
    const { executionId } = yield* Workflow.ExecutionContext
    const execution = task.workflow !== undefined ? childId(executionId, `task-${number}`) : undefined
    const work: Effect.Effect<
      unknown,
      unknown,
      WorkflowEngine.WorkflowEngine | Workflow.ExecutionContext | Models.Models
    > = task.workflow !== undefined
      ? runChild(task.workflow.name, task.workflow.input ?? {}, execution!)
      : task.subtasks !== undefined && task.subtasks.length > 0
      ? runSubtasks(task.subtasks, number, prompt, model)
      : withModel(model, TaskExecutor.TaskExecutor, (executor) => executor.execute(task, prompt))
    // The step fails with the reason, so the run shows the task as failed; the plan goes on.
    const attempt: Effect.Effect<
      unknown,
      string,
      WorkflowEngine.WorkflowEngine | Workflow.ExecutionContext | Models.Models
    > = Effect
      .mapError(work, messageOf)
    const result = yield* Effect.either(
      Workflow.step(`task ${number}: ${task.intent}`, attempt, {
        // `child` names the execution the step waits on, so a chat shows that run inside the step.
        input: execution !== undefined ? { ...task, child: execution } : task,
        error: Schema.String
      })
    )
    if (Either.isLeft(result)) yield* Workflow.log("warn", `Task ${number} (${task.intent}) failed: ${result.left}`)
    return {
      index: Number(number.split(".").pop()) - 1,
      intent: task.intent,
      ...(execution !== undefined ? { executionId: execution } : {}),
      ...(Either.isRight(result)
        ? { status: "completed" as const, output: result.right }
        : { status: "failed" as const, error: result.left })
    }
  })

/** Runs subtasks as nested steps; fails when any of them failed. */
const runSubtasks = (
  subtasks: ReadonlyArray<Plan.Task>,
  number: string,
  prompt: string,
  model: string | undefined
) =>
  Effect.gen(function*() {
    const outcomes: Array<Plan.TaskOutcome> = []
    for (const [i, subtask] of subtasks.entries()) {
      outcomes.push(yield* runTask(subtask, `${number}.${i + 1}`, prompt, model))
    }
    const failed = outcomes.filter((outcome) => outcome.status === "failed").length
    return failed === 0 ? outcomes : yield* Effect.fail(`${failed} of ${outcomes.length} subtasks failed`)
  })

/**
 * Runs a plan's tasks in order; one failing does not stop the others.
 *
 * @since 0.1.0
 * @category workflows
 */
export const planExecutor = Workflow.make({
  name: PLAN_EXECUTOR,
  description: "Runs a plan: each task a journaled step, registered workflows as child executions",
  input: ExecutorInput,
  output: Plan.Report,
  run: ({ model, prompt, tasks }) =>
    Effect.gen(function*() {
      const outcomes: Array<Plan.TaskOutcome> = []
      for (const [i, task] of tasks.entries()) {
        outcomes.push(yield* runTask(task, String(i + 1), prompt, model))
      }
      const failed = outcomes.filter((outcome) => outcome.status === "failed").length
      return { outcomes, completed: outcomes.length - failed, failed }
    })
})

/**
 * The `k=v` options of `/analyze`. Unknown keys are refused.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AnalyzerOptions = Schema.Struct({
  /** A name in `Models`; `builtin` forces the built-in services. */
  model: ModelName,
  /** `auto` (default) follows the analysis; `always` plans, `never` executes directly. */
  plan: Schema.optional(Schema.Literal("auto", "always", "never"))
}).annotations({ parseOptions: { onExcessProperty: "error" } })

/**
 * @since 0.1.0
 * @category schemas
 */
export const AnalyzerInput = Schema.Struct({
  prompt: Schema.NonEmptyTrimmedString,
  options: Schema.optional(AnalyzerOptions)
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const AnalyzerOutput = Schema.Struct({
  analysis: Analyzer.Analysis,
  approach: Schema.Literal("direct", "plan"),
  /** The task executor's output, when executed directly. */
  output: Schema.optional(Schema.Unknown),
  /** The plan's report, when planned. */
  report: Schema.optional(Plan.Report),
  execution: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category workflows
 */
export const promptAnalyzer = Workflow.make({
  name: PROMPT_ANALYZER,
  description: "Scores a prompt's complexity, then executes it directly or plans and applies subtasks",
  input: AnalyzerInput,
  output: AnalyzerOutput,
  run: ({ options = {}, prompt }) =>
    Effect.gen(function*() {
      const model = yield* modelName(options.model)
      const analysis = yield* Workflow.step(
        "analyze",
        withModel(model, Analyzer.Analyzer, (analyzer) => analyzer.analyze(prompt)),
        { input: { prompt } }
      )
      const approach = options.plan === "always" ? "plan" : options.plan === "never" ? "direct" : analysis.approach
      yield* Workflow.log(
        "info",
        `Complexity ${analysis.complexity}/10 (${analysis.reasons.join("; ")}): ${
          approach === "plan" ? "planning subtasks" : "executing directly"
        }`
      )
      if (approach === "direct") {
        // One task: a registered workflow the prompt names, else the task executor.
        const workflow = TextTasks.matchWorkflow(prompt, (yield* candidates).map((w) => w.name))
        const task: Plan.Task = {
          intent: TextTasks.intentOf(prompt),
          description: prompt,
          ...(workflow !== undefined ? { workflow: { name: workflow, input: TextTasks.inputOf(prompt) ?? {} } } : {})
        }
        const outcome = yield* runTask(task, "1", prompt, model)
        if (outcome.status === "failed") {
          return yield* new TaskExecutor.TaskFailed({ task: task.intent, reason: outcome.error ?? "failed" })
        }
        return { analysis, approach, output: outcome.output }
      }
      const plan = yield* planStep(prompt, model)
      const { executionId } = yield* Workflow.ExecutionContext
      const execution = childId(executionId, "apply")
      const report = yield* Workflow.step(
        "apply",
        runChild(PLAN_EXECUTOR, {
          prompt,
          tasks: Schema.encodeSync(Schema.Array(Plan.Task))(plan.tasks),
          model
        }, execution),
        { input: { child: execution } }
      )
      return { analysis, approach, report: report as Plan.Report, execution }
    })
})

/**
 * Registers the three workflows with the engine.
 *
 * @since 0.1.0
 * @category registration
 */
export const register: Effect.Effect<
  void,
  WorkflowEngine.WorkflowAlreadyRegistered,
  WorkflowEngine.WorkflowEngine | Models.Models
> = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  yield* engine.register(taskPlanner)
  yield* engine.register(planExecutor)
  yield* engine.register(promptAnalyzer)
})

/**
 * The plan a `task-planner` execution is waiting to have approved, if it is
 * waiting for that: its question is its last stored event.
 *
 * @since 0.1.0
 * @category plans
 */
export const waitingPlan = (executionId: string) =>
  Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const record = yield* engine.status(executionId)
    if (record.workflow !== TASK_PLANNER || record.status !== "waiting") return Option.none()
    // A waiting execution's stream does not end: read its last event only.
    const last = yield* Stream.runHead(engine.events(executionId, { fromSeq: record.lastSeq }))
    return Option.all({
      input: Schema.decodeUnknownOption(PlannerInput)(record.input),
      plan: Option.flatMap(last, (event) =>
        event.type === "human_approval_required" && event.taskId === APPROVAL_TASK
          ? Schema.decodeUnknownOption(Plan.Plan)(event.dataForApproval)
          : Option.none())
    }).pipe(Option.map(({ input, plan }) => ({ executionId, prompt: input.prompt, plan })))
  })

/**
 * The plan waiting for approval: that of the newest `task-planner`
 * execution in status `waiting`, read from storage (so it survives a
 * restart).
 *
 * @since 0.1.0
 * @category plans
 */
export const pending = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const page = yield* engine.executions({ workflow: TASK_PLANNER, status: "waiting", limit: 1 })
  const execution = page.executions[0]
  return execution === undefined ? Option.none() : yield* waitingPlan(execution.id)
})
