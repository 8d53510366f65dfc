/**
 * Fails when the TypeScript modules under a directory (default: `src`) import
 * each other in a cycle at the value level.
 *
 * An edge is a static `import … from`, `import "…"`, `export … from` or
 * `import x = require(…)` of a relative path. Not edges: `import type`,
 * `import { type A, type B }` (every specifier a type), `export type … from`,
 * `export { type A } from`, and dynamic `import()`.
 *
 * Usage: node scripts/check-cycles.mjs [dir]
 * Exit code 0 without cycles, 1 with cycles (printed), 2 on bad usage.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const SOURCE = /\.(?:ts|tsx|mts|cts)$/
const DECLARATION = /\.d\.(?:ts|mts|cts)$/

const listSources = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : listSources(path)
    return entry.isFile() && SOURCE.test(entry.name) && !DECLARATION.test(entry.name) ? [path] : []
  })

/** The source file a relative specifier names, if it is one of `files`. */
const resolveSpecifier = (from, specifier, files) => {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return undefined
  const target = resolve(dirname(from), specifier)
  const stem = target.replace(/\.(?:js|jsx|mjs|cjs|ts|tsx|mts|cts)$/, "")
  const candidates = [
    target,
    ...(target.endsWith(".js") ? [`${stem}.ts`, `${stem}.tsx`] : []),
    ...(target.endsWith(".jsx") ? [`${stem}.tsx`] : []),
    ...(target.endsWith(".mjs") ? [`${stem}.mts`] : []),
    ...(target.endsWith(".cjs") ? [`${stem}.cts`] : []),
    `${target}.ts`,
    `${target}.tsx`,
    join(target, "index.ts")
  ]
  return candidates.find((candidate) => files.has(candidate))
}

const isTypeOnlyImport = (node) => {
  const clause = node.importClause
  if (clause === undefined) return false // `import "./x.js"` runs the module
  if (clause.isTypeOnly || clause.phaseModifier === ts.SyntaxKind.TypeKeyword) return true
  const bindings = clause.namedBindings
  return clause.name === undefined && bindings !== undefined && ts.isNamedImports(bindings) &&
    bindings.elements.length > 0 && bindings.elements.every((element) => element.isTypeOnly)
}

const isTypeOnlyExport = (node) =>
  node.isTypeOnly ||
  (node.exportClause !== undefined && ts.isNamedExports(node.exportClause) &&
    node.exportClause.elements.length > 0 && node.exportClause.elements.every((element) => element.isTypeOnly))

/** The value-level imports of one file: `{ specifier, line }`. */
const valueImports = (file) => {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)
  const line = (node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1
  const imports = []
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
      if (!isTypeOnlyImport(statement)) {
        imports.push({ specifier: statement.moduleSpecifier.text, line: line(statement) })
      }
    } else if (
      ts.isExportDeclaration(statement) && statement.moduleSpecifier !== undefined &&
      ts.isStringLiteral(statement.moduleSpecifier)
    ) {
      if (!isTypeOnlyExport(statement)) {
        imports.push({ specifier: statement.moduleSpecifier.text, line: line(statement) })
      }
    } else if (
      ts.isImportEqualsDeclaration(statement) && !statement.isTypeOnly &&
      ts.isExternalModuleReference(statement.moduleReference) &&
      ts.isStringLiteral(statement.moduleReference.expression)
    ) {
      imports.push({ specifier: statement.moduleReference.expression.text, line: line(statement) })
    }
  }
  return imports
}

/** Strongly connected components (Tarjan), each with more than one module or a self-import. */
const cyclicComponents = (graph) => {
  let next = 0
  const index = new Map()
  const low = new Map()
  const stack = []
  const onStack = new Set()
  const components = []
  const visit = (node) => {
    index.set(node, next)
    low.set(node, next)
    next++
    stack.push(node)
    onStack.add(node)
    for (const { to } of graph.get(node)) {
      if (!index.has(to)) {
        visit(to)
        low.set(node, Math.min(low.get(node), low.get(to)))
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node), index.get(to)))
      }
    }
    if (low.get(node) === index.get(node)) {
      const component = []
      let member
      do {
        member = stack.pop()
        onStack.delete(member)
        component.push(member)
      } while (member !== node)
      if (component.length > 1 || graph.get(node).some(({ to }) => to === node)) components.push(component.sort())
    }
  }
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node)
  return components.sort((a, b) => a[0].localeCompare(b[0]))
}

/** A shortest cycle through the first module of a component, as its edges. */
const shortestCycle = (graph, component) => {
  const members = new Set(component)
  const start = component[0]
  const via = new Map()
  const queue = [start]
  while (queue.length > 0) {
    const node = queue.shift()
    for (const edge of graph.get(node)) {
      if (!members.has(edge.to)) continue
      if (edge.to === start) {
        const edges = [edge]
        for (let at = node; at !== start; at = via.get(at).from) edges.unshift(via.get(at))
        return edges
      }
      if (!via.has(edge.to)) {
        via.set(edge.to, edge)
        queue.push(edge.to)
      }
    }
  }
  return []
}

/** The value-level import cycles among the sources under `dir`: a list of cycles, each a list of edges. */
export const findCycles = (dir) => {
  const files = new Set(listSources(dir))
  const graph = new Map()
  for (const from of files) {
    const edges = valueImports(from).flatMap(({ line, specifier }) => {
      const to = resolveSpecifier(from, specifier, files)
      return to === undefined ? [] : [{ from, to, line, specifier }]
    })
    graph.set(from, edges)
  }
  return cyclicComponents(graph).map((component) => ({ modules: component, edges: shortestCycle(graph, component) }))
}

const main = () => {
  const args = process.argv.slice(2)
  if (args.length > 1) {
    console.error("usage: node scripts/check-cycles.mjs [dir]")
    return 2
  }
  const dir = resolve(args[0] ?? "src")
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    console.error(`check-cycles: not a directory: ${dir}`)
    return 2
  }
  const show = (path) => relative(process.cwd(), path).split("\\").join("/")
  const cycles = findCycles(dir)
  if (cycles.length === 0) {
    console.log(`check-cycles: no value-level import cycles in ${show(dir) || "."}`)
    return 0
  }
  console.error(`check-cycles: ${cycles.length} value-level import cycle(s) in ${show(dir) || "."}:`)
  cycles.forEach(({ edges, modules }, i) => {
    console.error(`  ${i + 1}. ${[...edges.map(({ from }) => show(from)), show(edges[0].from)].join(" -> ")}`)
    for (const { from, line, specifier } of edges) console.error(`       ${show(from)}:${line} imports "${specifier}"`)
    if (modules.length > edges.length) {
      console.error(`       (these ${modules.length} modules all reach each other: ${modules.map(show).join(", ")})`)
    }
  })
  console.error(
    "Break each cycle: move the shared value into a module both sides can import, or import only types (`import type`)."
  )
  return 1
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main()
}
