/**
 * A `WorkflowService`'s life in a real process: a script ends by itself when
 * nothing runs (its background work does not hold Node), a run in progress
 * keeps it alive, and `stop()` / `await using` shut it down gracefully.
 */
import { ExecutionStorage, Registry, Runnable, WorkflowService } from "@token-ring/workflow"
import type { WorkflowEventInput } from "@token-ring/workflow"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { freshDatabase, pgUrl } from "../pg.js"
import { runProcess } from "../processes.js"

const root = fileURLToPath(new URL("../..", import.meta.url))
const script = join(root, "test", "fixtures", "promiseScript.ts")
const dir = mkdtempSync(join(tmpdir(), "workflow-lifecycle-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs a scenario of the fixture to its exit; the limit only stops a script that never ends. */
const runScript = (scenario: string, filename?: string, env: NodeJS.ProcessEnv = {}) =>
  runProcess(["--import", "tsx", script, scenario, ...(filename !== undefined ? [filename] : [])], {
    cwd: root,
    env: { ...process.env, ...env }
  })

const lines = (stdout: string) => stdout.trim().split("\n")

const statusOn = async (filename: string, id: string) => {
  await using service = new WorkflowService({
    storage: ExecutionStorage.layerSqlite({ filename }),
    engine: { recover: false }
  })
  return (await service.status(id)).status
}

describe("a script on the Promise API", () => {
  it("like the README's example, ends by itself without stop()", async () => {
    const finished = await runScript("readme")
    expect(finished.stderr).toBe("")
    expect(finished.code).toBe(0)
    expect(lines(finished.stdout)).toContain("result: HELLO")
    expect(lines(finished.stdout)).toContain("output: [ 'Hello', 'processed' ]")
  })

  it("ends by itself on SQLite storage", async () => {
    const finished = await runScript("sqlite", join(dir, "sqlite.db"))
    expect(finished.stderr).toBe("")
    expect(finished.code).toBe(0)
    expect(lines(finished.stdout)).toEqual(["result: HELLO"])
  })

  describe.skipIf(pgUrl === undefined)("on PostgreSQL", () => {
    it("ends by itself once its run is done, and with an execution left waiting for approval", async () => {
      const database = await freshDatabase()
      try {
        const finished = await runScript("sqlite", database.url)
        expect(finished.stderr).toBe("")
        expect(lines(finished.stdout)).toEqual(["result: HELLO"])
        const waiting = await runScript("approval", database.url)
        expect(waiting.stderr).toBe("")
        expect(waiting.code).toBe(0)
      } finally {
        await database.drop()
      }
    })
  })

  it("ends by itself with an execution left waiting for approval, which stays waiting", async () => {
    const filename = join(dir, "approval.db")
    const finished = await runScript("approval", filename)
    expect(finished.stderr).toBe("")
    expect(finished.code).toBe(0)
    const id = lines(finished.stdout).find((line) => line.startsWith("waiting "))!.slice("waiting ".length)
    expect(await statusOn(filename, id)).toBe("waiting")
  })

  it("stays alive while a run goes on (a step waiting to be retried), and ends once it completes", async () => {
    const filename = join(dir, "retrying.db")
    const finished = await runScript("retrying", filename)
    expect(finished.stderr).toBe("")
    expect(finished.code).toBe(0)
    const [started, done] = lines(finished.stdout)
    expect(done).toBe("step done on attempt 2")
    expect(await statusOn(filename, started!.slice("started ".length))).toBe("completed")
  })

  it("`await using` stops the service at the end of the block: its run stops and stays stored as running", async () => {
    const finished = await runScript("dispose", join(dir, "dispose.db"))
    expect(finished.stderr).toBe("")
    expect(finished.code).toBe(0)
    expect(lines(finished.stdout)).toEqual(["step started", "step interrupted", "status running"])
  })
})

class Ask extends Runnable<void, string> {
  override async *invoke(): AsyncGenerator<WorkflowEventInput, string> {
    const answer = yield { type: "human_approval_required", taskId: "go", dataForApproval: {} }
    return String(answer)
  }
}

describe("WorkflowService.stop", () => {
  it("is idempotent, and `Symbol.asyncDispose` after it does nothing more", async () => {
    const service = new WorkflowService()
    await service.start(new Registry())
    await Promise.all([service.stop(), service.stop()])
    await service.stop()
    await service[Symbol.asyncDispose]()
  })

  it("ends what waits on the service: a pending result() rejects and an open stream ends", async () => {
    const service = new WorkflowService()
    service.registerWorkflow("ask", new Ask())
    const handle = await service.startWorkflow("ask", undefined)
    const seen: Array<string> = []
    const following = (async () => {
      for await (const event of handle.stream()) seen.push(event.type)
    })()
    const result = handle.result()
    while (!seen.includes("human_approval_required")) await new Promise((resolve) => setImmediate(resolve))
    await service.stop()
    await expect(result).rejects.toThrow("stopped")
    await expect(following).rejects.toThrow("stopped")
    await expect(service.startWorkflow("ask", undefined)).rejects.toThrow("stopped")
    expect(() => service.listWorkflows()).toThrow("stopped")
  })
})
