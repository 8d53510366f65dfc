/**
 * The stored shape of an error, and the validation issues of a Schema
 * failure: shared by events, the interpreter and the engine.
 */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { Issue } from "../WorkflowEvent.js"

export const ErrorInfo = Schema.Struct({
  name: Schema.String,
  message: Schema.String,
  stack: Schema.optional(Schema.String),
  details: Schema.optional(Schema.Unknown),
  /** The workflow's typed failure, encoded with its `error` schema. */
  failure: Schema.optional(Schema.Unknown)
})

type ErrorInfo = typeof ErrorInfo.Type

export const issuesOf = (error: ParseResult.ParseError): ReadonlyArray<Issue> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({ path: issue.path, message: issue.message }))

export const formatIssues = (issues: ReadonlyArray<Issue>): string =>
  issues.map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`).join("; ")

export const errorInfo = (error: unknown): ErrorInfo => {
  if (error instanceof Error) {
    const tag = (error as { _tag?: unknown })._tag
    const details = detailsOf(error)
    return {
      name: typeof tag === "string" ? tag : error.name,
      message: error.message,
      ...(error.stack !== undefined ? { stack: error.stack } : {}),
      ...(details !== undefined ? { details } : {})
    }
  }
  if (typeof error === "object" && error !== null) {
    const record = error as Record<string, unknown>
    const name = typeof record._tag === "string" ? record._tag : typeof record.name === "string" ? record.name : "Error"
    const message = typeof record.message === "string" ? record.message : safeJson(error)
    return { name, message, details: jsonSafe(error) }
  }
  return { name: "Error", message: String(error) }
}

const detailsOf = (error: Error): unknown => {
  const own: Record<string, unknown> = {}
  let any = false
  for (const key of Object.keys(error)) {
    if (key === "message" || key === "stack" || key === "name" || key === "_tag") continue
    own[key] = (error as unknown as Record<string, unknown>)[key]
    any = true
  }
  return any ? jsonSafe(own) : undefined
}

/**
 * A copy of `value` that any storage can hold: errors carry whatever their
 * throwers attached (sockets, circular requests, BigInts), but an error must
 * always be storable.
 */
export const jsonSafe = (value: unknown): unknown => {
  const seen = new WeakSet<object>()
  try {
    return JSON.parse(
      JSON.stringify(value, (_key, v) => {
        if (typeof v === "bigint") return v.toString()
        if (typeof v === "function" || typeof v === "symbol") return undefined
        if (typeof v === "object" && v !== null) {
          if (seen.has(v)) return "[Circular]"
          seen.add(v)
        }
        return v
      }) ?? "null"
    )
  } catch {
    return String(value)
  }
}

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
