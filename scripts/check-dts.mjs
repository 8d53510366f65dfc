/**
 * Checks the declarations that `npm run build` wrote to dist/: every `.d.ts`
 * there must typecheck, so every name it imports or re-exports exists.
 *
 * The build strips declarations tagged `@internal` (`stripInternal`), and tsc
 * does not notice when a public module still re-exports or mentions one: the
 * published types would silently lose it. Errors in other packages'
 * declarations are not reported.
 *
 * Usage: node scripts/check-dts.mjs [dir]   (default: dist)
 * Exit code 0 when the declarations are complete, 1 otherwise, 2 on bad usage.
 */
import { existsSync, readdirSync } from "node:fs"
import { join, relative, resolve, sep } from "node:path"
import ts from "typescript"

const listDeclarations = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return listDeclarations(path)
    return entry.isFile() && /\.d\.(?:ts|mts|cts)$/.test(entry.name) ? [path] : []
  })

const main = () => {
  const args = process.argv.slice(2)
  if (args.length > 1) {
    console.error("usage: node scripts/check-dts.mjs [dir]")
    return 2
  }
  const dir = resolve(args[0] ?? "dist")
  if (!existsSync(dir)) {
    console.error(`check-dts: ${relative(process.cwd(), dir) || dir} does not exist; run \`npm run build\` first`)
    return 2
  }
  const files = listDeclarations(dir)
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ["lib.es2023.d.ts"],
    types: ["node"],
    strict: true,
    noEmit: true,
    skipLibCheck: false
  })
  const inside = (path) => resolve(path).startsWith(dir + sep)
  const diagnostics = program.getSourceFiles()
    .filter((file) => inside(file.fileName))
    .flatMap((file) => [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)])
  if (diagnostics.length === 0) {
    console.log(`check-dts: ${files.length} declaration files in ${relative(process.cwd(), dir) || "."} are complete`)
    return 0
  }
  console.error(
    ts.formatDiagnostics(diagnostics, {
      getCanonicalFileName: (name) => name,
      getCurrentDirectory: () => process.cwd(),
      getNewLine: () => "\n"
    }).trimEnd()
  )
  console.error(
    `check-dts: ${diagnostics.length} error(s) in the built declarations. A public module likely re-exports ` +
      "or mentions a declaration tagged @internal (removed by stripInternal): drop the tag, or stop exposing it."
  )
  return 1
}

process.exitCode = main()
