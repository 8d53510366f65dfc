/**
 * The payload codec of the SQL storages: every input, output, event and
 * journal result is stored as JSON text, encoded before any write so that a
 * value that cannot be stored fails its commit with nothing written.
 */
import { Effect } from "effect"
import type { Commit } from "../../ExecutionStorage.js"
import type { StoredEvent, WorkflowEvent } from "../../WorkflowEvent.js"
import { InvalidPayload, StorageError } from "./service.js"

/**
 * The largest JSON payload (an input, output, event or journal result) a
 * commit accepts, in characters. Larger ones fail with `InvalidPayload`
 * naming what was too large, before anything is written.
 */
export const MAX_PAYLOAD_CHARS = 16 * 1024 * 1024

/** JSON text of a payload; throws an InvalidPayload naming what could not be stored. */
export const encodeSync = (what: string, value: unknown): string => {
  let text: string | undefined
  try {
    // Plain JSON.stringify (a replacer function would cost more than the write): BigInts and cycles throw;
    // functions and symbols are left out, as JSON does.
    text = JSON.stringify(value)
  } catch (cause) {
    throw new InvalidPayload({ what, reason: `it is not JSON (${(cause as Error).message})` })
  }
  if (text === undefined) return "null"
  if (text.length > MAX_PAYLOAD_CHARS) {
    throw new InvalidPayload({
      what,
      reason: `it is ${text.length} characters of JSON, over the limit of ${MAX_PAYLOAD_CHARS}`
    })
  }
  return text
}

export const encode = (what: string, value: unknown): Effect.Effect<string, InvalidPayload> =>
  Effect.try({ try: () => encodeSync(what, value), catch: (error) => error as InvalidPayload })

/** What a commit stores, encoded. */
export interface EncodedCommit {
  readonly events: ReadonlyArray<{ readonly type: string; readonly payload: string }>
  readonly journalResult: string | null
  readonly answer: string | null
  readonly output: string | null
  readonly error: string | null
}

/** Strips what the storage stamps itself. */
const eventPayload = (event: WorkflowEvent): Omit<WorkflowEvent, "seq" | "workflowInstanceId"> => {
  const { seq: _seq, workflowInstanceId: _id, ...payload } = event as StoredEvent
  return payload
}

/** Encodes a commit's payloads; throws an InvalidPayload naming the first one that cannot be stored. */
export const encodeCommit = (id: string, commit: Commit): EncodedCommit => ({
  events: (commit.events ?? []).map((event) => ({
    type: event.type,
    payload: encodeSync(
      event.runnableName === undefined
        ? `the ${event.type} event of execution "${id}"`
        : `the ${event.type} event of step "${event.runnableName}" in execution "${id}"`,
      eventPayload(event)
    )
  })),
  journalResult: commit.journal?.result === undefined
    ? null
    : encodeSync(`the result of step "${commit.journal.name}" of execution "${id}"`, commit.journal.result),
  answer: commit.answer === undefined
    ? null
    : encodeSync(`the answer to "${commit.answer.taskId}" of execution "${id}"`, {
      _tag: "Success",
      value: commit.answer.value
    }),
  output: commit.output === undefined ? null : encodeSync(`the output of execution "${id}"`, commit.output),
  error: commit.error === undefined ? null : encodeSync(`the error of execution "${id}"`, commit.error)
})

/** A stored payload read back; text that is not JSON is a storage failure naming what it was. */
export const decode = (what: string, text: string | null): Effect.Effect<unknown, StorageError> =>
  Effect.try({
    try: () => (text === null ? undefined : JSON.parse(text)),
    catch: (cause) =>
      new StorageError({ operation: "decode", reason: `${what} is not valid JSON: ${(cause as Error).message}`, cause })
  })
