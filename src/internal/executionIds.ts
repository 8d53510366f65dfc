/**
 * Execution ids as people type them: a whole id, or a prefix that only one
 * execution's id starts with; and the approvals waiting for an answer, for
 * an `approve` that names no execution or no task.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { ExecutionRecord } from "../ExecutionStorage.js"
import type { StorageFailure, WorkflowEngineService } from "../WorkflowEngine.js"
import type { ExecutionNotFound, InvalidCursor } from "./storage/service.js"

/** Candidates shown when a prefix names several executions. */
const SHOWN = 10

/**
 * A prefix that more than one execution's id starts with.
 */
export class AmbiguousExecutionId extends Schema.TaggedError<AmbiguousExecutionId>()("AmbiguousExecutionId", {
  prefix: Schema.String,
  candidates: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `"${this.prefix}" is the start of more than one execution id: ${this.candidates.join(", ")}` +
      (this.candidates.length >= SHOWN ? ", ..." : "")
  }
}

/** The id `text` names: itself if an execution has it, else the only id it starts. */
export const resolve = (
  engine: WorkflowEngineService,
  text: string
): Effect.Effect<string, ExecutionNotFound | AmbiguousExecutionId | InvalidCursor | StorageFailure> =>
  Effect.flatMap(Effect.either(engine.status(text)), (found) => {
    if (found._tag === "Right") return Effect.succeed(text)
    const notFound = found.left
    if (notFound._tag !== "ExecutionNotFound" || text === "") return Effect.fail(notFound)
    return Effect.flatMap(engine.executions({ idPrefix: text, limit: SHOWN }), ({ executions }) => {
      const [only] = executions
      if (executions.length === 1 && only !== undefined) return Effect.succeed(only.id)
      return Effect.fail(
        executions.length === 0
          ? notFound
          : new AmbiguousExecutionId({ prefix: text, candidates: executions.map((record) => record.id) })
      )
    })
  })

/** An approval waiting for an answer. */
export interface WaitingApproval {
  readonly executionId: string
  readonly workflow: string
  readonly taskId: string
}

const APPROVAL = "approval:"

/** The approval an execution waits for, if it waits for one. */
export const approvalOf = (record: ExecutionRecord): WaitingApproval | undefined =>
  record.status === "waiting" && record.waitingFor?.startsWith(APPROVAL) === true
    ? { executionId: record.id, workflow: record.workflow, taskId: record.waitingFor.slice(APPROVAL.length) }
    : undefined

/** The approvals waiting for an answer, newest first (at most `limit`). */
export const waitingApprovals = (engine: WorkflowEngineService, limit: number) =>
  Effect.map(
    engine.executions({ status: "waiting", limit: 1_000 }),
    ({ executions }) => executions.flatMap((record) => approvalOf(record) ?? []).slice(0, limit)
  )

/** The executions whose bodies started `record` (its stored `parent` links), nearest first. */
export const ancestors = (engine: WorkflowEngineService, record: ExecutionRecord) =>
  Effect.gen(function*() {
    const found: Array<ExecutionRecord> = []
    const seen = new Set([record.id])
    let parent = record.parent
    // `seen`: a loop of links can only come from a damaged store, and must not hang the chat.
    while (parent !== undefined && !seen.has(parent)) {
      const next = yield* Effect.option(engine.status(parent))
      if (Option.isNone(next)) break
      found.push(next.value)
      seen.add(parent)
      parent = next.value.parent
    }
    return found
  })
