/**
 * The README's complete programs (its ```ts blocks; fragments are fenced as
 * ```typescript), run as written against the built package
 * (`@token-ring/workflow` resolves to this package's dist/, as for a consumer).
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("..", import.meta.url))
const run = promisify(execFile)
const scratch = mkdtempSync(join(root, "test", ".readme-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

const blocks = (readFileSync(join(root, "README.md"), "utf8").match(/```ts\n[\s\S]*?```/g) ?? [])
  .map((block) => block.slice(6, -3))

const runBlock = async (index: number) => {
  const file = join(scratch, `block${index}.ts`)
  writeFileSync(file, blocks[index]!)
  const { stdout } = await run(process.execPath, ["--import", "tsx", file], { cwd: root })
  return stdout.trim().split("\n")
}

describe("README", () => {
  it("has a tour of the Effect API that runs as written", async () => {
    const lines = await runBlock(0)
    expect(lines.some((line) => line.includes("human_approval_required"))).toBe(true)
    expect(lines.at(-1)).toBe("published: hello")
  })

  it("has the original package's Promise example, which runs unchanged but for its imports", async () => {
    const lines = await runBlock(1)
    // Listeners and the awaiting code interleave freely; each kind of line comes in its own order.
    expect(lines.filter((line) => line.startsWith("event:"))).toEqual([
      "event: step_start",
      "event: log",
      "event: final_output"
    ])
    expect(lines.filter((line) => !line.startsWith("event:")).sort()).toEqual([
      "end: { ok: true, value: 'HELLO' }",
      "final result: { ok: true, value: 'HELLO' }",
      "output: [ 'Hello', 'processed' ]"
    ])
  })

  it("has a typed start in an `await using` block, which ends the script by itself", async () => {
    expect(await runBlock(2)).toEqual(["hello Ada"])
  })
})
