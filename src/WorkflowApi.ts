/**
 * The HTTP API over the engine, on `@effect/platform`'s `HttpApi`: the definition (`Api`, with its
 * OpenAPI document), a `layer` that adds its routes to an app's own `HttpLayerRouter`, and `serve`, a
 * standalone server (the CLI's `token-ring-workflow serve`). Its schemas are the core's: events, records
 * and the engine's typed errors, each written as JSON with its `message` and an HTTP status.
 *
 * Its own entry point (`@token-ring/workflow/WorkflowApi`): importing the package loads no
 * `@effect/platform`.
 *
 * @since 0.2.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as ExecutionStorage from "./ExecutionStorage.js"
import { isLoopback } from "./internal/http/access.js"
import * as Dashboard from "./internal/http/dashboard.js"
import * as Errors from "./internal/http/errors.js"
import { guard } from "./internal/http/guard.js"
import * as Handlers from "./internal/http/handlers.js"
import * as Server from "./internal/http/server.js"
import * as Workflow from "./Workflow.js"
import * as WorkflowEngine from "./WorkflowEngine.js"
import * as WorkflowEvent from "./WorkflowEvent.js"

export {
  /**
   * The request came from a page of another origin (its `Origin`), or, on a server without a token,
   * named a host that is not a loopback one (its `Host`: a DNS rebinding). Status 403.
   *
   * @since 0.2.0
   * @category errors
   */
  CrossSiteRequest,
  /**
   * A request body that is not JSON, or holds a `__proto__` key. Status 400.
   *
   * @since 0.2.0
   * @category errors
   */
  InvalidBody,
  /**
   * A request body sent without a `Content-Length` (chunked). Status 411.
   *
   * @since 0.2.0
   * @category errors
   */
  LengthRequired,
  /**
   * A request body larger than `maxBodySize`. Status 413.
   *
   * @since 0.2.0
   * @category errors
   */
  PayloadTooLarge,
  /**
   * The server has a token and the request did not send it (`Authorization: Bearer <token>`). Status 401.
   *
   * @since 0.2.0
   * @category errors
   */
  Unauthorized,
  /**
   * A request body that is not `application/json`. Status 415.
   *
   * @since 0.2.0
   * @category errors
   */
  UnsupportedMediaType
} from "./internal/http/errors.js"

/** An error of the API: its schema with `message` added, and its status. */
const status = <A extends { readonly message: string }, I extends object>(error: Schema.Schema<A, I>, code: number) =>
  Errors.withMessage(error).annotations(HttpApiSchema.annotations({ status: code }))

const ExecutionNotFound = status(ExecutionStorage.ExecutionNotFound, 404)
const WorkflowNotFound = status(WorkflowEngine.WorkflowNotFound, 404)
const ExecutionFinished = status(ExecutionStorage.ExecutionFinished, 409)
const ExecutionIdConflict = status(WorkflowEngine.ExecutionIdConflict, 409)
const ApprovalNotPending = status(ExecutionStorage.ApprovalNotPending, 409)
const InvalidOption = status(WorkflowEngine.InvalidOption, 400)
const InvalidCursor = status(ExecutionStorage.InvalidCursor, 400)
const InvalidInput = status(Workflow.InvalidInput, 422)
const InvalidSignal = status(WorkflowEngine.InvalidSignal, 422)
const InvalidPayload = status(ExecutionStorage.InvalidPayload, 422)
const StorageError = status(ExecutionStorage.StorageError, 500)

/**
 * Checks every API request before its handler: the token, where it comes from, its body.
 *
 * @since 0.2.0
 * @category middleware
 */
export class Guard extends HttpApiMiddleware.Tag<Guard>()("@token-ring/workflow/WorkflowApi/Guard", {
  failure: Schema.Union(
    status(Errors.Unauthorized, 401),
    status(Errors.CrossSiteRequest, 403),
    status(Errors.PayloadTooLarge, 413),
    status(Errors.LengthRequired, 411),
    status(Errors.UnsupportedMediaType, 415),
    status(Errors.InvalidBody, 400)
  )
}) {}

const Id = Schema.Struct({ id: Schema.String })
const Limit = Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000))
const Seq = Schema.NumberFromString.pipe(Schema.int(), Schema.greaterThanOrEqualTo(1))

/**
 * A started (or found) execution: `created` is false when `executionId` (or a `dedupKey`) found one.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Started = Schema.Struct({ id: Schema.String, workflow: Schema.String, created: Schema.Boolean })

/**
 * The body of a start: the engine's start options besides the workflow and its input (default `{}`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const StartRequest = Schema.Struct({
  workflow: Schema.String,
  input: Schema.optional(Schema.Unknown),
  executionId: Schema.optional(Schema.String),
  queue: Schema.optional(Schema.String),
  priority: Schema.optional(Schema.Int),
  dedupKey: Schema.optional(Schema.String)
})

/**
 * A page of an execution's stored events from `from`; `next` is the `seq` to ask for next.
 *
 * @since 0.2.0
 * @category schemas
 */
export const EventPage = Schema.Struct({
  events: Schema.Array(WorkflowEvent.WorkflowEvent),
  next: Schema.Int,
  status: ExecutionStorage.ExecutionStatus
})

const workflows = HttpApiGroup.make("workflows").add(
  HttpApiEndpoint.get("list", "/api/workflows").addSuccess(
    Schema.Array(Schema.Struct({ name: Schema.String, description: Schema.optional(Schema.String) }))
  )
)

const executions = HttpApiGroup.make("executions")
  .add(
    HttpApiEndpoint.post("start", "/api/executions").setPayload(StartRequest).addSuccess(Started)
      .addError(WorkflowNotFound).addError(InvalidInput).addError(ExecutionIdConflict).addError(InvalidOption)
  )
  .add(
    HttpApiEndpoint.get("list", "/api/executions").setUrlParams(Schema.Struct({
      status: Schema.optional(
        Schema.Union(ExecutionStorage.ExecutionStatus, Schema.Array(ExecutionStorage.ExecutionStatus))
      ),
      workflow: Schema.optional(Schema.String),
      parent: Schema.optional(Schema.String),
      limit: Schema.optional(Limit),
      cursor: Schema.optional(Schema.String)
    })).addSuccess(Schema.Struct({
      executions: Schema.Array(ExecutionStorage.ExecutionRecord),
      cursor: Schema.optional(Schema.String)
    })).addError(InvalidCursor)
  )
  .add(
    HttpApiEndpoint.get("get", "/api/executions/:id").setPath(Id).addSuccess(ExecutionStorage.ExecutionRecord)
      .addError(ExecutionNotFound)
  )
  .add(
    HttpApiEndpoint.get("events", "/api/executions/:id/events").setPath(Id)
      .setUrlParams(Schema.Struct({ from: Schema.optional(Seq), limit: Schema.optional(Limit) }))
      .addSuccess(EventPage).addError(ExecutionNotFound)
  )
  .add(
    HttpApiEndpoint.get("live", "/api/executions/:id/events/live").setPath(Id)
      .setUrlParams(Schema.Struct({ from: Schema.optional(Seq) }))
      .setHeaders(Schema.Struct({ "last-event-id": Schema.optional(Schema.String) }))
      .addSuccess(HttpApiSchema.Text({ contentType: "text/event-stream" }))
      .addError(ExecutionNotFound).addError(InvalidOption)
  )
  .add(
    HttpApiEndpoint.post("approve", "/api/executions/:id/approvals/:taskId")
      .setPath(Schema.Struct({ id: Schema.String, taskId: Schema.String }))
      .setPayload(Schema.Struct({
        status: WorkflowEvent.ApprovalStatus,
        responseData: Schema.optional(Schema.Unknown),
        feedback: Schema.optional(Schema.String)
      }))
      .addSuccess(HttpApiSchema.NoContent)
      .addError(ExecutionNotFound).addError(ExecutionFinished).addError(ApprovalNotPending).addError(InvalidOption)
  )
  .add(
    HttpApiEndpoint.post("signal", "/api/executions/:id/signals/:name")
      .setPath(Schema.Struct({ id: Schema.String, name: Schema.String }))
      .setPayload(Schema.Struct({ payload: Schema.optional(Schema.Unknown) }))
      .addSuccess(HttpApiSchema.NoContent)
      .addError(ExecutionNotFound).addError(ExecutionFinished).addError(InvalidSignal).addError(InvalidOption)
  )
  .add(
    HttpApiEndpoint.post("cancel", "/api/executions/:id/cancel").setPath(Id).addSuccess(HttpApiSchema.NoContent)
      .addError(ExecutionNotFound).addError(ExecutionFinished)
  )
  .add(
    HttpApiEndpoint.post("resume", "/api/executions/:id/resume").setPath(Id).addSuccess(Started)
      .addError(ExecutionNotFound).addError(ExecutionFinished).addError(WorkflowNotFound)
  )

/**
 * The API's definition: derive a typed client from it (`HttpApiClient.make(Api)`), or its OpenAPI
 * document (`OpenApi.fromApi(Api)`, served at `/api/openapi.json`).
 *
 * @since 0.2.0
 * @category api
 */
export const Api = HttpApi.make("workflow").add(workflows).add(executions).middleware(Guard)
  .addError(StorageError).addError(InvalidPayload)
  .annotate(OpenApi.Title, "@token-ring/workflow")

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * Every API request must send it, as `Authorization: Bearer <token>` (compared in constant time).
   * Without one, the API answers only requests addressed to a loopback host (`Host: 127.0.0.1:<port>`,
   * `localhost`, `[::1]`).
   */
  readonly token?: string | undefined
  /** The largest request body taken, in bytes (default 1 MiB); a larger one is a 413. */
  readonly maxBodySize?: number | undefined
  /** How often an idle event stream sends a comment, to keep proxies from closing it (default 15 seconds). */
  readonly heartbeat?: Duration.DurationInput | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface ServeOptions extends Options {
  /** Default `127.0.0.1`; any host but a loopback one requires `token`. */
  readonly host?: string | undefined
  /** Default 0: a free port, read back in the answer of `serve`. */
  readonly port?: number | undefined
}

/**
 * Where `serve` listens.
 *
 * @since 0.2.0
 * @category models
 */
export interface Address {
  readonly host: string
  readonly port: number
  /** `http://<host>:<port>`, the dashboard's address (the API is under `/api`). */
  readonly url: string
}

const handlers = (options: Options) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const storage = yield* ExecutionStorage.ExecutionStorage
    const run = Handlers.make(engine, storage, { heartbeat: options.heartbeat ?? Duration.seconds(15) })
    const guarded = guard({ token: options.token, maxBodySize: options.maxBodySize ?? 1024 * 1024 })
    return Layer.mergeAll(
      HttpApiBuilder.group(Api, "workflows", (group) => group.handle("list", () => run.workflows)),
      HttpApiBuilder.group(Api, "executions", (group) =>
        group
          .handle("start", ({ payload }) => run.start(payload))
          .handle("list", ({ urlParams }) => run.executions(urlParams))
          .handle("get", ({ path }) => run.status(path.id))
          .handle("events", ({ path, urlParams }) => run.events(path.id, urlParams))
          .handle(
            "live",
            ({ headers, path, urlParams }) =>
              run.live(path.id, { lastEventId: headers["last-event-id"], from: urlParams.from })
          )
          .handle("approve", ({ path, payload }) => run.approve(path.id, path.taskId, payload))
          .handle("signal", ({ path, payload }) => run.signal(path.id, path.name, payload.payload))
          .handle("cancel", ({ path }) => run.cancel(path.id))
          .handle("resume", ({ path }) => run.resume(path.id))),
      Layer.succeed(Guard, guarded)
    )
  }))

/**
 * Adds the API's routes (under `/api`, with the OpenAPI document at `/api/openapi.json`) to the
 * `HttpLayerRouter` of an app's own server, over the engine and storage in context.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerWith = (options: Options) =>
  HttpLayerRouter.addHttpApi(Api, { openapiPath: "/api/openapi.json" }).pipe(Layer.provide(handlers(options)))

/**
 * `layerWith({})`: no token, so only requests to a loopback host are answered.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = layerWith({})

/**
 * Serves the API and the dashboard (at `/`) on `host:port` for as long as the scope lasts, and answers
 * where. Refuses (`InvalidOption`) to bind a host other than a loopback one without a token. Closing
 * the scope closes every connection, event streams included.
 *
 * @since 0.2.0
 * @category constructors
 */
export const serve = (
  options: ServeOptions = {}
): Effect.Effect<
  Address,
  WorkflowEngine.InvalidOption | Server.ServeFailed,
  Scope.Scope | WorkflowEngine.WorkflowEngine | ExecutionStorage.ExecutionStorage
> => {
  const host = options.host ?? "127.0.0.1"
  if (options.token === undefined && !isLoopback(host)) {
    return Effect.fail(
      new WorkflowEngine.InvalidOption({
        option: "host",
        value: host,
        expected: "a loopback address (127.0.0.1, ::1, localhost) unless a token is given"
      })
    )
  }
  return Server.serve(Layer.merge(layerWith(options), Dashboard.layer), { host, port: options.port ?? 0 })
}
