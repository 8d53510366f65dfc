/**
 * Real processes, really killed: a worker runs a 20-step workflow and is
 * killed with SIGKILL in the middle of a step; a new process on the same
 * database finishes the execution once the dead one's lease expires.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { pgUrl, suiteDatabase } from "./pg.js"
import { runProcess } from "./processes.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const worker = join(root, "test", "fixtures", "worker.ts")
const dir = mkdtempSync(join(tmpdir(), "workflow-crash-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs the worker; `killAt` kills it with SIGKILL as soon as it prints that line. */
const runWorker = (args: ReadonlyArray<string>, killAt?: string) =>
  runProcess(["--import", "tsx", worker, ...args], {
    cwd: root,
    ...(killAt !== undefined ? { killWhen: (stdout: string) => stdout.split("\n").includes(killAt) } : {})
  })

const lineValue = (stdout: string, prefix: string): string | undefined =>
  stdout.split("\n").find((line) => line.startsWith(`${prefix} `))?.slice(prefix.length + 1)

const crashSuite = (name: string, target: () => string) =>
  describe(`crash recovery on ${name}`, () => {
    for (const killedIn of [2, 11, 18]) {
      it(`finishes a 20-step workflow killed with SIGKILL during step ${killedIn}`, async () => {
        const id = `crash-${killedIn}-${Date.now().toString(36)}`
        const trace = join(dir, `${id}.trace`)
        const killed = await runWorker([target(), "steps", id, trace], `started ${killedIn}`)
        expect(killed.signal).toBe("SIGKILL")
        expect(lineValue(killed.stdout, "result")).toBeUndefined()

        const recovered = await runWorker([target(), "recover", id, trace])
        expect(recovered.stderr).toBe("")
        expect(recovered.code).toBe(0)
        expect(lineValue(recovered.stdout, "result")).toBe(
          String(Array.from({ length: 20 }, (_, i) => i * i).reduce((a, b) => a + b))
        )

        // Every step before the kill ran once, the interrupted one at most twice, every later one once.
        const starts = new Map<number, number>()
        for (const line of readFileSync(trace, "utf8").split("\n")) {
          if (line.startsWith("start ")) starts.set(Number(line.slice(6)), (starts.get(Number(line.slice(6))) ?? 0) + 1)
        }
        for (let step = 0; step < 20; step++) {
          const times = starts.get(step) ?? 0
          if (step === killedIn) expect(times === 1 || times === 2).toBe(true)
          else expect(times).toBe(1)
        }

        // The stored log: seq 1..n without gaps, each step started and ended exactly once, the result last.
        const events = JSON.parse(lineValue(recovered.stdout, "events")!) as Array<[number, string, string | null]>
        expect(events.map(([seq]) => seq)).toEqual(events.map((_, i) => i + 1))
        for (const type of ["step_start", "step_end"]) {
          const names = events.filter(([, t]) => t === type).map(([, , step]) => step)
          expect(names).toEqual(Array.from({ length: 20 }, (_, i) => `step-${i}`))
        }
        expect(events.at(-1)?.[1]).toBe("final_output")
      })
    }

    it("answers an approval in one process and finishes it in a third", async () => {
      const id = `approval-${Date.now().toString(36)}`
      const trace = join(dir, `${id}.trace`)
      const asked = await runWorker([target(), "ask", id, trace])
      expect(asked.stdout).toContain("waiting")
      expect(asked.code).toBe(0)
      const approved = await runWorker([target(), "approve", id])
      expect(approved.stdout).toContain("approved")
      expect(approved.code).toBe(0)
      const finished = await runWorker([target(), "recover", id, trace])
      expect(lineValue(finished.stdout, "result")).toBe("draft approved")
      expect(readFileSync(trace, "utf8").split("\n").filter((line) => line === "prepare")).toHaveLength(1)
      const types = (JSON.parse(lineValue(finished.stdout, "events")!) as Array<[number, string]>).map(([, t]) => t)
      expect(types).toEqual([
        "step_start",
        "step_end",
        "human_approval_required",
        "human_approval_completed",
        "final_output"
      ])
    })
  })

crashSuite("SQLite", () => join(dir, "crash.db"))

describe.skipIf(pgUrl === undefined)("PostgreSQL", () => {
  const database = suiteDatabase()
  crashSuite("PostgreSQL", database.url)
})
