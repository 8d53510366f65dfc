/**
 * Who the HTTP API answers: the token on every request (when the server has one), no other origin, no
 * other host without a token, bodies that are JSON, small and free of `__proto__`; a storage failure is
 * a 500 that does not leak its cause; and the API mounted on an app's own router.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { createServer } from "node:http"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import * as WorkflowApi from "../src/WorkflowApi.js"
import { api, live, raw, serve } from "./http.js"
import type { Served } from "./http.js"

const echo = Workflow.make({ name: "echo", run: (input: unknown) => Effect.succeed(input) })
const token = "s3cret-token"

describe("HTTP API: the token", () => {
  let served: Served
  beforeAll(async () => {
    served = await serve(ExecutionStorage.layerMemory, [echo], { token })
  })
  afterAll(() => served.close())

  it("is required on every API request, and compared whole", async () => {
    for (const sent of [undefined, "", "s3cret", `${token}x`, token.toUpperCase()]) {
      const response = await api(`${served.url}/api/workflows`, sent === undefined ? {} : { token: sent })
      expect(response.status, String(sent)).toBe(401)
      expect(response.json).toMatchObject({ _tag: "Unauthorized" })
    }
    expect((await api(`${served.url}/api/workflows`, { token })).status).toBe(200)
    const refusedStart = await api(`${served.url}/api/executions`, { body: { workflow: "echo" } })
    expect(refusedStart.status).toBe(401)
    expect((await api(`${served.url}/api/executions`, { token })).json.executions).toEqual([])
    expect((await live(served.url, "any")).status).toBe(401)
    expect((await live(served.url, "any", { token })).status).toBe(404)
  })

  it("is not a cookie, and no CORS header lets another origin read an answer", async () => {
    const response = await raw(`${served.url}/api/workflows`, {
      headers: { cookie: `token=${token}`, origin: "https://evil.example" }
    })
    expect(response.status).toBe(401)
    const preflight = await raw(`${served.url}/api/executions`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" }
    })
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined()
    expect(preflight.status).toBeGreaterThanOrEqual(400)
  })

  it("with a token, any host name is answered, but not another page's origin", async () => {
    const authorization = `Bearer ${token}`
    expect((await raw(`${served.url}/api/workflows`, { headers: { authorization, host: "box.lan:1" } })).status)
      .toBe(200)
    const crossSite = await raw(`${served.url}/api/executions`, {
      method: "POST",
      headers: { authorization, origin: "https://evil.example", "content-type": "application/json" },
      body: JSON.stringify({ workflow: "echo" })
    })
    expect(crossSite.status).toBe(403)
    expect(crossSite.json).toMatchObject({ _tag: "CrossSiteRequest", header: "Origin" })
  })

  it("is needed to bind anything but a loopback host", async () => {
    const refused = await Effect.runPromiseExit(
      Effect.scoped(WorkflowApi.serve({ host: "0.0.0.0" })).pipe(Effect.provide(WorkflowEngine.layerMemory))
    )
    expect(Exit.isFailure(refused)).toBe(true)
    expect(String(Exit.isFailure(refused) && refused.cause)).toContain("loopback")
    const bound = await Effect.runPromise(
      Effect.scoped(
        Effect.flatMap(WorkflowApi.serve({ host: "0.0.0.0", token }), (address) =>
          Effect.promise(async () => {
            const port = address.port
            return (await api(`http://127.0.0.1:${port}/api/workflows`, { token })).status
          }))
      ).pipe(Effect.provide(WorkflowEngine.layerMemory))
    )
    expect(bound).toBe(200)
  })
})

describe("HTTP API: without a token", () => {
  let served: Served
  beforeAll(async () => {
    served = await serve(ExecutionStorage.layerMemory, [echo], { maxBodySize: 1024 })
  })
  afterAll(() => served.close())
  const post = (path: string, body: string, headers: Record<string, string> = {}, chunked = false) =>
    raw(`${served.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
      chunked
    })

  it("answers loopback host names only (no DNS rebinding), and its own origin only", async () => {
    for (const host of ["localhost", `localhost:${new URL(served.url).port}`, "[::1]:80"]) {
      expect((await raw(`${served.url}/api/workflows`, { headers: { host } })).status, host).toBe(200)
    }
    const rebound = await raw(`${served.url}/api/workflows`, { headers: { host: "attacker.example" } })
    expect(rebound.status).toBe(403)
    expect(rebound.json).toMatchObject({ _tag: "CrossSiteRequest", header: "Host", value: "attacker.example" })
    const forged = await post("/api/executions", JSON.stringify({ workflow: "echo" }), {
      origin: "https://evil.example"
    })
    expect(forged.status).toBe(403)
    const own = await post("/api/executions", JSON.stringify({ workflow: "echo" }), { origin: served.url })
    expect(own.status).toBe(200)
  })

  it("takes JSON bodies only, within the size limit, without __proto__", async () => {
    const form = await raw(`${served.url}/api/executions`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "workflow=echo"
    })
    expect(form.status).toBe(415)
    expect(form.json).toMatchObject({ _tag: "UnsupportedMediaType" })
    const text = await raw(`${served.url}/api/executions/x/cancel`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "{}"
    })
    expect(text.status).toBe(415)
    const big = JSON.stringify({ workflow: "echo", input: "x".repeat(2000) })
    const declared = await post("/api/executions", big)
    expect(declared.status).toBe(413)
    expect(declared.json).toMatchObject({ _tag: "PayloadTooLarge", limit: 1024 })
    const chunked = await post("/api/executions", JSON.stringify({ workflow: "echo" }), {}, true)
    expect(chunked.status).toBe(411)
    expect(chunked.json).toMatchObject({ _tag: "LengthRequired" })
    const broken = await post("/api/executions", "{\"workflow\": ")
    expect(broken.status).toBe(400)
    expect(broken.json.message).toContain("not JSON")
    const proto = await post("/api/executions", "{\"workflow\":\"echo\",\"input\":{\"a\":{\"__proto__\":{\"x\":1}}}}")
    expect(proto.status).toBe(400)
    expect(proto.json).toMatchObject({ _tag: "InvalidBody" })
    expect(proto.json.message).toContain("input.a.__proto__")
    expect((await api(`${served.url}/api/executions`)).json.executions).toHaveLength(1)
  })
})

describe("HTTP API: a storage failure", () => {
  const failing = Layer.effect(
    ExecutionStorage.ExecutionStorage,
    Effect.map(ExecutionStorage.makeMemory, (storage) => ({
      ...storage,
      // Only this listing: the engine's own (recovery) goes on.
      list: (filter) =>
        filter?.workflow === "broken"
          ? Effect.fail(
            new ExecutionStorage.StorageError({ operation: "list", reason: "disk gone", cause: new Error("EIO at /x") })
          )
          : storage.list(filter)
    }))
  )

  it("is a 500 with its operation and reason, not its cause", async () => {
    const served = await serve(failing, [echo])
    try {
      const response = await raw(`${served.url}/api/executions?workflow=broken`)
      expect(response.status).toBe(500)
      expect(response.json).toEqual({
        _tag: "StorageError",
        operation: "list",
        reason: "disk gone",
        message: "Execution storage failed during list: disk gone"
      })
    } finally {
      await served.close()
    }
  })
})

describe("HTTP API: in an app's own server", () => {
  it("adds its routes to the app's HttpLayerRouter, beside the app's own", async () => {
    const scope = Effect.runSync(Scope.make())
    const app = Layer.mergeAll(
      WorkflowApi.layer,
      HttpLayerRouter.add("GET", "/health", HttpServerResponse.text("ok"))
    )
    const server = createServer()
    await Effect.runPromise(
      Layer.buildWithScope(
        HttpLayerRouter.serve(app, { disableListenLog: true, disableLogger: true }).pipe(
          Layer.provide(NodeHttpServer.layer(() => server, { host: "127.0.0.1", port: 0 })),
          Layer.provide(WorkflowEngine.layerMemory)
        ),
        scope
      )
    )
    try {
      const { port } = server.address() as { port: number }
      expect(await (await fetch(`http://127.0.0.1:${port}/health`)).text()).toBe("ok")
      expect((await api(`http://127.0.0.1:${port}/api/workflows`)).json).toEqual([])
    } finally {
      server.closeAllConnections()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })
})
