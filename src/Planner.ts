/**
 * The planner: turns a prompt into a `Plan`. Two implementations: over a
 * `LanguageModel` from `@effect/ai` (structured output decoded by the Plan
 * Schema), and a deterministic built-in one used when no model is configured.
 *
 * @since 0.1.0
 */
import type { LanguageModel } from "@effect/ai"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as LanguageModelService from "./internal/languageModel.js"
import * as TextTasks from "./internal/textTasks.js"
import * as Plan from "./Plan.js"

/**
 * A workflow the planner may route a task to.
 *
 * @since 0.1.0
 * @category models
 */
export interface Candidate {
  readonly name: string
  readonly description?: string | undefined
  /** Reads the text after the workflow's name in a task (a Runnable's `parseArgs`). */
  readonly parseArgs?: ((args: string) => unknown) | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PlanRequest {
  readonly prompt: string
  readonly workflows: ReadonlyArray<Candidate>
}

/**
 * The planner could not make a plan from the prompt.
 *
 * @since 0.1.0
 * @category errors
 */
export class PlanningFailed extends Schema.TaggedError<PlanningFailed>()("PlanningFailed", {
  prompt: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Could not plan "${this.prompt}": ${this.reason}`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PlannerService {
  readonly plan: (request: PlanRequest) => Effect.Effect<Plan.Plan, PlanningFailed>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Planner extends Context.Tag("@token-ring/workflow/Planner")<Planner, PlannerService>() {}

const toTask = (task: TextTasks.TextTask, workflows: ReadonlyArray<Candidate>): Plan.Task => {
  const name = TextTasks.matchWorkflow(task.text, workflows.map((workflow) => workflow.name))
  const input = name === undefined
    ? undefined
    : TextTasks.inputOf(task.text) ?? argsInput(task.text, workflows.find((workflow) => workflow.name === name)!)
  return {
    intent: TextTasks.intentOf(task.text),
    description: task.text,
    ...(task.children.length > 0 ? { subtasks: task.children.map((child) => toTask(child, workflows)) } : {}),
    ...(name !== undefined ? { workflow: input === undefined ? { name } : { name, input } } : {})
  }
}

/** The input `parseArgs` reads from the words after the workflow's name, if it can. */
const argsInput = (text: string, workflow: Candidate): unknown => {
  if (workflow.parseArgs === undefined) return undefined
  try {
    return workflow.parseArgs(TextTasks.argsAfter(text, workflow.name))
  } catch {
    return undefined
  }
}

/**
 * The built-in planner: numbered or bulleted items (nested by indentation, at most 16 levels)
 * become tasks and subtasks, a paragraph above a list the task they detail;
 * without a list, sequencing words ("then", "after that", "finally", ";")
 * split the prompt, never inside quotes or `{…}`. A task that names a
 * registered workflow (see `matchWorkflow`) runs that workflow, with the
 * JSON object or `key=value` pairs written in the task as its input, else
 * what the workflow's `parseArgs` reads from the words after its name.
 *
 * @since 0.1.0
 * @category constructors
 */
export const builtin: PlannerService = {
  plan: ({ prompt, workflows }) => {
    const tasks = TextTasks.splitTasks(prompt).map((task) => toTask(task, workflows))
    if (tasks.length === 0) {
      const reason = prompt.trim() === "" ? "the prompt is empty" : "the prompt names no task"
      return Effect.fail(new PlanningFailed({ prompt, reason }))
    }
    // Decoded, not `make`: a plan the rules get wrong is a PlanningFailed, not a defect thrown here.
    return Schema.decodeUnknown(Plan.Plan)({ tasks }).pipe(
      Effect.mapError((error) => new PlanningFailed({ prompt, reason: error.message }))
    )
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerBuiltin: Layer.Layer<Planner> = Layer.succeed(Planner, builtin)

const instructions = (request: PlanRequest) =>
  [
    "Break the user's request into an ordered plan of tasks.",
    "Each task has a short `intent`, a full `description`, optional `subtasks`,",
    "and, only when one of the registered workflows below does the task, `workflow: { name, input }`.",
    request.workflows.length === 0
      ? "No workflows are registered."
      : `Registered workflows:\n${
        request.workflows.map((w) => `- ${w.name}${w.description !== undefined ? `: ${w.description}` : ""}`).join("\n")
      }`,
    `Request: ${request.prompt}`
  ].join("\n")

/**
 * A planner over the `LanguageModel` in context: the plan is the model's
 * structured output, decoded by the Plan Schema. Workflow names the model
 * invents are dropped (the task goes to the task executor instead).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeLanguageModel: Effect.Effect<PlannerService, never, LanguageModel.LanguageModel> = Effect.map(
  LanguageModelService.service,
  (model) => ({
    plan: (request) =>
      model.generateObject({ prompt: instructions(request), schema: Plan.Plan, objectName: "plan" }).pipe(
        Effect.map((response) => Plan.Plan.make({ tasks: response.value.tasks.map((task) => known(task, request)) })),
        Effect.mapError((error) => new PlanningFailed({ prompt: request.prompt, reason: error.message })),
        Effect.withSpan("Planner.plan")
      )
  })
)

const known = (task: Plan.Task, request: PlanRequest): Plan.Task => {
  const { subtasks, workflow, ...rest } = task
  return {
    ...rest,
    ...(subtasks !== undefined ? { subtasks: subtasks.map((sub) => known(sub, request)) } : {}),
    ...(workflow !== undefined && request.workflows.some((w) => w.name === workflow.name) ? { workflow } : {})
  }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerLanguageModel: Layer.Layer<Planner, never, LanguageModel.LanguageModel> = Layer.effect(
  Planner,
  makeLanguageModel
)
