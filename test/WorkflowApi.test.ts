/**
 * The HTTP API over a real server on an ephemeral port, with `fetch` and raw requests: every endpoint,
 * every error with its status, the live event stream (resumed with `Last-Event-ID` without a gap or a
 * repeat, its subscription closed when the client goes away), on SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Metric, Schema } from "effect"
import { ExecutionStorage, Workflow } from "../src/index.js"
import * as Sse from "../src/internal/http/sse.js"
import * as WorkflowApi from "../src/WorkflowApi.js"
import { api, eventually, live, serve, sseReader } from "./http.js"
import type { Served, SseMessage } from "./http.js"
import { onDurableStorages } from "./pg.js"

const greet = Workflow.make({
  name: "greet",
  description: "Says hello",
  input: Schema.Struct({ name: Schema.String }),
  run: ({ name }) => Workflow.step("hello", Effect.succeed(`Hello ${name}`))
})

const review = Workflow.make({
  name: "review",
  run: () =>
    Effect.gen(function*() {
      const answer = yield* Workflow.approval({ taskId: "check", dataForApproval: { draft: 1 } })
      return answer.status
    })
})

/** Three logs, a wait for `go` (a number), three more logs: the stream pauses in the middle. */
const paced = Workflow.make({
  name: "paced",
  signals: { go: Schema.Number },
  run: () =>
    Effect.gen(function*() {
      for (let i = 0; i < 3; i++) yield* Workflow.step(`before-${i}`, Workflow.log("info", `before ${i}`))
      const n = yield* Workflow.signal("go", Schema.Number)
      for (let i = 0; i < 3; i++) yield* Workflow.step(`after-${i}`, Workflow.log("info", `after ${i}`))
      return n
    })
})

const workflows = [greet, review, paced]

/** Reads messages until `stop` holds for one (it included), skipping comments. */
const readUntil = async (next: () => Promise<SseMessage | undefined>, stop: (message: SseMessage) => boolean) => {
  const messages: Array<SseMessage> = []
  for (;;) {
    const message = await next()
    if (message === undefined) return messages
    if (message.comment !== undefined) continue
    messages.push(message)
    if (stop(message)) return messages
  }
}

const untilStatus = async (served: Served, id: string, status: string) =>
  eventually(`${id} is ${status}`, async () => (await api(`${served.url}/api/executions/${id}`)).json.status === status)

const openStreams = () => Effect.runSync(Metric.value(Sse.openStreams)).value

const apiSuite = (name: string, storage: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>) =>
  describe(`HTTP API on ${name}`, () => {
    let served: Served
    let url: string
    beforeAll(async () => {
      served = await serve(storage, workflows, { heartbeat: "100 millis" })
      url = served.url
    })
    afterAll(() => served.close())

    it("lists the workflows", async () => {
      const { json, status } = await api(`${url}/api/workflows`)
      expect(status).toBe(200)
      expect(json).toContainEqual({ name: "greet", description: "Says hello" })
      expect(json.map((workflow: { name: string }) => workflow.name)).toEqual(
        expect.arrayContaining(["greet", "review", "paced"])
      )
    })

    it("starts an execution, idempotently with an executionId, and reads it, its events and the list", async () => {
      const id = `${name}-greet-1`
      const started = await api(`${url}/api/executions`, {
        body: { workflow: "greet", input: { name: "Ada" }, executionId: id }
      })
      expect(started).toEqual({ status: 200, json: { id, workflow: "greet", created: true } })
      const again = await api(`${url}/api/executions`, {
        body: { workflow: "greet", input: { name: "Ada" }, executionId: id }
      })
      expect(again.json.created).toBe(false)
      await untilStatus(served, id, "completed")
      const record = (await api(`${url}/api/executions/${id}`)).json
      expect(record).toMatchObject({ id, workflow: "greet", status: "completed", output: "Hello Ada" })
      const page = (await api(`${url}/api/executions/${id}/events?from=2&limit=1`)).json
      expect(page.events.map((event: { seq: number }) => event.seq)).toEqual([2])
      expect(page.next).toBe(3)
      expect(page.status).toBe("completed")
      const all = (await api(`${url}/api/executions/${id}/events`)).json
      expect(all.events.map((event: { seq: number }) => event.seq)).toEqual(
        Array.from({ length: record.lastSeq }, (_, i) => i + 1)
      )
      const listed = (await api(`${url}/api/executions?workflow=greet&status=completed&status=failed`)).json
      expect(listed.executions.map((execution: { id: string }) => execution.id)).toContain(id)
    })

    it("pages the list with its cursor", async () => {
      for (let i = 0; i < 3; i++) {
        await api(`${url}/api/executions`, { body: { workflow: "greet", input: { name: `n${i}` } } })
      }
      const first = (await api(`${url}/api/executions?workflow=greet&limit=2`)).json
      expect(first.executions).toHaveLength(2)
      expect(typeof first.cursor).toBe("string")
      const second = (await api(`${url}/api/executions?workflow=greet&limit=2&cursor=${first.cursor}`)).json
      const ids = [...first.executions, ...second.executions].map((execution: { id: string }) => execution.id)
      expect(new Set(ids).size).toBe(ids.length)
    })

    it("answers an approval, and refuses one that is not pending", async () => {
      const id = `${name}-review-1`
      await api(`${url}/api/executions`, { body: { workflow: "review", executionId: id } })
      await untilStatus(served, id, "waiting")
      const wrong = await api(`${url}/api/executions/${id}/approvals/other`, { body: { status: "approved" } })
      expect(wrong.status).toBe(409)
      expect(wrong.json).toMatchObject({ _tag: "ApprovalNotPending", taskId: "other" })
      expect(wrong.json.message).toContain("not waiting for approval")
      const answered = await api(`${url}/api/executions/${id}/approvals/check`, {
        body: { status: "approved", feedback: "fine" }
      })
      expect(answered.status).toBe(204)
      await untilStatus(served, id, "completed")
      const late = await api(`${url}/api/executions/${id}/approvals/check`, { body: { status: "approved" } })
      expect(late.status).toBe(409)
      expect(late.json._tag).toBe("ExecutionFinished")
    })

    it("cancels and resumes", async () => {
      const id = `${name}-cancel-1`
      await api(`${url}/api/executions`, { body: { workflow: "review", executionId: id } })
      await untilStatus(served, id, "waiting")
      const resumed = await api(`${url}/api/executions/${id}/resume`, { method: "POST" })
      expect(resumed).toEqual({ status: 200, json: { id, workflow: "review", created: false } })
      expect((await api(`${url}/api/executions/${id}/cancel`, { method: "POST" })).status).toBe(204)
      expect((await api(`${url}/api/executions/${id}`)).json.status).toBe("cancelled")
      // Cancelling a cancelled execution changes nothing; a completed one cannot be cancelled.
      expect((await api(`${url}/api/executions/${id}/cancel`, { method: "POST" })).status).toBe(204)
      const resumed2 = await api(`${url}/api/executions/${id}/resume`, { method: "POST" })
      expect(resumed2.status).toBe(409)
      expect(resumed2.json).toMatchObject({ _tag: "ExecutionFinished", status: "cancelled" })
      const done = `${name}-cancel-done`
      await api(`${url}/api/executions`, { body: { workflow: "greet", input: { name: "x" }, executionId: done } })
      await untilStatus(served, done, "completed")
      const late = await api(`${url}/api/executions/${done}/cancel`, { method: "POST" })
      expect(late.status).toBe(409)
      expect(late.json).toMatchObject({ _tag: "ExecutionFinished", status: "completed" })
    })

    it("streams events live; a client that reconnects with Last-Event-ID misses none and gets none twice", async () => {
      const id = `${name}-paced-1`
      await api(`${url}/api/executions`, { body: { workflow: "paced", executionId: id } })
      const first = await live(url, id)
      expect(first.status).toBe(200)
      expect(first.headers.get("content-type")).toContain("text/event-stream")
      expect(first.headers.get("access-control-allow-origin")).toBeNull()
      const reader = sseReader(first)
      const before = await readUntil(reader.next, (message) => JSON.parse(message.data!).type === "wait_started")
      await reader.cancel()
      await eventually("the stream is closed", () => openStreams() === 0)
      // Events are stored while no one is connected.
      const signalled = await api(`${url}/api/executions/${id}/signals/go`, { body: { payload: 7 } })
      expect(signalled.status).toBe(204)
      await untilStatus(served, id, "completed")
      const again = sseReader(await live(url, id, { lastEventId: before.at(-1)!.id! }))
      const after = await readUntil(again.next, (message) => message.event === "end")
      expect(after.at(-1)).toEqual({ event: "end", data: "{}" })
      expect(await again.next()).toBeUndefined()
      const seqs = [...before, ...after.slice(0, -1)].map((message) => Number(message.id))
      const events = [...before, ...after.slice(0, -1)].map((message) => JSON.parse(message.data!))
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
      expect(events.map((event) => event.seq)).toEqual(seqs)
      const record = (await api(`${url}/api/executions/${id}`)).json
      expect(seqs.length).toBe(record.lastSeq)
      expect(record.output).toBe(7)
      // `?from=` starts there too.
      const from = sseReader(await fetch(`${url}/api/executions/${id}/events/live?from=${record.lastSeq}`))
      const tail = await readUntil(from.next, (message) => message.event === "end")
      expect(tail.map((message) => message.id)).toEqual([String(record.lastSeq), undefined])
    })

    it("keeps an idle stream open with comments, and closes its subscription when the client goes away", async () => {
      const id = `${name}-paced-2`
      await api(`${url}/api/executions`, { body: { workflow: "paced", executionId: id } })
      await untilStatus(served, id, "waiting")
      const abort = new AbortController()
      const reader = sseReader(await live(url, id, { signal: abort.signal }))
      await readUntil(reader.next, (message) => JSON.parse(message.data!).type === "wait_started")
      let comments = 0
      while (comments < 2) if ((await reader.next())?.comment !== undefined) comments++
      expect(openStreams()).toBe(1)
      abort.abort()
      await eventually("the stream is closed", () => openStreams() === 0)
      await api(`${url}/api/executions/${id}/cancel`, { method: "POST" })
    })

    it("refuses what the engine refuses, each with its status", async () => {
      const expectError = async (response: Promise<{ status: number; json: any }>, status: number, tag: string) => {
        const { json, status: actual } = await response
        expect({ status: actual, tag: json?._tag }).toEqual({ status, tag })
        expect(typeof json.message).toBe("string")
        return json
      }
      const unknown = await expectError(
        api(`${url}/api/executions`, { body: { workflow: "nope" } }),
        404,
        "WorkflowNotFound"
      )
      expect(unknown.message).toContain("nope")
      const invalid = await expectError(
        api(`${url}/api/executions`, { body: { workflow: "greet", input: { name: 1 } } }),
        422,
        "InvalidInput"
      )
      expect(invalid.message).toContain("name")
      await api(`${url}/api/executions`, {
        body: { workflow: "greet", input: { name: "x" }, executionId: `${name}-c` }
      })
      await expectError(
        api(`${url}/api/executions`, { body: { workflow: "review", executionId: `${name}-c` } }),
        409,
        "ExecutionIdConflict"
      )
      await expectError(
        api(`${url}/api/executions`, { body: { workflow: "greet", input: { name: "x" }, executionId: "a\u0000b" } }),
        400,
        "InvalidOption"
      )
      await expectError(api(`${url}/api/executions`, { body: { input: {} } }), 400, "HttpApiDecodeError")
      await expectError(api(`${url}/api/executions?limit=0`), 400, "HttpApiDecodeError")
      await expectError(api(`${url}/api/executions?cursor=garbage`), 400, "InvalidCursor")
      await expectError(api(`${url}/api/executions/none`), 404, "ExecutionNotFound")
      await expectError(api(`${url}/api/executions/none/events`), 404, "ExecutionNotFound")
      await expectError(
        live(url, "none").then(async (r) => ({ status: r.status, json: await r.json() })),
        404,
        "ExecutionNotFound"
      )
      const badId = await live(url, `${name}-c`, { lastEventId: "seven" })
      await expectError(Promise.resolve({ status: badId.status, json: await badId.json() }), 400, "InvalidOption")
      await expectError(api(`${url}/api/executions/none/cancel`, { method: "POST" }), 404, "ExecutionNotFound")
      await expectError(api(`${url}/api/executions/none/resume`, { method: "POST" }), 404, "ExecutionNotFound")
      await expectError(
        api(`${url}/api/executions/none/approvals/t`, { body: { status: "approved" } }),
        404,
        "ExecutionNotFound"
      )
      await expectError(
        api(`${url}/api/executions/none/signals/go`, { body: { payload: 1 } }),
        404,
        "ExecutionNotFound"
      )
      const waiting = `${name}-signal-bad`
      await api(`${url}/api/executions`, { body: { workflow: "paced", executionId: waiting } })
      const refused = await expectError(
        api(`${url}/api/executions/${waiting}/signals/go`, { body: { payload: "seven" } }),
        422,
        "InvalidSignal"
      )
      expect(refused.message).toContain("go")
      await expectError(
        api(`${url}/api/executions/${waiting}/signals/stop`, { body: { payload: 1 } }),
        422,
        "InvalidSignal"
      )
      await api(`${url}/api/executions/${waiting}/cancel`, { method: "POST" })
      await expectError(
        api(`${url}/api/executions/${waiting}/signals/go`, { body: { payload: 1 } }),
        409,
        "ExecutionFinished"
      )
    })

    it("serves its OpenAPI document and the dashboard's place", async () => {
      const spec = (await api(`${url}/api/openapi.json`)).json
      expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining([
        "/api/workflows",
        "/api/executions",
        "/api/executions/{id}",
        "/api/executions/{id}/events",
        "/api/executions/{id}/events/live",
        "/api/executions/{id}/approvals/{taskId}",
        "/api/executions/{id}/signals/{name}",
        "/api/executions/{id}/cancel",
        "/api/executions/{id}/resume"
      ]))
      const page = await fetch(`${url}/`)
      expect(page.headers.get("content-type")).toContain("text/html")
      expect(await page.text()).toContain("/api/openapi.json")
      expect(WorkflowApi.Api).toBeDefined()
    })
  })

onDurableStorages(apiSuite)
