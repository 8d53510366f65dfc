/**
 * What every API request goes through before its handler: the token (when the server has one), where
 * the request comes from, and its body (JSON, within the size limit, no `__proto__` key). The body is
 * read here, once: the platform keeps the text it read, and the endpoint decodes that.
 */
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { prototypeKeyPath, prototypeKeyReason } from "../prototypeKeys.js"
import { refusedOrigin, sameToken } from "./access.js"
import {
  CrossSiteRequest,
  InvalidBody,
  LengthRequired,
  PayloadTooLarge,
  Unauthorized,
  UnsupportedMediaType
} from "./errors.js"

/** How the guard is set up. */
export interface GuardOptions {
  /** Every request must carry it as `Authorization: Bearer <token>`; without one, only loopback hosts. */
  readonly token: string | undefined
  /** The largest request body taken, in bytes. */
  readonly maxBodySize: number
}

/** The refusals of the guard. */
export type Refused =
  | Unauthorized
  | CrossSiteRequest
  | PayloadTooLarge
  | LengthRequired
  | UnsupportedMediaType
  | InvalidBody

/** Checks the request in context, in the order that reads the least from a stranger: token, origin, body. */
export const guard = (options: GuardOptions): Effect.Effect<void, Refused, HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request): Effect.Effect<void, Refused> => {
    if (options.token !== undefined && !sameToken(bearer(request.headers.authorization), options.token)) {
      return Effect.fail(new Unauthorized())
    }
    const refused = refusedOrigin(
      { host: request.headers.host, origin: request.headers.origin },
      { tokenRequired: options.token !== undefined }
    )
    if (refused !== undefined) return Effect.fail(new CrossSiteRequest(refused))
    return checkedBody(request, options.maxBodySize)
  })

const bearer = (header: string | undefined): string => {
  const match = header === undefined ? null : /^Bearer +(.*)$/i.exec(header.trim())
  return match === null ? "" : match[1]!
}

const hasBody = (headers: Record<string, string | undefined>): boolean =>
  headers["transfer-encoding"] !== undefined || (headers["content-length"] ?? "0") !== "0"

const checkedBody = (
  request: HttpServerRequest.HttpServerRequest,
  limit: number
): Effect.Effect<void, PayloadTooLarge | LengthRequired | UnsupportedMediaType | InvalidBody> => {
  if (!hasBody(request.headers)) return Effect.void
  const contentType = request.headers["content-type"] ?? ""
  // Only JSON: a page of another origin cannot send it without asking first, and we never say yes.
  if (!/^application\/json\s*(?:;|$)/i.test(contentType)) return Effect.fail(new UnsupportedMediaType({ contentType }))
  // Checked before reading: Node reads no more than the declared length. A chunked body could only be
  // stopped mid-way, by dropping the connection, with no answer to say why.
  if (request.headers["content-length"] === undefined) return Effect.fail(new LengthRequired())
  if (Number(request.headers["content-length"]) > limit) return Effect.fail(new PayloadTooLarge({ limit }))
  return request.text.pipe(
    HttpIncomingMessage.withMaxBodySize(Option.some(limit)),
    Effect.mapError((error) =>
      String(error.cause).includes("maxBytes")
        ? new PayloadTooLarge({ limit })
        : new InvalidBody({ reason: "it could not be read" })
    ),
    Effect.flatMap(parsed)
  )
}

const parsed = (text: string): Effect.Effect<void, InvalidBody> => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return Effect.fail(new InvalidBody({ reason: `not JSON (${(error as Error).message})` }))
  }
  const path = prototypeKeyPath(value)
  return path === undefined ? Effect.void : Effect.fail(new InvalidBody({ reason: prototypeKeyReason(path) }))
}
