/**
 * One schedule in two real processes on one database (a SQLite file,
 * PostgreSQL): both tick it every second, as each declares it when it
 * starts; every tick is started by one of them only, and none is lost.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { pgUrl, suiteDatabase } from "./pg.js"
import { startProcess, waitFor } from "./processes.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const fixture = join(root, "test", "fixtures", "ticker.ts")
const dir = mkdtempSync(join(tmpdir(), "workflow-schedules-processes-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const TICKS = 8

const read = (trace: string) =>
  existsSync(trace) ? readFileSync(trace, "utf8").trim().split("\n").filter((line) => line !== "") : []

const processSuite = (name: string, target: () => string) =>
  describe(`a schedule across processes on ${name}`, () => {
    it("starts each tick once, from either process, and skips none", async () => {
      const trace = join(dir, `ticks-${name}.trace`)
      const schedule = `every-second-${name}-${Date.now().toString(36)}`
      const tickers = [0, 1].map(() =>
        startProcess(["--import", "tsx", fixture, target(), trace, schedule], { cwd: root })
      )
      try {
        await Promise.all(tickers.map((ticker) => ticker.line((line) => line === "ticking", 60_000)))
        // Counted from when both tick: each body run appends its execution.
        const before = read(trace).length
        await waitFor(`${TICKS} ticks more`, async () => read(trace).length >= before + TICKS, 120_000)
      } finally {
        for (const ticker of tickers) ticker.kill()
        await Promise.all(tickers.map((ticker) => ticker.exit()))
      }
      const runs = read(trace).map((line) => line.split(" ")[0]!)
      // No tick's body ran twice (each execution id once), though both processes ticked the schedule.
      expect(new Set(runs).size).toBe(runs.length)
      // Each id is the schedule's name and its tick; the ticks follow each other second by second.
      const ticks = runs.map((id) => {
        expect(id.startsWith(`${schedule}@`)).toBe(true)
        return Date.parse(id.slice(schedule.length + 1))
      }).sort((a, b) => a - b)
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(1000)
    }, 240_000)
  })

processSuite("SQLite", () => join(dir, "schedules.db"))
describe.skipIf(pgUrl === undefined)("PostgreSQL", () => {
  const database = suiteDatabase()
  processSuite("PostgreSQL", () => database.url())
})
