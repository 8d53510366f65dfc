/**
 * The standalone server: Node's `http` server under `HttpLayerRouter`, serving routes for as long as a
 * scope lasts. `@effect/platform-node` is imported when a server starts, not when the API is.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Http from "node:http"

/** The server could not listen (the port is taken, the host is not this machine's...). */
export class ServeFailed extends Data.TaggedError("ServeFailed")<{
  readonly host: string
  readonly port: number
  readonly reason: string
}> {
  override get message(): string {
    return `Could not serve on ${this.host}:${this.port}: ${this.reason}`
  }
}

/** Serves `routes` on `host:port` in the scope; answers the address it listens on. */
export const serve = <E, R>(
  routes: Layer.Layer<never, E, R>,
  options: { readonly host: string; readonly port: number }
) =>
  Effect.gen(function*() {
    const [NodeHttpServer, { createServer }] = yield* Effect.promise(() =>
      Promise.all([import("@effect/platform-node/NodeHttpServer"), import("node:http")])
    )
    const server: Http.Server = createServer()
    const listening = Layer.mergeAll(
      Layer.scoped(
        (yield* Effect.promise(() => import("@effect/platform/HttpServer"))).HttpServer,
        NodeHttpServer.make(() => server, { host: options.host, port: options.port })
      ),
      NodeHttpServer.layerContext
    )
    const app = HttpLayerRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(
      Layer.provide(listening)
    )
    const scope = yield* Effect.scope
    yield* Layer.buildWithScope(app, scope).pipe(
      Effect.catchAll((error) =>
        Effect.fail(
          new ServeFailed({ ...options, reason: String((error as { cause?: unknown }).cause ?? error) })
        )
      )
    )
    // Runs before the server's own close, which waits for every connection: event streams never end.
    yield* Effect.addFinalizer(() => Effect.sync(() => server.closeAllConnections()))
    const address = server.address() as { readonly address: string; readonly port: number }
    const host = address.address.includes(":") ? `[${address.address}]` : address.address
    return { host: address.address, port: address.port, url: `http://${host}:${address.port}` }
  })
