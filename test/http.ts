/**
 * For the HTTP API tests: an engine with the API served on an ephemeral port, a raw request (any
 * header, any body, as a browser or a stranger would send it) and a Server-Sent Events reader over a
 * response body.
 */
import { Effect, Exit, Layer, Scope } from "effect"
import { request as httpRequest } from "node:http"
import { ExecutionStorage, WorkflowEngine } from "../src/index.js"
import type { Workflow } from "../src/index.js"
import * as WorkflowApi from "../src/WorkflowApi.js"

export interface Served {
  readonly url: string
  readonly engine: WorkflowEngine.WorkflowEngineService
  readonly close: () => Promise<void>
}

/** Serves the API over `storage` with `workflows` registered, until `close`. */
export const serve = async (
  storage: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>,
  workflows: ReadonlyArray<Workflow.Any>,
  options: WorkflowApi.ServeOptions = {}
): Promise<Served> => {
  const scope = Effect.runSync(Scope.make())
  const program = Effect.gen(function*() {
    const context = yield* Layer.build(Layer.provideMerge(WorkflowEngine.layer, storage))
    const engine = yield* Effect.provide(WorkflowEngine.WorkflowEngine, context)
    for (const workflow of workflows) yield* engine.register(workflow as Workflow.Workflow<unknown, unknown, unknown>)
    const address = yield* Effect.provide(WorkflowApi.serve(options), context)
    return { url: address.url, engine }
  })
  const served = await Effect.runPromise(Scope.extend(program, scope))
  return { ...served, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

export interface RawResponse {
  readonly status: number
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly text: string
  readonly json: any
}

/** A request with exactly these headers (`Host` included) and body, chunked when `chunked`. */
export const raw = (
  url: string,
  options: {
    readonly method?: string
    readonly headers?: Record<string, string>
    readonly body?: string
    readonly chunked?: boolean
  } = {}
): Promise<RawResponse> =>
  new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: options.method ?? "GET", headers: options.headers ?? {} },
      (response) => {
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => text += chunk)
        response.on("end", () => {
          let json: unknown
          try {
            json = JSON.parse(text)
          } catch {
            json = undefined
          }
          resolve({ status: response.statusCode!, headers: response.headers, text, json })
        })
      }
    )
    request.on("error", reject)
    if (options.body !== undefined) {
      if (options.chunked === true) {
        for (let at = 0; at < options.body.length; at += 64 * 1024) {
          request.write(options.body.slice(at, at + 64 * 1024))
        }
      } else {
        request.setHeader("content-length", Buffer.byteLength(options.body))
        request.write(options.body)
      }
    }
    request.end()
  })

/** A JSON request with `fetch`. */
export const api = async (
  url: string,
  options: { readonly method?: string; readonly body?: unknown; readonly token?: string } = {}
): Promise<{ readonly status: number; readonly json: any }> => {
  const response = await fetch(url, {
    method: options.method ?? (options.body === undefined ? "GET" : "POST"),
    headers: {
      ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
      ...(options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {})
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {})
  })
  const text = await response.text()
  return { status: response.status, json: text === "" ? undefined : JSON.parse(text) }
}

/** One Server-Sent Event: a comment has only `comment`. */
export interface SseMessage {
  readonly id?: string
  readonly event?: string
  readonly data?: string
  readonly comment?: string
}

/** Reads a `text/event-stream` response as it comes: `next` waits for the next message, or `undefined` at its end. */
export const sseReader = (response: Response) => {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  const next = async (): Promise<SseMessage | undefined> => {
    for (;;) {
      const end = buffer.indexOf("\n\n")
      if (end >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const message: Record<string, string> = {}
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) message.comment = line.slice(1).trim()
          else {
            const colon = line.indexOf(":")
            const field = line.slice(0, colon)
            const value = line.slice(colon + 1).replace(/^ /, "")
            message[field] = message[field] === undefined ? value : `${message[field]}\n${value}`
          }
        }
        return message
      }
      const { done, value } = await reader.read()
      if (done) return undefined
      buffer += value
    }
  }
  return { next, cancel: () => reader.cancel() }
}

/** Opens an execution's live events. */
export const live = (
  url: string,
  id: string,
  options: { readonly lastEventId?: string; readonly token?: string; readonly signal?: AbortSignal } = {}
) =>
  fetch(`${url}/api/executions/${encodeURIComponent(id)}/events/live`, {
    headers: {
      accept: "text/event-stream",
      ...(options.lastEventId !== undefined ? { "last-event-id": options.lastEventId } : {}),
      ...(options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {})
    },
    ...(options.signal !== undefined ? { signal: options.signal } : {})
  })

/** Polls `check` until it holds (each round yields to the event loop), failing after `timeout` ms with `what`. */
export const eventually = async (what: string, check: () => boolean | Promise<boolean>, timeout = 10_000) => {
  const deadline = Date.now() + timeout
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
