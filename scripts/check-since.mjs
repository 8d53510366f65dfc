/**
 * Fails when an export of a public module has no `@since` in its JSDoc.
 *
 * Public modules: `src/*.ts` and `src/promise/*.ts` (the CLI and the
 * implementation folders are not API). Checked: exported declarations
 * (`export const`, `function`, `class`, `interface`, `type`, `export *
 * as`) and each specifier of `export { … } from`, which may carry its
 * own JSDoc or share the one above the `export` statement. A member tagged
 * `@internal` is left out of the published types and needs none.
 *
 * Usage: node scripts/check-since.mjs [dir]
 */
import { readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import ts from "typescript"

const root = process.argv[2] ?? "src"
const modules = [
  ...readdirSync(root).filter((name) => name.endsWith(".ts")).map((name) => join(root, name)),
  ...readdirSync(join(root, "promise")).filter((name) => name.endsWith(".ts")).map((name) =>
    join(root, "promise", name)
  )
]

const docsOf = (node, source) =>
  (ts.getJSDocCommentsAndTags(node) ?? []).map((doc) => doc.getText(source)).join("\n") +
  (ts.getLeadingCommentRanges(source.text, node.getFullStart()) ?? [])
    .map((range) => source.text.slice(range.pos, range.end))
    .join("\n")

const exported = (node) =>
  ts.canHaveModifiers(node) &&
  (ts.getModifiers(node) ?? []).some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword)

const missing = []
for (const file of modules) {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)
  const where = (node) => `${relative(".", file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`
  const check = (node, name, docs) => {
    if (!/@since\b/.test(docs) && !/@internal\b/.test(docs)) missing.push(`${where(node)} ${name}`)
  }
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement)) {
      const outer = docsOf(statement, source)
      if (statement.exportClause === undefined) check(statement, "export *", outer)
      else if (ts.isNamespaceExport(statement.exportClause)) check(statement, statement.exportClause.name.text, outer)
      else {
        for (const specifier of statement.exportClause.elements) {
          check(specifier, specifier.name.text, `${outer}\n${docsOf(specifier, source)}`)
        }
      }
    } else if (exported(statement)) {
      const name = ts.isVariableStatement(statement)
        ? statement.declarationList.declarations.map((d) => d.name.getText(source)).join(", ")
        : statement.name?.getText(source) ?? "(anonymous)"
      check(statement, name, docsOf(statement, source))
    }
  }
}
if (missing.length > 0) {
  console.error(`check-since: ${missing.length} exports of public modules have no @since:`)
  for (const line of missing) console.error(`  ${line}`)
  process.exit(1)
}
console.log(`check-since: every export of ${modules.length} public modules has @since`)
