/**
 * What a process loads at start-up (docs/design.md, "What loads when"):
 * importing the package, or any of its entry points, loads no package besides
 * `effect` (and what `effect`'s own index loads); storage drivers, `@effect/ai`
 * and the model providers are imported only when a layer that needs them is
 * built; the CLI's reading commands (`list`, `status`, `executions`, `events`)
 * load no model package, and not `@effect/cli` either. The loads are
 * recorded by a module resolution hook in a child process (no timing here:
 * start-up times are measured in bench/).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { builtinModules } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import ts from "typescript"
import { afterAll, describe, expect, it } from "vitest"
import { bin, root } from "./cliProcess.js"
import { runProcess } from "./processes.js"

const scratch = mkdtempSync(join(tmpdir(), "workflow-startup-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

// The hook runs on the loader's own thread: it appends each resolved module synchronously to a file.
writeFileSync(
  join(scratch, "hooks.mjs"),
  [
    `import { appendFileSync } from "node:fs"`,
    `let out`,
    `export const initialize = (data) => { out = data.out }`,
    `export const resolve = async (specifier, context, next) => {`,
    `  const resolved = await next(specifier, context)`,
    `  appendFileSync(out, JSON.stringify({ url: resolved.url, parent: context.parentURL ?? "" }) + "\\n")`,
    `  return resolved`,
    `}`
  ].join("\n")
)
writeFileSync(
  join(scratch, "register.mjs"),
  [
    `import { register } from "node:module"`,
    `register(${JSON.stringify(pathToFileURL(join(scratch, "hooks.mjs")).href)}, {`,
    `  data: { out: process.env.RECORD_IMPORTS }`,
    `})`
  ].join("\n")
)

interface Load {
  readonly url: string
  readonly parent: string
}

/** The package a module URL is in (after its last node_modules/), or undefined for ours and Node's own. */
const packageOf = (url: string): string | undefined => {
  const at = url.lastIndexOf("/node_modules/")
  if (at < 0) return undefined
  const [scope, name] = url.slice(at + "/node_modules/".length).split("/")
  return scope!.startsWith("@") ? `${scope}/${name}` : scope
}

let runs = 0

/** Runs Node with `args` under the recording hook; returns the modules it resolved. */
const recorded = async (args: ReadonlyArray<string>): Promise<ReadonlyArray<Load>> => {
  const out = join(scratch, `loads-${++runs}.jsonl`)
  writeFileSync(out, "")
  const finished = await runProcess(["--import", join(scratch, "register.mjs"), ...args], {
    cwd: root,
    env: { ...process.env, RECORD_IMPORTS: out }
  })
  expect(finished.signal, finished.stderr).toBeNull()
  return readFileSync(out, "utf8").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Load)
}

const importing = (urls: ReadonlyArray<string>) =>
  recorded(["--input-type=module", "-e", urls.map((url) => `await import(${JSON.stringify(url)})`).join("\n")])

/** Each package loaded, with the module that first imported it (to name the culprit in a failure). */
const packages = (loads: ReadonlyArray<Load>): Map<string, string> => {
  const found = new Map<string, string>()
  for (const { parent, url } of loads) {
    const name = packageOf(url)
    if (name !== undefined && name !== packageOf(parent) && !found.has(name)) found.set(name, parent)
  }
  return found
}

/** The packages `loads` holds that `names` lists (or that `names` accepts), each with who imported it. */
const loaded = (loads: ReadonlyArray<Load>, names: ReadonlyArray<string> | ((name: string) => boolean)) =>
  [...packages(loads)]
    .filter(([name]) => typeof names === "function" ? names(name) : names.includes(name))
    .map(([name, by]) => `${name} (imported by ${by})`)

const dist = (path: string) => pathToFileURL(join(root, "dist", path)).href

const packageJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  readonly exports: Record<string, string | { readonly import: string }>
  readonly dependencies: Record<string, string>
  readonly peerDependencies: Record<string, string>
}

/** The HTTP API's entry point: it is an `@effect/platform` HttpApi, so importing it loads that package. */
const httpEntryPoint = "./WorkflowApi"

/** Every other entry point of the package's `exports`, as file URLs into dist/. */
const entryPoints = Object.entries(packageJson.exports).flatMap(([path, entry]) =>
  typeof entry === "string" || path === httpEntryPoint ? [] : [pathToFileURL(join(root, entry.import)).href]
)

/** Loaded only when a path needs them (a storage layer, a model, the CLI), never by importing the package. */
const heavy = [
  "@effect/ai",
  "@effect/ai-openai",
  "@effect/ai-anthropic",
  "@effect/rpc",
  "@effect/experimental",
  "@effect/platform",
  "@effect/cli",
  "@effect/sql",
  "@effect/sql-pg",
  "@effect/sql-sqlite-node",
  "better-sqlite3",
  "pg",
  "msgpackr",
  "find-my-way-ts",
  "yaml"
]

/** `@effect/cli` and what it loads: the CLI reads a reading command written plainly without them. */
const commandLineParsing = ["@effect/cli", "@effect/printer", "@effect/printer-ansi", "yaml", "toml", "ini"]

/** Model packages: the CLI loads them only for a model it is given. */
const models = ["@effect/ai", "@effect/ai-openai", "@effect/ai-anthropic", "@effect/rpc"]

/** Whether `loads` hold a package's index module: one that loads all of the package's modules. */
const loadsIndexOf = (loads: ReadonlyArray<Load>, name: string): boolean =>
  loads.some((load) => load.url.endsWith(`/node_modules/${name}/dist/esm/index.js`))

describe("start-up", () => {
  it("importing the package loads no package that importing effect does not, and effect's modules, not its index", async () => {
    const effectAlone = await importing(["effect"])
    const baseline = new Set(packages(effectAlone).keys())
    const loads = await importing([dist("index.js")])
    expect(packages(loads).has("effect")).toBe(true)
    expect(loadsIndexOf(effectAlone, "effect")).toBe(true)
    expect(loadsIndexOf(loads, "effect")).toBe(false)
    expect(loaded(loads, (name) => !baseline.has(name))).toEqual([])
    expect(loaded(loads, heavy)).toEqual([])
  })

  it("importing every entry point of the package loads none of the optional or heavy packages", async () => {
    expect(entryPoints.length).toBeGreaterThan(10)
    const loads = await importing(entryPoints)
    expect(loaded(loads, heavy)).toEqual([])
    expect(loadsIndexOf(loads, "effect")).toBe(false)
  })

  it("importing the HTTP API loads @effect/platform (its modules, not its index), and no server, storage or model", async () => {
    const loads = await importing([dist("WorkflowApi.js")])
    expect(loaded(loads, ["@effect/platform"]).length).toBe(1)
    expect(loadsIndexOf(loads, "@effect/platform")).toBe(false)
    expect(loaded(loads, heavy.filter((name) => name !== "@effect/platform" && name !== "find-my-way-ts"))).toEqual([])
    expect(loaded(loads, ["@effect/platform-node", "ws", "undici"])).toEqual([])
  })

  it("building the SQLite layer loads its driver, and no model, RPC or event-log package", async () => {
    const loads = await recorded([
      "--input-type=module",
      "-e",
      [
        `import { Effect, Layer } from "effect"`,
        `import { ExecutionStorage } from ${JSON.stringify(dist("index.js"))}`,
        `const layer = ExecutionStorage.layerSqlite({ filename: ${JSON.stringify(join(scratch, "layer.db"))} })`,
        `await Effect.runPromise(Effect.scoped(Layer.build(layer)))`
      ].join("\n")
    ])
    expect(loaded(loads, ["better-sqlite3", "@effect/sql"]).length).toBe(2)
    expect(loaded(loads, [...models, "pg", "@effect/sql-pg", "msgpackr", "find-my-way-ts"])).toEqual([])
  })

  it("the CLI's reading commands load no model package, not @effect/cli, and not effect's index", async () => {
    const db = join(scratch, "cli.db")
    const reads = [["list"], ["status", "no-such-execution"], ["executions"], ["events", "no-such-execution"]]
    for (const args of reads) {
      const loads = await recorded([bin, "--db", db, ...args])
      // The command did run: it opened the database.
      expect(loaded(loads, ["better-sqlite3"]).length, args.join(" ")).toBe(1)
      expect(
        loaded(loads, [...models, ...commandLineParsing, "pg", "@effect/sql-pg", "msgpackr", "find-my-way-ts"]),
        args.join(" ")
      )
        .toEqual([])
      expect(loadsIndexOf(loads, "effect"), args.join(" ")).toBe(false)
    }
  })

  it("the CLI loads @effect/cli for what it reads: help, and any command line not written plainly", async () => {
    for (const args of [["--help"], ["--db", join(scratch, "cli.db"), "list", "--help"]]) {
      expect(loaded(await recorded([bin, ...args]), ["@effect/cli"]).length, args.join(" ")).toBe(1)
    }
  })

  it("src/ imports at run time only dependencies, peer dependencies and Node's modules", () => {
    const allowed = new Set([
      ...Object.keys(packageJson.dependencies),
      ...Object.keys(packageJson.peerDependencies),
      ...builtinModules
    ])
    const sources = readdirRecursive(join(root, "src")).filter((path) => path.endsWith(".ts"))
    const offending = sources.flatMap((path) =>
      runtimeImports(readFileSync(path, "utf8"))
        .filter((specifier) => !specifier.startsWith(".") && !specifier.startsWith("node:"))
        .filter((specifier) => !allowed.has(packageName(specifier)))
        .map((specifier) => `${path.slice(root.length)}: ${specifier}`)
    )
    expect(sources.length).toBeGreaterThan(20)
    expect(offending).toEqual([])
  })
})

const readdirRecursive = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? readdirRecursive(join(dir, entry.name)) : [join(dir, entry.name)]
  )

const packageName = (specifier: string): string =>
  specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/")

/** The specifiers a module imports at run time: imports and re-exports that are not type-only, and `import()`. */
const runtimeImports = (source: string): ReadonlyArray<string> => {
  const found: Array<string> = []
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && !node.importClause?.isTypeOnly) {
      found.push(node.moduleSpecifier.text)
    } else if (
      ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier) &&
      !node.isTypeOnly
    ) {
      found.push(node.moduleSpecifier.text)
    } else if (
      ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined && ts.isStringLiteral(node.arguments[0])
    ) {
      found.push(node.arguments[0].text)
    }
    ts.forEachChild(node, visit)
  }
  visit(ts.createSourceFile("module.ts", source, ts.ScriptTarget.Latest))
  return found
}
