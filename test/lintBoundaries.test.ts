/**
 * The module boundaries of src/ (eslint.config.mjs, `no-restricted-imports`) and the
 * value-level import cycle check (scripts/check-cycles.mjs), each shown to catch a
 * violation and to let the allowed form through. ESLint lints snippets under virtual
 * paths with the project's own config; the cycle check runs on scratch directories.
 */
import { ESLint } from "eslint"
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("..", import.meta.url))
const slow = 120_000

describe("module boundaries (eslint)", () => {
  const eslint = new ESLint({ cwd: root })

  /** The boundary errors ESLint reports for `code` as the file at `filePath` (relative to the repository). */
  const boundaryErrors = async (filePath: string, code: string): Promise<Array<string>> => {
    const results = await eslint.lintText(code, { filePath: join(root, filePath) })
    const messages = results.flatMap((result) => result.messages)
    expect(messages.filter((message) => message.fatal === true)).toEqual([])
    return messages.filter((message) => message.ruleId === "no-restricted-imports").map((message) => message.message)
  }
  const expectError = async (filePath: string, code: string, boundary: string) => {
    const errors = await boundaryErrors(filePath, code)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(boundary)
  }
  const expectNone = async (filePath: string, code: string) => {
    expect(await boundaryErrors(filePath, code)).toEqual([])
  }

  // Loading the config (typescript-eslint, dprint) is the slow part; do it once, untimed by the tests.
  beforeAll(async () => {
    await boundaryErrors("src/Workflow.ts", "export {}\n")
  }, slow)

  const internalOnlyTypes = "src/internal/** may import public modules (src/*.ts) only as types"
  const coreNoChat = "core (Workflow*, ExecutionStorage, Flow, src/internal/**) must not import chat/planning modules"
  const coreNoFacade = "core (Workflow*, ExecutionStorage, Flow, src/internal/**) must not import src/promise/**"
  const promiseNoInternal = "src/promise/** must not import src/internal/**"
  const promiseNoCli = "src/promise/** must not import src/cli/**"
  const cliNoInternal = "src/cli/** must not import src/internal/**"
  const cliTopPromise = "src/cli/** may import only top-level src/promise/*.ts"

  describe("src/internal/** imports public modules only as types", () => {
    it("reports a value import of a public module, at any depth", async () => {
      await expectError(
        "src/internal/engine/x.ts",
        `import * as Workflow from "../../Workflow.js"\n`,
        internalOnlyTypes
      )
      await expectError(
        "src/internal/engine/x.ts",
        `import { make } from "../../WorkflowEngine.js"\n`,
        internalOnlyTypes
      )
      await expectError("src/internal/x.ts", `import { errorInfo } from "../WorkflowEvent.js"\n`, internalOnlyTypes)
      await expectError("src/internal/x.ts", `import * as Api from "../index.js"\n`, internalOnlyTypes)
      await expectError("src/internal/storage/x.ts", `export { make } from "../../Workflow.js"\n`, internalOnlyTypes)
      await expectError("src/internal/storage/x.ts", `export * from "../../Workflow.js"\n`, internalOnlyTypes)
      await expectError("src/internal/x.ts", `import { type A, b } from "../Workflow.js"\n`, internalOnlyTypes)
      await expectError(
        "src/internal/engine/x.ts",
        `import * as Workflow from "../../Workflow.js"\n`,
        internalOnlyTypes
      )
    }, slow)

    it("allows type-only imports of public modules", async () => {
      await expectNone("src/internal/engine/x.ts", `import type * as Workflow from "../../Workflow.js"\n`)
      await expectNone("src/internal/engine/x.ts", `import type { StepOptions } from "../../Workflow.js"\n`)
      await expectNone("src/internal/x.ts", `export type { StoredEvent } from "../WorkflowEvent.js"\n`)
      await expectNone("src/internal/x.ts", `import { type StoredEvent } from "../WorkflowEvent.js"\n`)
    }, slow)

    it("allows internal-to-internal value imports", async () => {
      await expectNone("src/internal/engine/x.ts", `import { withFrame } from "../runtime.js"\n`)
      await expectNone("src/internal/engine/x.ts", `import { commit } from "./commit.js"\n`)
      await expectNone("src/internal/engine/x.ts", `import { make } from "../storage/memory.js"\n`)
      await expectNone("src/internal/x.ts", `import { withFrame } from "../internal/runtime.js"\n`)
    }, slow)

    it("applies to the chat helpers too", async () => {
      await expectError("src/internal/textTasks.ts", `import * as Plan from "../Plan.js"\n`, internalOnlyTypes)
      await expectNone("src/internal/textTasks.ts", `import type * as Plan from "../Plan.js"\n`)
    }, slow)
  })

  describe("core never imports chat/planning, the Promise facade or the CLI", () => {
    it("reports a top-level core module importing chat/planning, value or type", async () => {
      await expectError("src/Workflow.ts", `import * as Planning from "./Planning.js"\n`, coreNoChat)
      await expectError("src/Workflow.ts", `import type * as Planning from "./Planning.js"\n`, coreNoChat)
      await expectError("src/WorkflowEngine.ts", `export type { Plan } from "./Plan.js"\n`, coreNoChat)
      await expectError("src/ExecutionStorage.ts", `import { Models } from "./Models.js"\n`, coreNoChat)
      await expectError("src/WorkflowClient.ts", `import * as Commands from "./Commands.js"\n`, coreNoChat)
    }, slow)

    it("reports a top-level core module importing the facade or the CLI", async () => {
      await expectError("src/Flow.ts", `import { flow } from "./promise/flow.js"\n`, coreNoFacade)
      await expectError("src/Workflow.ts", `import type { Registry } from "./promise/Registry.js"\n`, coreNoFacade)
      await expectError("src/Workflow.ts", `import * as App from "./cli/App.js"\n`, coreNoFacade)
    }, slow)

    it("reports src/internal/** importing chat/planning or the facade, value or type", async () => {
      await expectError("src/internal/engine/x.ts", `import type { Plan } from "../../Plan.js"\n`, coreNoChat)
      await expectError("src/internal/engine/x.ts", `import * as Planning from "../../Planning.js"\n`, coreNoChat)
      await expectError("src/internal/x.ts", `import type { Registry } from "../promise/Registry.js"\n`, coreNoFacade)
      await expectError(
        "src/internal/storage/x.ts",
        `import { toPromise } from "../../promise/flow.js"\n`,
        coreNoFacade
      )
    }, slow)

    it("lets core import core, and leaves the chat helpers and non-core modules alone", async () => {
      await expectNone("src/WorkflowEngine.ts", `import * as Workflow from "./Workflow.js"\n`)
      await expectNone("src/Workflow.ts", `import { withFrame } from "./internal/runtime.js"\n`)
      await expectNone("src/internal/message.ts", `import type * as Plan from "../Plan.js"\n`)
      await expectNone("src/Planning.ts", `import * as Commands from "./Commands.js"\n`)
      await expectNone("src/Commands.ts", `import * as Planning from "./Planning.js"\n`)
    }, slow)
  })

  describe("src/promise/** and src/cli/** use the public API", () => {
    it("reports the facade importing src/internal/** or the CLI, value or type", async () => {
      await expectError("src/promise/x.ts", `import { toPromise } from "../internal/bridge.js"\n`, promiseNoInternal)
      await expectError(
        "src/promise/x.ts",
        `import type { EventDraft } from "../internal/runtime.js"\n`,
        promiseNoInternal
      )
      await expectError(
        "src/promise/internal/x.ts",
        `import { toPromise } from "../../internal/bridge.js"\n`,
        promiseNoInternal
      )
      await expectError(
        "src/promise/x.ts",
        `import * as Memory from "../internal/storage/memory.js"\n`,
        promiseNoInternal
      )
      await expectError("src/promise/x.ts", `import * as App from "../cli/App.js"\n`, promiseNoCli)
    }, slow)

    it("lets the facade import public modules and its own tree", async () => {
      await expectNone("src/promise/x.ts", `import { toPromise } from "./internal/bridge.js"\n`)
      await expectNone("src/promise/x.ts", `import * as Workflow from "../Workflow.js"\n`)
      await expectNone("src/promise/x.ts", `import * as Planning from "../Planning.js"\n`)
      await expectNone("src/promise/internal/x.ts", `import { Runnable } from "../Runnable.js"\n`)
      await expectNone("src/promise/internal/x.ts", `import { y } from "../internal/y.js"\n`)
      await expectNone("src/promise/internal/x.ts", `import * as Flow from "../../Flow.js"\n`)
    }, slow)

    it("reports the CLI importing src/internal/** or src/promise/internal/**", async () => {
      await expectError("src/cli/App.ts", `import { messageOf } from "../internal/message.js"\n`, cliNoInternal)
      await expectError("src/cli/x.ts", `import type { Frame } from "../internal/runtime.js"\n`, cliNoInternal)
      await expectError("src/cli/commands/x.ts", `import { f } from "../../internal/bridge.js"\n`, cliNoInternal)
      await expectError("src/cli/x.ts", `import { toPromise } from "../promise/internal/bridge.js"\n`, cliTopPromise)
    }, slow)

    it("lets the CLI import public modules, top-level promise modules and its own tree", async () => {
      await expectNone("src/cli/App.ts", `import { Runnable } from "../promise/Runnable.js"\n`)
      await expectNone("src/cli/App.ts", `import * as Planning from "../Planning.js"\n`)
      await expectNone("src/cli/App.ts", `import * as Terminal from "./terminal.js"\n`)
      await expectNone("src/cli/commands/x.ts", `import * as App from "../App.js"\n`)
    }, slow)
  })

  describe("specifiers the patterns could not classify", () => {
    it("reports self-imports, leaving src/ and non-normal relative paths", async () => {
      await expectError("src/internal/x.ts", `import { Workflow } from "@token-ring/workflow"\n`, "its own package")
      await expectError("src/Workflow.ts", `import * as P from "@token-ring/workflow/Planning"\n`, "its own package")
      await expectError("src/Workflow.ts", `import { x } from "../test/helpers.js"\n`, "outside src/")
      await expectError("src/internal/x.ts", `import { x } from "../../src/Workflow.js"\n`, "outside src/")
      await expectError("src/Workflow.ts", `import * as P from "./internal/../Planning.js"\n`, "normal form")
      await expectError("src/promise/x.ts", `import { f } from "./../internal/bridge.js"\n`, "normal form")
    }, slow)
  })
})

describe("value-level import cycles (scripts/check-cycles.mjs)", () => {
  const script = join(root, "scripts", "check-cycles.mjs")
  const scratch = mkdtempSync(join(tmpdir(), "check-cycles-"))
  afterAll(() => rmSync(scratch, { recursive: true, force: true }))

  /** Writes `files` into a fresh directory and runs the check on it. */
  const check = (name: string, files: Record<string, string>) => {
    const dir = join(scratch, name)
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true })
      writeFileSync(join(dir, path), text)
    }
    const run = spawnSync(process.execPath, [script, dir], { cwd: scratch, encoding: "utf8" })
    return { status: run.status, output: `${run.stdout}${run.stderr}` }
  }

  it("reports a cycle of value imports, with the importing lines", () => {
    const { output, status } = check("value", {
      "a.ts": `import { b } from "./b.js"\nexport const a = () => b\n`,
      "b.ts": `import { c } from "./sub/c.js"\nexport const b = 1\nexport const bc = c\n`,
      "sub/c.ts": `import { a } from "../a.js"\nexport const c = a\n`
    })
    expect(status).toBe(1)
    expect(output).toContain("value/a.ts -> value/b.ts -> value/sub/c.ts -> value/a.ts")
    expect(output).toContain(`value/sub/c.ts:1 imports "../a.js"`)
  }, slow)

  it("reports a cycle through re-exports", () => {
    const { output, status } = check("reexport", {
      "a.ts": `export * from "./b.js"\nexport const a = 1\n`,
      "b.ts": `export { a as fromA } from "./a.js"\n`
    })
    expect(status).toBe(1)
    expect(output).toContain("reexport/a.ts -> reexport/b.ts -> reexport/a.ts")
  }, slow)

  it("reports a side-effect import and a partly typed import as value edges", () => {
    const { output, status } = check("sideEffect", {
      "a.ts": `import "./b.js"\nexport const a = 1\n`,
      "b.ts": `import { type A, a } from "./a.js"\nexport const b: A = a\n`
    })
    expect(status).toBe(1)
    expect(output).toContain("sideEffect/a.ts -> sideEffect/b.ts -> sideEffect/a.ts")
  }, slow)

  it("does not count type-only imports, type-only re-exports or dynamic import()", () => {
    const { output, status } = check("types", {
      "a.ts": `import { b } from "./b.js"\nexport type A = number\nexport const a = b\n`,
      "b.ts": `import type { A } from "./a.js"\nexport const b: A = 1\n`,
      "x.ts": `import { type Y } from "./y.js"\nexport type X = Y\nexport { b } from "./b.js"\n`,
      "y.ts": `export type { X } from "./x.js"\nexport type Y = string\nexport { type X as X2 } from "./x.js"\n`,
      "e.ts": `import { f } from "./f.js"\nexport const e = f\n`,
      "f.ts": `export const f = 1\nexport const later = () => import("./e.js")\n`
    })
    expect(output).toContain("no value-level import cycles")
    expect(status).toBe(0)
  }, slow)
})
