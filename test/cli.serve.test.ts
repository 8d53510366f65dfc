/**
 * `token-ring-workflow serve` in a real process over a SQLite file: it prints its URL once it listens,
 * answers the API (the token from the environment), runs what the API starts, refuses a non-loopback
 * host without a token, and stops on SIGTERM with 130, an open event stream notwithstanding.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { bin, cliIn, root } from "./cliProcess.js"
import { api, eventually, live, sseReader } from "./http.js"
import { startProcess } from "./processes.js"

const dir = mkdtempSync(join(tmpdir(), "workflow-cli-serve-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const db = ["--db", join(dir, "serve.db")]

describe("token-ring-workflow serve", () => {
  it("serves the API on the URL it prints, over the same storage as the other commands, until SIGTERM", async () => {
    const token = "process-token"
    const server = startProcess([bin, ...db, "serve", "--port", "0"], {
      cwd: root,
      env: { ...process.env, TOKEN_RING_WORKFLOW_TOKEN: token }
    })
    try {
      const line = await server.line((line) => line.startsWith("Serving"), 60_000)
      const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]!
      expect((await api(`${url}/api/workflows`)).status).toBe(401)
      const workflows = (await api(`${url}/api/workflows`, { token })).json.map((w: { name: string }) => w.name)
      expect(workflows).toContain("hello")
      const started = await api(`${url}/api/executions`, { body: { workflow: "hello", input: { name: "Ada" } }, token })
      expect(started.status).toBe(200)
      const id = started.json.id as string
      await eventually(
        "it completes",
        async () => (await api(`${url}/api/executions/${id}`, { token })).json.status === "completed"
      )
      // Another command reads what the server's engine stored.
      const status = await cliIn(dir)([...db, "status", id])
      expect(status.stdout).toContain("completed")
      // An open stream does not hold the server up.
      const reader = sseReader(await live(url, id, { token }))
      expect(await reader.next()).toBeDefined()
      server.signal("SIGTERM")
      const stopped = await server.exit()
      expect(stopped.stderr).toBe("")
      expect(stopped.code).toBe(130)
    } finally {
      server.kill()
    }
  }, 120_000)

  it("refuses to bind a non-loopback host without a token, in one line", async () => {
    const refused = await cliIn(dir)([...db, "serve", "--host", "0.0.0.0"], {
      env: { ...process.env, TOKEN_RING_WORKFLOW_TOKEN: "" }
    })
    expect(refused.code).toBe(1)
    expect(refused.stderr.trim().split("\n")).toEqual([
      "Refusing to serve on 0.0.0.0 without a token: give --token or TOKEN_RING_WORKFLOW_TOKEN, or bind 127.0.0.1"
    ])
  }, 60_000)
})
