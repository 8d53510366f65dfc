/**
 * Start-up (DESIGN.md §8, issue 11): the wall time of a process that imports
 * the package, and of the CLI's one-shot `list` (on a SQLite file), each over
 * a bare `node -e 0`, against a process that imports `effect` alone. Rounds
 * alternate the four processes, so that drift in machine load hits them alike.
 *
 * Standalone: `tsc -p tsconfig.bench.json && node build/bench/startup.js`.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { Result } from "./harness.js"

/** The repository: the compiled bench is build/bench/, its sources' build build/src/. */
const root = fileURLToPath(new URL("../..", import.meta.url))
const built = (path: string) => fileURLToPath(new URL(`../src/${path}`, import.meta.url))

const median = (values: ReadonlyArray<number>): number => [...values].sort((a, b) => a - b)[values.length >> 1]!
const round = (n: number) => Math.round(n * 100) / 100

/** Milliseconds from spawning `node args` to its exit; fails when it does. */
const wall = (args: ReadonlyArray<string>): number => {
  const started = performance.now()
  const finished = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8" })
  const elapsed = performance.now() - started
  if (finished.status !== 0) throw new Error(`node ${args.join(" ")} failed: ${finished.stderr}`)
  return elapsed
}

export const run = async (options: { rounds?: number } = {}): Promise<ReadonlyArray<Result>> => {
  const rounds = options.rounds ?? 7
  const dir = mkdtempSync(join(tmpdir(), "workflow-bench-startup-"))
  const importing = (specifier: string) => ["--input-type=module", "-e", `await import(${JSON.stringify(specifier)})`]
  const processes = {
    bare: ["-e", "0"],
    effect: importing("effect"),
    index: importing(pathToFileURL(built("index.js")).href),
    list: [built("cli/main.js"), "--db", join(dir, "startup.db"), "list"]
  }
  const samples = {
    bare: [] as Array<number>,
    effect: [] as Array<number>,
    index: [] as Array<number>,
    list: [] as Array<number>
  }
  try {
    // Untimed: warms the file cache, and creates and migrates the database `list` reads.
    for (const args of Object.values(processes)) wall(args)
    for (let i = 0; i < rounds; i++) {
      for (const [name, args] of Object.entries(processes)) samples[name as keyof typeof samples].push(wall(args))
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const bare = median(samples.bare)
  const effect = median(samples.effect) - bare
  const row = (name: string, ours: number): Result => ({
    name,
    ours: round(ours),
    floor: round(effect),
    unit: "ms",
    ratio: round(ours / effect)
  })
  return [
    row("start-up: import the package, over node -e 0 (floor: import effect)", median(samples.index) - bare),
    row("start-up: CLI list on SQLite, over node -e 0 (floor: import effect)", median(samples.list) - bare)
  ]
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const result of await run()) console.log(JSON.stringify(result))
}
