/**
 * `npm run bench`: runs every benchmark (each row printed as it is measured:
 * ours, the floor, their ratio), and writes bench/results.json (`[{ name, ours, floor, unit, ratio }]`).
 * PostgreSQL rows need TEST_PG_URL (a database of their own is created and
 * dropped); without it they are skipped with a notice. Suite names as
 * arguments (`node build/bench/run.js latency peer`) run only those and write
 * no results file.
 */
import { writeFileSync } from "node:fs"
import * as Bounds from "./bounds.js"
import * as CrossProcess from "./crossProcess.js"
import * as Fanout from "./fanout.js"
import type { Result } from "./harness.js"
import * as Latency from "./latency.js"
import * as MemoryStep from "./memoryStep.js"
import * as Peer from "./peer.js"
import * as Resume from "./resume.js"
import * as Sequential from "./sequential.js"
import * as Sse from "./sse.js"
import * as Startup from "./startup.js"
import * as Targets from "./targets.js"
import * as Throughput from "./throughput.js"
import * as Waits from "./waits.js"
import * as Workers from "./workers.js"

const suites: Record<string, { readonly run: (targets: Targets.Targets) => Promise<ReadonlyArray<Result>> }> = {
  memoryStep: MemoryStep,
  sequential: Sequential,
  bounds: Bounds,
  latency: Latency,
  throughput: Throughput,
  resume: Resume,
  fanout: Fanout,
  crossProcess: CrossProcess,
  workers: Workers,
  waits: Waits,
  sse: Sse,
  startup: Startup,
  peer: Peer
}
const only = process.argv.slice(2)
const unknown = only.filter((name) => !(name in suites))
if (unknown.length > 0) {
  throw new Error(`unknown suites ${unknown.join(", ")}; known: ${Object.keys(suites).join(", ")}`)
}

const started = performance.now()
const targets = await Targets.make()
const results: Array<Result> = []
try {
  for (const [name, suite] of Object.entries(suites)) {
    if (only.length > 0 && !only.includes(name)) continue
    results.push(...await suite.run(targets))
  }
} finally {
  await targets.close()
}
const seconds = ((performance.now() - started) / 1000).toFixed(0)
if (only.length === 0) {
  writeFileSync("bench/results.json", JSON.stringify(results, null, 2) + "\n")
  console.log(`${results.length} rows in ${seconds} s: bench/results.json`)
} else {
  console.log(`${results.length} rows in ${seconds} s (some suites only: bench/results.json left as it was)`)
}
