/**
 * `npm pack` from a clean clone makes a package that works: the clone has no
 * dist/ (it is not committed), packing builds it (prepack), and an app with the
 * tarball unpacked in its node_modules imports the package by name, subpaths
 * included, and runs a durable workflow with it.
 */
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("..", import.meta.url))
const run = promisify(execFile)
const scratch = mkdtempSync(join(tmpdir(), "workflow-pack-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

describe("npm pack", () => {
  it("packs a clean clone into a package an app can import and run", async () => {
    const clone = join(scratch, "clone")
    await run("git", ["clone", "--quiet", "--no-hardlinks", root, clone])
    expect(existsSync(join(clone, "dist"))).toBe(false)
    // Installed packages are what a fresh install would bring; only the build is under test.
    symlinkSync(join(root, "node_modules"), join(clone, "node_modules"))
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", scratch], {
      cwd: clone,
      maxBuffer: 64 * 1024 * 1024
    })
    const [packed] = JSON.parse(stdout) as Array<{ readonly filename: string; readonly files: Array<{ path: string }> }>
    const files = packed!.files.map((file) => file.path)
    expect(files).toContain("dist/index.js")
    expect(files).toContain("dist/index.d.ts")
    expect(files).toContain("dist/cli/main.js")
    expect(files.some((file) => file.startsWith("test/"))).toBe(false)

    // An app: the tarball unpacked as its dependency, the peers beside it.
    const app = join(scratch, "app")
    const modules = join(app, "node_modules")
    mkdirSync(join(modules, "@token-ring", "workflow"), { recursive: true })
    await run("tar", [
      "-xzf",
      join(scratch, packed!.filename),
      "-C",
      join(modules, "@token-ring", "workflow"),
      "--strip-components=1"
    ])
    for (const entry of readdirSync(join(root, "node_modules"))) {
      if (entry === "@token-ring" || entry === ".bin") continue
      symlinkSync(join(root, "node_modules", entry), join(modules, entry))
    }
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", type: "module", private: true }))
    writeFileSync(
      join(app, "main.mjs"),
      `import { Effect, Layer } from "effect"
import { ExecutionStorage, Workflow, WorkflowEngine } from "@token-ring/workflow"
import { Runnable } from "@token-ring/workflow/runnable"
import { Registry } from "@token-ring/workflow/registry"
const hello = Workflow.make({
  name: "hello",
  run: (name) => Workflow.step("greet", Effect.succeed("hello " + name))
})
const program = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  const handle = yield* engine.start(hello, "packed")
  return yield* handle.result
})
const layer = WorkflowEngine.layer.pipe(
  Layer.provideMerge(ExecutionStorage.layerSqlite({ filename: ${JSON.stringify(join(app, "app.db"))} }))
)
console.log(await Effect.runPromise(program.pipe(Effect.provide(layer))))
console.log(typeof Runnable, typeof Registry)
`
    )
    const result = await run(process.execPath, ["main.mjs"], { cwd: app })
    expect(result.stdout.trim().split("\n")).toEqual(["hello packed", "function function"])
    // A subpath that is not an entry point stays private.
    await expect(
      run(process.execPath, ["--input-type=module", "-e", "await import('@token-ring/workflow/internal/instance')"], {
        cwd: app
      })
    ).rejects.toThrow(/not exported|ERR_PACKAGE_PATH_NOT_EXPORTED/)
  }, 240_000)
})
