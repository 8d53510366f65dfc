/**
 * `npm run bench`: runs every benchmark, prints ours, the floor and their
 * ratio, and writes bench/results.json.
 */
import { writeFileSync } from "node:fs"
import * as Durable from "./durable.js"
import type { Result } from "./harness.js"
import * as MemoryStep from "./memoryStep.js"
import * as Startup from "./startup.js"

const suites: ReadonlyArray<{ readonly run: () => Promise<ReadonlyArray<Result>> }> = [MemoryStep, Durable, Startup]

const results: Array<Result> = []
for (const suite of suites) {
  for (const result of await suite.run()) {
    results.push(result)
    console.log(
      `${result.name.padEnd(48)} ours ${String(result.ours).padStart(9)} ${result.unit}` +
        `  floor ${String(result.floor).padStart(9)} ${result.unit}  ratio ${result.ratio}`
    )
  }
}
writeFileSync("bench/results.json", JSON.stringify(results, null, 2) + "\n")
