/**
 * The Promise API is quiet: nothing the engine or the flow helpers log is
 * printed unless a `logger` is given; Effect code keeps Effect's `Logger`.
 */
import { Flow, queue, WorkflowService } from "@token-ring/workflow"
import type { WorkflowLogLevel } from "@token-ring/workflow"
import { Effect, Logger } from "effect"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { runProcess } from "../processes.js"

const root = fileURLToPath(new URL("../..", import.meta.url))
const script = join(root, "test", "fixtures", "promiseScript.ts")

const services: Array<WorkflowService> = []
afterEach(() => Promise.all(services.splice(0).map((service) => service.stop())))

/** A task that fails twice, then succeeds. */
const flaky = () => {
  let calls = 0
  return () => ++calls <= 2 ? Promise.reject(new Error("flaky")) : Promise.resolve("ok")
}

const retried = { name: "q", retries: 3, backoff: { initial: 1 } }

const collecting = (logLevel?: WorkflowLogLevel) => {
  const entries: Array<[string, string, unknown]> = []
  const service = new WorkflowService({
    logger: (level, message, details) => entries.push([level, message, details]),
    ...(logLevel !== undefined ? { logLevel } : {})
  })
  services.push(service)
  return { entries, service }
}

describe("logging", () => {
  it("prints nothing by default: a queue retried through a service, and on its own (a real process)", async () => {
    const finished = await runProcess(["--import", "tsx", script, "queue"], { cwd: root })
    expect(finished.code).toBe(0)
    expect(finished.stderr).toBe("")
    expect(finished.stdout).toBe("queue results ok ok\n")
  })

  it("hands the service's logs to its `logger`: a queue's retry warnings, with the error as details", async () => {
    const { entries, service } = collecting()
    expect(await service.run({ execute: () => queue(retried, flaky()) }, undefined)).toBe("ok")
    expect(entries).toEqual([
      ["warn", "q: attempt 1 failed, retrying", { name: "Error", message: "flaky" }],
      ["warn", "q: attempt 2 failed, retrying", { name: "Error", message: "flaky" }]
    ])
  })

  it("gives `logger` only what is at least as severe as `logLevel`", async () => {
    const quiet = collecting("error")
    await quiet.service.run({ execute: () => queue(retried, flaky()) }, undefined)
    expect(quiet.entries).toEqual([])
    const chatty = collecting("debug")
    await chatty.service.run({ execute: () => queue(retried, flaky()) }, undefined)
    expect(chatty.entries.map(([level, message]) => `${level} ${message}`)).toEqual([
      "debug task started: q",
      "debug task started: q#0",
      "warn q: attempt 1 failed, retrying",
      "warn q: attempt 2 failed, retrying",
      "debug task succeeded: q#0",
      "debug task succeeded: q"
    ])
  })

  it("leaves Effect code on Effect's Logger: the same warnings reach a Logger the program provides", async () => {
    const messages: Array<unknown> = []
    const logger = Logger.make(({ message }) => messages.push(message))
    let calls = 0
    const task = Effect.suspend(() => ++calls <= 2 ? Effect.fail("flaky") : Effect.succeed("ok"))
    const program = Flow.queue({ name: "q", fn: task, retries: 3, backoff: { initial: "1 millis" } })
    expect(await Effect.runPromise(program.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger))))).toBe(
      "ok"
    )
    expect(messages).toEqual([["q: attempt 1 failed, retrying", "flaky"], ["q: attempt 2 failed, retrying", "flaky"]])
  })
})
