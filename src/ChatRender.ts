/**
 * How a run reads in a chat: the lines one event of it becomes, and the
 * summary of a stored execution. Pure text; `ChatAdapter.render` writes these
 * lines as it follows a run.
 *
 * @since 0.2.0
 */
import type * as ChatAdapter from "./ChatAdapter.js"
import type * as ExecutionStorage from "./ExecutionStorage.js"
import * as Message from "./internal/message.js"
import type * as WorkflowEvent from "./WorkflowEvent.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface EventOptions {
  /** The execution the event belongs to, named in the command that answers an approval. */
  readonly executionId: string
  /** Show `debug` logs, step inputs and outputs, schemas and whole outputs. */
  readonly debug?: boolean | undefined
  /** The event as one JSON line instead of prose. */
  readonly json?: boolean | undefined
  /** Show the final output (default true). */
  readonly output?: boolean | undefined
  /**
   * Hints name one-shot commands (`token-ring-workflow approve ...`) instead of chat commands.
   *
   * @since 0.2.0
   */
  readonly commandLine?: boolean | undefined
}

/** A command to type next, in the form the reader types commands in. */
const hint = (options: EventOptions, command: string) =>
  options.commandLine === true ? `token-ring-workflow ${command}` : `/workflow ${command}`

const system = (text: string): ChatAdapter.Line => ({ kind: "system", text })
const warning = (text: string): ChatAdapter.Line => ({ kind: "warning", text })
const error = (text: string): ChatAdapter.Line => ({ kind: "error", text })

const milliseconds = (ms: number | undefined) => (ms === undefined ? "" : ` (${Math.round(ms)} ms)`)

/** Long outputs are cut in a chat line unless debugging. */
const OUTPUT_LIMIT = 500

/**
 * The lines one event is shown as (none for an event that is not shown with
 * these options).
 *
 * @since 0.2.0
 * @category rendering
 */
export const eventLines = (
  event: WorkflowEvent.StoredEvent,
  options: EventOptions
): ReadonlyArray<ChatAdapter.Line> => {
  if (options.json) return [system(JSON.stringify(event))]
  const name = event.runnableName ?? "step"
  const show = Message.show
  switch (event.type) {
    case "step_start":
      return [system(`▶ ${name}${options.debug && event.input !== undefined ? ` ${show(event.input)}` : ""}`)]
    case "step_end": {
      if (event.error !== undefined) {
        return [error(`✗ ${name}${milliseconds(event.durationMs)}: ${Message.messageOf(event.error)}`)]
      }
      const output = options.debug && event.output !== undefined ? ` → ${show(event.output)}` : ""
      return [system(`✓ ${name}${milliseconds(event.durationMs)}${output}`)]
    }
    case "log": {
      if (event.level === "debug" && !options.debug) return []
      const text = `${event.level === "info" ? "" : `[${event.level}] `}${event.message}`
      return [event.level === "error" ? error(text) : event.level === "warn" ? warning(text) : system(text)]
    }
    case "output_chunk":
      return [system(`… ${show(event.data)}`)]
    case "schema_definition":
      return options.debug ? [system(`schema: ${show(event.schema)}`)] : []
    case "final_output": {
      if (options.output === false) return []
      const text = show(event.data)
      return [
        system(`Output: ${options.debug || text.length <= OUTPUT_LIMIT ? text : `${text.slice(0, OUTPUT_LIMIT)}…`}`)
      ]
    }
    case "workflow_error":
      return [error(`Error: ${event.error.name}: ${event.error.message}`)]
    case "human_approval_required": {
      const choices = event.choices !== undefined ? ` [${event.choices.join("|")}]` : ""
      return [
        warning(
          `? ${event.message ?? `Approval needed for "${event.taskId}"`}${choices} — ` +
            hint(options, `approve ${options.executionId} ${event.taskId} approved|rejected [feedback]`)
        )
      ]
    }
    case "human_approval_completed": {
      const feedback = event.feedback !== undefined ? `: ${event.feedback}` : ""
      return [system(`Approval "${event.taskId}": ${event.status}${feedback}`)]
    }
    case "wait_started": {
      const until = event.wakeAt === undefined ? "" : ` until ${new Date(event.wakeAt).toISOString()}`
      return [
        event.wait === "sleep"
          ? system(`⏸ sleeping${until}`)
          : event.wait === "child"
          ? system(`⏸ waiting for child ${event.name}`)
          : warning(
            `⏸ waiting for signal "${event.name}"${until} — ` +
              hint(
                options,
                options.commandLine === true
                  ? `signal ${options.executionId} ${event.name} --payload <json>`
                  : `signal ${options.executionId} ${event.name} <json>`
              )
          )
      ]
    }
    case "wait_ended":
      return [
        system(
          event.wait === "sleep"
            ? "⏵ woke up"
            : event.wait === "child"
            ? `⏵ child ${event.name} ended`
            : event.timedOut === true
            ? `⏵ no signal "${event.name}" in time`
            : `⏵ received signal "${event.name}"`
        )
      ]
    case "signal_received":
      return [system(`✉ signal "${event.name}"${options.debug ? ` ${show(event.payload)}` : ""}`)]
    case "child_started":
      return [system(`⤷ child ${event.executionId} (${event.workflow})`)]
  }
}

/**
 * A stored execution in a few lines: what `/workflow status` shows.
 *
 * @since 0.2.0
 * @category rendering
 */
export const recordLines = (record: ExecutionStorage.ExecutionRecord): ReadonlyArray<string> => [
  `${record.id}  ${record.workflow}  ${record.status}`,
  `  created ${new Date(record.createdAt).toISOString()}, updated ${new Date(record.updatedAt).toISOString()}, ` +
  `${record.lastSeq} events`,
  ...(record.leaseUntil !== undefined
    ? [`  claimed by a process until ${new Date(record.leaseUntil).toISOString()}`]
    : []),
  ...(record.waitingFor !== undefined
    ? [
      `  waiting for ${record.waitingFor}${
        record.wakeAt !== undefined ? ` until ${new Date(record.wakeAt).toISOString()}` : ""
      }`
    ]
    : []),
  ...(record.output !== undefined ? [`  output: ${Message.show(record.output)}`] : []),
  ...(record.error !== undefined ? [`  error: ${record.error.name}: ${record.error.message}`] : [])
]
