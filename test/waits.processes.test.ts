/**
 * Durable waits across real processes, on a SQLite file and on PostgreSQL:
 * a process killed (SIGKILL) while 50 executions sleep, and another started
 * after their wake-up time, which runs each once; signals sent from other
 * processes before and during the wait, a refused one and a late one; a
 * parent killed while it waits for its child, resumed by the child's end.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { pgUrl, suiteDatabase } from "./pg.js"
import { runProcess, startProcess, waitFor } from "./processes.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const fixture = join(root, "test", "fixtures", "waiter.ts")
const dir = mkdtempSync(join(tmpdir(), "workflow-waits-processes-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const processSuite = (name: string, target: () => string) =>
  describe(`durable waits across processes on ${name}`, () => {
    it(
      "runs each of 50 executions once after their sleep, in a process started after the one that slept died",
      async () => {
        const trace = join(dir, `sleep-${name}-${Date.now()}.trace`)
        // "asleep" needs all 50 waiting at once: their sleep outlasts their starts even in a cold, busy process
        // (at 1.5 s the first woke before the last slept, under load, and the line never came).
        const sleeper = startProcess(["--import", "tsx", fixture, target(), trace, "sleep", "50", "5000"], {
          cwd: root
        })
        const asleep = await sleeper.line((line) => line.startsWith("asleep "), 60_000)
        sleeper.signal("SIGKILL")
        await sleeper.exit()
        // Nothing runs them while no process does: started only once their time has passed.
        const wakeAt = Number(asleep.slice("asleep ".length))
        await waitFor("their wake-up time", async () => Date.now() > wakeAt)
        const woken = await runProcess(["--import", "tsx", fixture, target(), trace, "wake", "50"], { cwd: root })
        expect(woken.stderr).toBe("")
        expect(woken.stdout).toContain("done")
        const lines = readFileSync(trace, "utf8").trim().split("\n").sort()
        const once = (step: string) => Array.from({ length: 50 }, (_, i) => `${step} ${i}`)
        expect(lines).toEqual([...once("after"), ...once("before")].sort())
      },
      180_000
    )

    it(
      "receives signals sent from other processes before and during the wait; refuses a bad one and a late one",
      async () => {
        const trace = join(dir, `signals-${name}.trace`)
        const id = `receiver-${name}-${Date.now().toString(36)}`
        const send = (name: string, json: string, declared = false) =>
          runProcess([
            "--import",
            "tsx",
            fixture,
            target(),
            trace,
            "send",
            id,
            name,
            json,
            ...(declared ? ["declared"] : [])
          ], {
            cwd: root
          })
        const receiver = startProcess(["--import", "tsx", fixture, target(), trace, "receive", id], { cwd: root })
        // Before the body waits (it sleeps first): kept in the inbox.
        await waitFor("the execution", async () => (await send("n", "1")).code === 0, 60_000)
        // Refused by a process that has the workflow, which declares "n" a number: nothing stored.
        const bad = await send("n", "\"two\"", true)
        expect(bad.code).toBe(1)
        expect(bad.stderr).toContain("InvalidSignal")
        // While it waits for the second: it took the first, and no process holds it.
        await waitFor("the wait for the second", async () => {
          const status = await runProcess(["--import", "tsx", fixture, target(), trace, "status", id], { cwd: root })
          return status.stdout.includes("status waiting signal:n")
        })
        await send("n", "2")
        await send("n", "3")
        const result = await receiver.line((line) => line.startsWith("result "), 60_000)
        expect(result).toBe("result 6")
        // After it finished: refused.
        const late = await send("n", "4")
        expect(late.code).toBe(1)
        expect(late.stderr).toContain("ExecutionFinished")
      },
      180_000
    )

    it(
      "a parent killed while it waits for its child is resumed by the child's end in another process, once",
      async () => {
        const trace = join(dir, `children-${name}.trace`)
        const id = `parent-${name}-${Date.now().toString(36)}`
        const first = startProcess(["--import", "tsx", fixture, target(), trace, "parent", id], { cwd: root })
        await first.line((line) => line === "waiting", 60_000)
        first.signal("SIGKILL")
        await first.exit()
        const finished = await runProcess(["--import", "tsx", fixture, target(), trace, "finish", id, "4"], {
          cwd: root
        })
        expect(finished.stderr).toBe("")
        expect(finished.stdout).toContain("result 40")
        // Each body started once: the parent's end came from the journal, not from a second child.
        expect(readFileSync(trace, "utf8").trim().split("\n").sort()).toEqual([`child ${id}.child`, `parent ${id}`])
      },
      180_000
    )
  })

processSuite("SQLite", () => join(dir, "waits.db"))
describe.skipIf(pgUrl === undefined)("PostgreSQL", () => {
  const database = suiteDatabase()
  processSuite("PostgreSQL", () => database.url())
})
