/**
 * The errors only the HTTP API has (a request refused before any handler runs), and how every error of
 * the API is written: its fields as its schema encodes them, plus its `message`, which the engine's
 * errors compute rather than store. The `WorkflowApi` module re-exports them.
 */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Types from "effect/Types"

/** The token is missing or wrong. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {}) {
  override get message(): string {
    return "Missing or wrong token: send it as \"Authorization: Bearer <token>\""
  }
}

/** The request came from a page of another origin, or named a host the server does not answer for. */
export class CrossSiteRequest extends Schema.TaggedError<CrossSiteRequest>()("CrossSiteRequest", {
  header: Schema.String,
  value: Schema.String
}) {
  override get message(): string {
    return `Refused: ${this.header} "${this.value}" is not this server's`
  }
}

/** The request body is larger than the server takes. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  limit: Schema.Number
}) {
  override get message(): string {
    return `The request body is larger than ${this.limit} bytes`
  }
}

/** A request body sent without its length (chunked): the size limit is checked before reading. */
export class LengthRequired extends Schema.TaggedError<LengthRequired>()("LengthRequired", {}) {
  override get message(): string {
    return "A request body must be sent with its Content-Length"
  }
}

/** A request body that is not JSON. */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", {
  contentType: Schema.String
}) {
  override get message(): string {
    return `A request body must be JSON (Content-Type: application/json), not "${this.contentType}"`
  }
}

/** A JSON body that cannot be read, or holds what no body may (a `__proto__` key). */
export class InvalidBody extends Schema.TaggedError<InvalidBody>()("InvalidBody", {
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid request body: ${this.reason}`
  }
}

/**
 * An error schema as the API writes it: what `error` encodes to, plus `message` (decoding ignores it).
 * The error class is the type side, so encoding sees the instance, whose `message` is a getter.
 */
export const withMessage = <A extends { readonly message: string }, I extends object, R>(
  error: Schema.Schema<A, I, R>
): Schema.Schema<A, Types.Simplify<I & { readonly message: string }>, R> =>
  Schema.transformOrFail(
    Schema.extend(Schema.encodedSchema(error), Schema.Struct({ message: Schema.String })),
    Schema.typeSchema(error),
    {
      strict: false,
      decode: ({ message: _, ...fields }) => ParseResult.decodeUnknown(error)(fields),
      encode: (instance) =>
        ParseResult.map(
          ParseResult.encodeUnknown(error)(instance),
          (fields) => ({ ...fields, message: instance.message })
        )
    }
  ) as any
