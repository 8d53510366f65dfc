/**
 * Plans: what `/plan` makes and `/apply` runs. A plan is a list of tasks;
 * a task either names a registered workflow (run as a child execution) or is
 * free text for the task executor.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * @since 0.1.0
 * @category models
 */
export interface Task {
  /** A short label: what the task is for. */
  readonly intent: string
  /** What to do, in full. */
  readonly description: string
  readonly subtasks?: ReadonlyArray<Task> | undefined
  /** Runs this registered workflow with this input instead of the task executor. */
  readonly workflow?: { readonly name: string; readonly input?: unknown } | undefined
}

/**
 * @since 0.1.0
 * @category schemas
 */
export const Task: Schema.Schema<Task> = Schema.Struct({
  intent: Schema.NonEmptyTrimmedString,
  description: Schema.String,
  subtasks: Schema.optional(Schema.Array(Schema.suspend((): Schema.Schema<Task> => Task))),
  workflow: Schema.optional(Schema.Struct({
    name: Schema.NonEmptyTrimmedString,
    input: Schema.optional(Schema.Unknown)
  }))
}).annotations({ identifier: "Task" })

/**
 * @since 0.1.0
 * @category schemas
 */
export const Plan = Schema.Struct({
  tasks: Schema.Array(Task).pipe(Schema.minItems(1))
}).annotations({ identifier: "Plan" })

/**
 * @since 0.1.0
 * @category models
 */
export type Plan = typeof Plan.Type

/**
 * What happened to one task of an applied plan.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskOutcome = Schema.Struct({
  index: Schema.Number,
  intent: Schema.String,
  status: Schema.Literal("completed", "failed"),
  output: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.String),
  /** The child execution, when the task ran a registered workflow. */
  executionId: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export type TaskOutcome = typeof TaskOutcome.Type

/**
 * The output of `plan-executor`: one outcome per task, in plan order.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Report = Schema.Struct({
  outcomes: Schema.Array(TaskOutcome),
  completed: Schema.Number,
  failed: Schema.Number
})

/**
 * @since 0.1.0
 * @category models
 */
export type Report = typeof Report.Type

/**
 * The plan as numbered lines, subtasks indented, for a chat or a terminal.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (plan: { readonly tasks: ReadonlyArray<Task> }): ReadonlyArray<string> => {
  const lines: Array<string> = []
  const walk = (tasks: ReadonlyArray<Task>, prefix: string, indent: string) =>
    tasks.forEach((task, i) => {
      const number = `${prefix}${i + 1}`
      const target = task.workflow !== undefined
        ? ` → workflow ${task.workflow.name}${
          task.workflow.input !== undefined ? ` ${JSON.stringify(task.workflow.input)}` : ""
        }`
        : ""
      const detail = task.description !== "" && task.description !== task.intent ? `: ${task.description}` : ""
      lines.push(`${indent}${number}. ${task.intent}${detail}${target}`)
      if (task.subtasks !== undefined) walk(task.subtasks, `${number}.`, `${indent}   `)
    })
  walk(plan.tasks, "", "")
  return lines
}
