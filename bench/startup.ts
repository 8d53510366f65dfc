/**
 * Start-up wall time of fresh `node` processes: importing the package and the
 * CLI's one-shot `list` against importing `effect` alone (issue 11's targets
 * are ratios to it), and `effect` against `node -e 0` for reference. The four
 * commands run in turn each round, in a rotating order, so that load drift
 * hits them alike; medians of the rounds. Needs `dist/` (`npm run bench`
 * builds it first).
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import type { Result } from "./harness.js"
import { median, result } from "./harness.js"
import type { Targets } from "./targets.js"

const ROUNDS = 7
const WARMUP = 1

const importing = (specifier: string) => ["--input-type=module", "-e", `await import(${JSON.stringify(specifier)})`]

export const run = async (targets: Targets): Promise<Array<Result>> => {
  const index = resolve("dist/index.js")
  const cli = resolve("dist/cli/main.js")
  if (!existsSync(index) || !existsSync(cli)) throw new Error("dist/ is missing: run `npm run build` first")
  // A database of its own (the CLI would use .workflow/ in the working directory), and no model to build.
  const env = { ...process.env }
  delete env.TOKEN_RING_MODEL
  const labels = ["node -e 0", "import effect", "import the package", "CLI list"]
  const commands = [
    ["-e", "0"],
    importing("effect"),
    importing(pathToFileURL(index).href),
    [cli, "--db", targets.file("cli.db"), "list"]
  ]
  const samples = commands.map((): Array<number> => [])
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    for (let i = 0; i < commands.length; i++) {
      const which = (round + i) % commands.length
      const started = performance.now()
      const child = spawnSync(process.execPath, commands[which]!, { env, stdio: ["ignore", "ignore", "pipe"] })
      const elapsed = performance.now() - started
      if (child.status !== 0) throw new Error(`${labels[which]} exited with ${child.status}: ${child.stderr}`)
      if (round >= WARMUP) samples[which]!.push(elapsed)
    }
  }
  const [node, effect, pkg, list] = samples.map(median) as [number, number, number, number]
  console.log(
    `  over node -e 0 (${node.toFixed(0)} ms): import effect +${(effect - node).toFixed(0)} ms, ` +
      `import the package +${(pkg - node).toFixed(0)} ms, CLI list +${(list - node).toFixed(0)} ms`
  )
  return [
    result(`start-up: import "effect" alone (reference; floor: node -e 0, median of ${ROUNDS})`, effect, node),
    result(`start-up: import the package, dist/index.js (floor: import "effect" alone)`, pkg, effect),
    result(`start-up: CLI one-shot \`list\` on SQLite (floor: import "effect" alone)`, list, effect)
  ]
}
