/**
 * Validation with any Standard Schema (zod, valibot, arktype...) or an Effect
 * Schema, reporting every issue with its path.
 *
 * @since 0.1.0
 */
import type { StandardSchemaV1 } from "@standard-schema/spec"
import { Array as Arr, Effect, ParseResult, Schema } from "effect"
import * as Workflow from "../Workflow.js"
import * as WorkflowEvent from "../WorkflowEvent.js"

/**
 * A schema the facade accepts.
 *
 * @since 0.1.0
 * @category models
 */
export type AnySchema = StandardSchemaV1 | Schema.Schema<any, any, never>

/**
 * @since 0.1.0
 * @category guards
 */
export const isSchema = (u: unknown): u is AnySchema =>
  Schema.isSchema(u) || (typeof u === "object" && u !== null && "~standard" in u)

const segment = (key: PropertyKey | StandardSchemaV1.PathSegment): PropertyKey =>
  typeof key === "object" ? key.key : key

/**
 * Checks `value` against `schema`; succeeds with the parsed value, or fails
 * with the issues, each with its path. Falsy values are validated like any other.
 *
 * @since 0.1.0
 * @category validation
 */
export const issues = (
  schema: AnySchema,
  value: unknown
): Effect.Effect<unknown, ReadonlyArray<WorkflowEvent.Issue>> => {
  if (Schema.isSchema(schema)) {
    return Effect.mapError(
      Schema.decodeUnknown(schema as Schema.Schema<unknown, unknown, never>, { errors: "all" })(value),
      WorkflowEvent.issuesOf
    )
  }
  return Effect.flatMap(
    Effect.promise(async () => schema["~standard"].validate(value)),
    (result) =>
      result.issues === undefined
        ? Effect.succeed(result.value)
        : Effect.fail(
          result.issues.map((issue) => ({ path: (issue.path ?? []).map(segment), message: issue.message }))
        )
  )
}

/**
 * Validates the input of the named workflow, if it has a schema.
 *
 * @since 0.1.0
 * @category validation
 */
export const input = (workflow: string, schema: AnySchema | undefined, value: unknown) =>
  schema === undefined
    ? Effect.succeed(value)
    : Effect.mapError(issues(schema, value), (issues) => new Workflow.InvalidInput({ workflow, issues }))

/**
 * Validates the output of the named workflow, if it has a schema.
 *
 * @since 0.1.0
 * @category validation
 */
export const output = (workflow: string, schema: AnySchema | undefined, value: unknown) =>
  schema === undefined
    ? Effect.succeed(value)
    : Effect.mapError(issues(schema, value), (issues) => new Workflow.InvalidOutput({ workflow, issues }))

/**
 * Any accepted schema as an Effect Schema that checks the value and passes
 * it on as it was given: lets the engine validate a Runnable's input before it creates
 * the execution, with every issue at its path.
 *
 * @since 0.1.0
 * @category validation
 */
export const asEffectSchema = (schema: AnySchema | undefined): Schema.Schema<unknown> =>
  schema === undefined
    ? Schema.Unknown
    : Schema.declare([], {
      decode: () => (value, _, ast) =>
        // Checked only: the generator validates again and gets the parse result; a transforming schema must not run twice.
        Effect.as(issues(schema, value), value).pipe(Effect.mapError((found): ParseResult.ParseIssue => {
          const each = found.map((issue): ParseResult.ParseIssue => {
            const type = new ParseResult.Type(ast, value, issue.message)
            return Arr.isNonEmptyReadonlyArray(issue.path) ? new ParseResult.Pointer(issue.path, value, type) : type
          })
          return Arr.isNonEmptyReadonlyArray(each)
            ? new ParseResult.Composite(ast, value, each)
            : new ParseResult.Type(ast, value)
        })),
      encode: () => (value) => ParseResult.succeed(value)
    })
