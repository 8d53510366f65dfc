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

/** The README's TypeScript blocks, importing this checkout instead of the published package. */
const blocks = (readFileSync(join(root, "README.md"), "utf8").match(/```ts\n[\s\S]*?```/g) ?? [])
  .map((block) => block.slice(6, -3).replaceAll(`"@token-ring/workflow"`, JSON.stringify(join(root, "src/index.ts"))))

describe("README", () => {
  it("has a tour of the Effect API that runs as written", async () => {
    expect(blocks.length).toBeGreaterThan(0)
    const file = join(scratch, "tour.ts")
    writeFileSync(file, blocks[0]!)
    const { stdout } = await run(process.execPath, ["--import", "tsx", file], { cwd: root })
    expect(stdout).toContain("human_approval_required")
    expect(stdout.trim().split("\n").at(-1)).toBe("published: hello")
  })
})
