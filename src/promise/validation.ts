/**
 * Validation with any Standard Schema (zod, valibot, arktype...) or an Effect
 * Schema, reporting every issue with its path.
 *
 * @since 0.1.0
 */
import type { StandardSchemaV1 } from "@standard-schema/spec"
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
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
 * A Runnable's input as its schema parsed it, beside the value it was given.
 *
 * @since 0.2.0
 * @category models
 */
export class ParsedInput {
  constructor(
    /** The value as given: what the engine stores, so that each run parses it again. */
    readonly given: unknown,
    /** The schema's result: what the generator receives. */
    readonly parsed: unknown
  ) {}
}

/**
 * Any accepted schema as the input schema of a workflow: decoding runs the
 * schema once and keeps both the given and the parsed value; encoding gives
 * back the given value without running it. The engine decodes and encodes
 * the input before it creates the execution (one validation) and stores the
 * value as given; each run decodes it again (one validation) and the
 * generator gets the parsed value, so a transforming schema is applied once
 * per run, never to its own output.
 *
 * @since 0.2.0
 * @category validation
 */
export const inputSchema = (schema: AnySchema | undefined): Schema.Schema<ParsedInput, unknown> =>
  Schema.declare([], {
    decode: () => (value, _, ast) =>
      schema === undefined
        ? ParseResult.succeed(new ParsedInput(value, value))
        : Effect.map(issues(schema, value), (parsed) => new ParsedInput(value, parsed)).pipe(
          Effect.mapError((found) => parseIssue(ast, value, found))
        ),
    encode: () => (input, _, ast) =>
      input instanceof ParsedInput
        ? ParseResult.succeed(input.given)
        : ParseResult.fail(new ParseResult.Type(ast, input, "expected an input decoded by this schema"))
  })

/** Issues with their paths as one ParseIssue, which the engine turns back into `InvalidInput` issues. */
const parseIssue = (
  ast: SchemaAST.AST,
  value: unknown,
  found: ReadonlyArray<WorkflowEvent.Issue>
): ParseResult.ParseIssue => {
  const each = found.map((issue): ParseResult.ParseIssue => {
    const type = new ParseResult.Type(ast, value, issue.message)
    return Arr.isNonEmptyReadonlyArray(issue.path) ? new ParseResult.Pointer(issue.path, value, type) : type
  })
  return Arr.isNonEmptyReadonlyArray(each)
    ? new ParseResult.Composite(ast, value, each)
    : new ParseResult.Type(ast, value)
}
