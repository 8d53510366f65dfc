/**
 * Every TypeScript block of README.md and docs/*.md (```ts programs and
 * ```typescript fragments) type-checks against the built package, as a
 * user's code would: one `tsc` over all of them, under the project's
 * compiler options but the house rules that do not bind a user's code.
 *
 * A fragment that needs context names it in an HTML comment on the line
 * before its fence, which the check puts before the block:
 *
 *     <!-- assumes: import { Layer } from "effect" -->
 *
 * (see docs/development.md).
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("..", import.meta.url))
const scratch = mkdtempSync(join(root, "test", ".readme-types-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

interface Block {
  readonly file: string
  /** The line of the block's first line of code, in `file`. */
  readonly line: number
  readonly indent: number
  /** What the `assumes` comment on the line before the fence gives, put before the code. */
  readonly context: string
  readonly code: string
}

const opening = /^(\s*)```(ts|typescript)\s*$/
const closing = /^\s*```\s*$/
const assumes = /^\s*<!--\s*assumes:(.*)-->\s*$/

/** The TypeScript blocks of a Markdown file, each with the context its `assumes` comment gives. */
const blocksOf = (file: string): Array<Block> => {
  const lines = readFileSync(file, "utf8").split("\n")
  const blocks: Array<Block> = []
  for (let start = 0; start < lines.length; start++) {
    const fence = opening.exec(lines[start]!)
    if (fence === null) continue
    const indent = fence[1]!.length
    let end = start + 1
    while (end < lines.length && !closing.test(lines[end]!)) end++
    const context = assumes.exec(lines[start - 1] ?? "")?.[1]?.trim() ?? ""
    const code = lines.slice(start + 1, end).map((line) => line.slice(indent)).join("\n")
    blocks.push({ file: relative(root, file), line: start + 2, indent, context, code })
    start = end
  }
  return blocks
}

const documents = [join(root, "README.md"), ...readdirSync(join(root, "docs")).map((name) => join(root, "docs", name))]
  .filter((file) => file.endsWith(".md"))

describe("documentation code", () => {
  it("type-checks every TypeScript block of README.md and docs/*.md (strict, against the built package)", async () => {
    const blocks = documents.flatMap(blocksOf)
    expect(blocks.length).toBeGreaterThanOrEqual(6)
    blocks.forEach(({ code, context }, index) =>
      // The context on line 1, the code from line 2; `export {}` makes every block a module of its own.
      writeFileSync(join(scratch, `block${index}.ts`), `${context}\n${code}\nexport {}\n`)
    )
    writeFileSync(
      join(scratch, "tsconfig.json"),
      JSON.stringify({
        extends: relative(scratch, join(root, "tsconfig.json")),
        // Strict stays; unused names and `override` are this repository's house rules, not a user's.
        compilerOptions: { noEmit: true, noUnusedLocals: false, noUnusedParameters: false, noImplicitOverride: false },
        include: ["*.ts"]
      })
    )
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc")
    const errors = await promisify(execFile)(process.execPath, [tsc, "-p", scratch], { cwd: root }).then(
      () => "",
      (failure: { stdout: string }) => failure.stdout
    )
    // Errors name the document, line and column of the code rather than a scratch file.
    const located = errors.replace(/(?:\S*[/\\])?block(\d+)\.ts\((\d+),(\d+)\)/g, (_, index, line, column) => {
      const block = blocks[Number(index)]!
      return `${block.file}:${block.line + Number(line) - 2}:${block.indent + Number(column)}`
    })
    expect(located).toBe("")
  })
})
