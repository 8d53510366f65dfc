/**
 * The payload codec of the SQL storages: every input, output, event and
 * journal result is stored as JSON text, encoded before any write so that a
 * value that cannot be stored fails its commit with nothing written.
 */
import * as Effect from "effect/Effect"
import type { Commit } from "../../ExecutionStorage.js"
import type { StoredEvent, WorkflowEvent } from "../../WorkflowEvent.js"
import { InvalidPayload, StorageError } from "./service.js"

/**
 * The largest JSON payload (an input, output, event or journal result) a
 * commit accepts, in characters. Larger ones fail with `InvalidPayload`
 * naming what was too large, before anything is written.
 */
export const MAX_PAYLOAD_CHARS = 16 * 1024 * 1024

/** How to make a value of this kind storable: what the refusal tells the user to do. */
export type Fix = "input" | "output" | "success" | "error" | "json"

const fixes: Record<Fix, string> = {
  input: "give the workflow an `input` schema that encodes it (e.g. Schema.Date, Schema.BigInt)",
  output: "give the workflow an `output` schema that encodes it (e.g. Schema.Date, Schema.BigInt)",
  success: "give the step a `success` schema that encodes it (e.g. Schema.Date, Schema.BigInt)",
  error: "give the step an `error` schema that encodes it",
  json: "pass plain JSON: strings, finite numbers, booleans, null, arrays and plain objects"
}

const at = (path: ReadonlyArray<string | number>) =>
  path.length === 0 ? "" : ` at ${path.map((p) => typeof p === "number" ? `[${p}]` : `.${p}`).join("")}`

/** Why a value would not read back from JSON as it is: the thing and the path. */
class Unfaithful {
  constructor(readonly path: ReadonlyArray<string | number>, readonly found: string) {}
}

const describe = (value: unknown): string | undefined => {
  switch (typeof value) {
    case "number":
      return Number.isFinite(value) ? undefined : `${value} (JSON has no such number; it would read back as null)`
    case "undefined":
      return "undefined (JSON drops it: the key would be missing, or null in an array)"
    case "bigint":
      return "a BigInt (JSON cannot hold it)"
    case "function":
      return "a function (JSON drops it)"
    case "symbol":
      return "a symbol (JSON drops it)"
    default:
      return undefined
  }
}

/** How deep a payload may nest: deeper, a walk (or `JSON.stringify`) would run out of stack. */
const MAX_DEPTH = 1000

/**
 * Walks a value, refusing what JSON cannot hold as it is; with `copy`,
 * returns a frozen copy made of fresh plain objects and arrays (so a later
 * change to the original cannot reach what is stored, nor a reader change it).
 */
const walk = (value: unknown, path: Array<string | number>, open: Array<object>, copy: boolean): unknown => {
  if (typeof value !== "object" || value === null) {
    const found = describe(value)
    if (found !== undefined) throw new Unfaithful([...path], found)
    // -0 reads back from JSON as 0: a copy is what a read would give.
    return copy && value === 0 ? 0 : value
  }
  if (open.includes(value)) throw new Unfaithful([...path], "a reference to an enclosing object (a cycle)")
  if (open.length >= MAX_DEPTH) throw new Unfaithful([...path], `values nested more than ${MAX_DEPTH} deep`)
  // JSON stores what a toJSON method returns, enumerable or not, on arrays as on objects.
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
    throw new Unfaithful([...path], "a toJSON method (JSON would store what it returns instead)")
  }
  open.push(value)
  let result: unknown
  if (Array.isArray(value)) {
    const out: Array<unknown> | undefined = copy ? new Array(value.length) : undefined
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw new Unfaithful([...path, i], "a hole in an array (it would read back as null)")
      path.push(i)
      const item = walk(value[i], path, open, copy)
      path.pop()
      if (out !== undefined) out[i] = item
    }
    result = out === undefined ? value : Object.freeze(out)
  } else {
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name
      throw new Unfaithful(
        [...path],
        `a ${typeof name === "string" && name !== "" ? name : "class instance"} (JSON would keep only its fields${
          value instanceof Date ? ", as a string" : ""
        })`
      )
    }
    const out: Record<string, unknown> | undefined = copy ? {} : undefined
    for (const key of Object.keys(value)) {
      path.push(key)
      const item = walk((value as Record<string, unknown>)[key], path, open, copy)
      path.pop()
      if (out === undefined) continue
      // A key named "__proto__" stays a key, never the copy's prototype.
      if (key === "__proto__") {
        Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true })
      } else out[key] = item
    }
    result = out === undefined ? value : Object.freeze(out)
  }
  open.pop()
  return result
}

/**
 * Checks that `value` reads back from JSON as it is (a top-level `undefined`
 * is allowed: it reads back as absent); with `copy`, returns a copy. Throws an
 * `InvalidPayload` naming what, the path, what was found and the fix.
 */
export const faithful = (
  what: string,
  fix: Fix,
  value: unknown,
  copy: boolean,
  /** Where the value sits in `what`, for the path the refusal names. */
  field?: string
): unknown => {
  if (value === undefined || typeof value === "string" || typeof value === "boolean" || value === null) return value
  if (typeof value === "number" && Number.isFinite(value)) return copy && value === 0 ? 0 : value
  try {
    return walk(value, field === undefined ? [] : [field], [], copy)
  } catch (error) {
    if (!(error instanceof Unfaithful)) throw error
    throw new InvalidPayload({
      what,
      reason: `it holds ${error.found}${at(error.path)}; ${fixes[fix]}`
    })
  }
}

/**
 * A fresh, mutable copy of a stored value (which is JSON as it is): what a
 * read from a SQL storage gives, so that a reader changing it changes
 * nothing stored.
 */
export const thaw = <A>(value: A): A => {
  if (typeof value !== "object" || value === null) return value
  if (Array.isArray(value)) return value.map(thaw) as A
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    const item = thaw((value as Record<string, unknown>)[key])
    if (key === "__proto__") {
      Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true })
    } else out[key] = item
  }
  return out as A
}

/**
 * `value` made read-only through and through, in place: a value read back
 * (JSON as it is) that is handed to several readers, none of which may change
 * what the others see.
 */
export const freeze = <A>(value: A): A => {
  // A frozen value is frozen through and through: this freezes from the leaves up, and so do the copies
  // storages keep (`faithful`). The memory storage's events, shared as they are, are passed over at once.
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) freeze(value[i])
  } else {
    for (const key in value) freeze(value[key])
  }
  return Object.freeze(value)
}

/**
 * A commit checked and copied as the built-in storages store it: the form a
 * storage written outside this package calls before it writes.
 */
export const checkPayloads = (id: string, commit: Commit): Effect.Effect<Commit, InvalidPayload> =>
  Effect.try({ try: () => checkCommit(id, commit, true), catch: (error) => error as InvalidPayload })

/** How an execution's input is named in `InvalidPayload`. */
export const inputWhat = (id: string): string => `the input of execution "${id}"`

/** An execution's input checked and copied as the built-in storages store it. */
export const checkInput = (id: string, input: unknown): Effect.Effect<unknown, InvalidPayload> =>
  Effect.try({
    try: () => faithful(inputWhat(id), "input", input, true),
    catch: (error) => error as InvalidPayload
  })

/** JSON text of a payload; throws an InvalidPayload naming what could not be stored. */
export const encodeSync = (what: string, value: unknown, fix: Fix = "json"): string => {
  faithful(what, fix, value, false)
  return json(what, value)
}

export const encode = (what: string, value: unknown, fix: Fix = "json"): Effect.Effect<string, InvalidPayload> =>
  Effect.try({ try: () => encodeSync(what, value, fix), catch: (error) => error as InvalidPayload })

/** What a commit stores, encoded. */
export interface EncodedCommit {
  readonly events: ReadonlyArray<{ readonly type: string; readonly payload: string }>
  readonly journalResult: string | null
  readonly answer: string | null
  /** The payload of the signal the commit sends. */
  readonly signal: string | null
  /** The payload and event of the signal it sends to its parent. */
  readonly parentSignal: { readonly payload: string; readonly type: string; readonly event: string } | null
  readonly output: string | null
  readonly error: string | null
}

/** Strips what the storage stamps itself. */
const eventPayload = (event: WorkflowEvent): Omit<WorkflowEvent, "seq" | "workflowInstanceId"> => {
  const { seq: _seq, workflowInstanceId: _id, ...payload } = event as StoredEvent
  return payload
}

const eventWhere = (id: string, event: WorkflowEvent) =>
  event.runnableName === undefined ? ` of execution "${id}"` : ` of step "${event.runnableName}" in execution "${id}"`

const eventWhat = (id: string, event: WorkflowEvent) => `the ${event.type} event${eventWhere(id, event)}`

/** A value JSON holds as it is, without walking it (most payloads: the hot path checks this first). */
const plain = (value: unknown): boolean =>
  value === undefined || value === null || typeof value === "string" || typeof value === "boolean" ||
  (typeof value === "number" && Number.isFinite(value))

/** Checks one payload field of an event; with `copy`, puts a copy in its place. */
const checkField = (id: string, event: WorkflowEvent, key: string, copy: boolean): void => {
  const fields = event as unknown as Record<string, unknown>
  const value = fields[key]
  if (plain(value)) return
  const checked = faithful(eventWhat(id, event), "json", value, copy, key)
  if (checked !== value) fields[key] = checked
}

/**
 * Checks every field of an event (a body's emitted event may carry fields of its own besides its type's);
 * with `copy`, puts copies of object fields in their place: the event is the storage's from now on.
 */
const checkEvent = (id: string, event: WorkflowEvent, copy: boolean): void => {
  for (const key in event) checkField(id, event, key, copy)
}

/**
 * The commit with every payload checked to read back from JSON as it is,
 * the step's result and the output first (so a refusal names their schema); with
 * `copy`, made of copies (its events are then the storage's own). Throws the
 * first `InvalidPayload`.
 */
export const checkCommit = (id: string, commit: Commit, copy: boolean): Commit => {
  let journal = commit.journal
  const result = journal?.result
  if (journal !== undefined && result !== undefined && result._tag !== "Die") {
    const success = result._tag === "Success"
    const value = success ? result.value : result.error
    if (!plain(value)) {
      const what = `the ${success ? "result" : "error"} of step "${journal.name}" of execution "${id}"`
      const checked = faithful(what, success ? "success" : "error", value, copy)
      if (checked !== value) {
        journal = {
          ...journal,
          result: success ? { _tag: "Success", value: checked } : { _tag: "Failure", error: checked }
        }
      }
    }
  }
  const output = plain(commit.output)
    ? commit.output
    : faithful(`the output of execution "${id}"`, "output", commit.output, copy)
  const given = commit.answer?.value
  const answer = plain(given)
    ? given
    : faithful(`the answer to "${commit.answer!.taskId}" of execution "${id}"`, "json", given, copy)
  const error = commit.error === undefined
    ? undefined
    : faithful(`the error of execution "${id}"`, "json", commit.error, copy)
  const sent = commit.signal?.payload
  const signal = plain(sent) ? sent : faithful(signalWhat(id, commit.signal!.name), "json", sent, copy)
  let toParent = commit.signalParent
  if (toParent !== undefined) {
    const payload = faithful(signalWhat(toParent.parent, toParent.name), "json", toParent.payload, copy)
    const event = copy ? { ...toParent.event } : toParent.event
    checkEvent(toParent.parent, event, copy)
    if (copy) toParent = { ...toParent, payload, event }
  }
  // Last: an event repeating a value above (a step's end, the final output) is refused under that value's name.
  const events = commit.events
  if (events !== undefined) { for (let i = 0; i < events.length; i++) checkEvent(id, events[i]!, copy) }
  return journal === commit.journal && answer === given && output === commit.output && error === commit.error &&
      signal === sent && toParent === commit.signalParent
    ? commit
    : {
      ...commit,
      ...(journal !== undefined ? { journal } : {}),
      ...(commit.answer !== undefined ? { answer: { taskId: commit.answer.taskId, value: answer } } : {}),
      ...(commit.signal !== undefined ? { signal: { name: commit.signal.name, payload: signal } } : {}),
      ...(toParent !== undefined ? { signalParent: toParent } : {}),
      ...(output !== undefined ? { output } : {}),
      ...(error !== undefined ? { error: error as Commit["error"] & {} } : {})
    }
}

const signalWhat = (id: string, name: string) => `the payload of signal "${name}" to execution "${id}"`

const json = (what: string, value: unknown): string => {
  const text = JSON.stringify(value) ?? "null"
  if (text.length > MAX_PAYLOAD_CHARS) {
    throw new InvalidPayload({
      what,
      reason: `it is ${text.length} characters of JSON, over the limit of ${MAX_PAYLOAD_CHARS}`
    })
  }
  return text
}

/** Encodes a commit's payloads; throws an InvalidPayload naming the first one that cannot be stored. */
export const encodeCommit = (id: string, commit: Commit): EncodedCommit => {
  checkCommit(id, commit, false)
  return {
    events: (commit.events ?? []).map((event) => ({
      type: event.type,
      payload: json(eventWhat(id, event), eventPayload(event))
    })),
    journalResult: commit.journal?.result === undefined
      ? null
      : json(`the result of step "${commit.journal.name}" of execution "${id}"`, commit.journal.result),
    answer: commit.answer === undefined
      ? null
      : json(`the answer to "${commit.answer.taskId}" of execution "${id}"`, {
        _tag: "Success",
        value: commit.answer.value
      }),
    signal: commit.signal === undefined ? null : json(signalWhat(id, commit.signal.name), commit.signal.payload),
    parentSignal: commit.signalParent === undefined ? null : {
      payload: json(signalWhat(commit.signalParent.parent, commit.signalParent.name), commit.signalParent.payload),
      type: commit.signalParent.event.type,
      event: json(
        eventWhat(commit.signalParent.parent, commit.signalParent.event),
        eventPayload(commit.signalParent.event)
      )
    },
    output: commit.output === undefined ? null : json(`the output of execution "${id}"`, commit.output),
    error: commit.error === undefined ? null : json(`the error of execution "${id}"`, commit.error)
  }
}

/**
 * A stored payload read back, at once; text that is not JSON throws a storage failure naming what it was
 * (`what`, asked only then).
 */
export const parseStored = (what: () => string, text: string | null): unknown => {
  if (text === null) return undefined
  try {
    return JSON.parse(text)
  } catch (cause) {
    throw new StorageError({
      operation: "decode",
      reason: `${what()} is not valid JSON: ${(cause as Error).message}`,
      cause
    })
  }
}

/** A stored payload read back; text that is not JSON is a storage failure naming what it was. */
export const decode = (what: string, text: string | null): Effect.Effect<unknown, StorageError> =>
  decodeWith(() => parseStored(() => what, text))

/**
 * What `read` makes of stored text, which it reads with `parseStored`: one Effect for a whole page of rows,
 * not one per row (a page of a log costs several times its query in Effects otherwise).
 */
export const decodeWith = <A>(read: () => A): Effect.Effect<A, StorageError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(read())
    } catch (error) {
      return error instanceof StorageError ? Effect.fail(error) : Effect.die(error)
    }
  })
