import effect from "@effect/eslint-plugin"
import js from "@eslint/js"
import tseslint from "typescript-eslint"

// ---------------------------------------------------------------------------
// Module boundaries of src/ (issue "One core with clean seams").
//
// Value-level import cycles are checked by scripts/check-cycles.mjs (`npm run lint:cycles`).
// The other boundaries are `no-restricted-imports` patterns matched against the import
// specifier. A relative specifier names a module only together with the importing file's
// folder, so the patterns are generated per folder depth: `up(n)` is the relative path from
// a file n folders below src/ up to src/. ESLint replaces (does not merge) a rule's options
// when several config objects match a file, so every block below carries its full list.
// ---------------------------------------------------------------------------

/** Chat, planning and model modules: core must not depend on them. */
const CHAT_MODULES = [
  "Planning",
  "Commands",
  "ChatAdapter",
  "ChatRender",
  "CommandLine",
  "Plan",
  "Planner",
  "Analyzer",
  "TaskExecutor",
  "Models",
  "ScriptedModel"
]
/** The public core modules at the top of src/ (WorkflowClient and Telemetry may appear later). */
const CORE_MODULES = [
  "Workflow",
  "WorkflowEvent",
  "WorkflowEngine",
  "WorkflowClient",
  "ExecutionStorage",
  "Flow",
  "Telemetry"
]
/** Implementation folders of src/. */
const INTERNAL_DIRS = ["internal"]
/** Chat helpers inside src/internal/: internal (rule 2) but not core (rule 3). */
const CHAT_HELPERS = ["src/internal/textTasks.ts", "src/internal/message.ts"]
/** Deepest folder nesting below src/internal, src/promise, src/cli that the generated patterns cover. */
const MAX_DEPTH = 6

const TS = "*.{ts,mts,cts,tsx}"
const EXT = "(?:\\.[cm]?[jt]sx?)?"
const oneOf = (names) => `(?:${names.join("|")})`
const up = (n) => n === 0 ? "\\./" : `(?:\\.\\./){${n}}`
const filesAt = (dir, depth) => `src/${dir}/${"*/".repeat(depth)}${TS}`
const depths = [...Array(MAX_DEPTH + 1).keys()]
const restrict = (patterns) => ({ "no-restricted-imports": ["error", { patterns }] })

/** Patterns for every file in src/, whatever its folder. */
const anywhere = [
  {
    regex: "^@token-ring/workflow(?:/|$)",
    message:
      "Boundary: src/ must not import its own package (that bypasses the boundary and cycle checks); use a relative path."
  },
  {
    regex: "^\\./\\.\\.?(?:/|$)|[^./]/\\.\\.?(?:/|$)|/\\.(?:/|$)|//|/$",
    message:
      "Boundary: write relative imports in normal form (no './../', 'dir/../', '/./', '//'), so the boundary lint can read them."
  },
  {
    regex: "^effect$",
    message:
      "Start-up: import effect's modules (`import * as Effect from \"effect/Effect\"`), not its index: the index loads all of effect's modules, which a process that imports ours then pays for."
  }
]

/** A pattern for a file n folders below src/. */
const leavesSrc = (n) => ({
  regex: `^(?:\\.\\./){${n + 1}}`,
  message: "Boundary: src/ must not import from outside src/; move the code into src/ or pass it in."
})

/** Rule 3: core never imports chat/planning, the Promise facade or the CLI (types included). */
const coreRules = (n) => [
  {
    regex: `^${up(n)}${oneOf(CHAT_MODULES)}${EXT}$`,
    message:
      "Boundary: core (Workflow*, ExecutionStorage, Flow, src/internal/**) must not import chat/planning modules, not even types; have the chat/planning module depend on core instead."
  },
  {
    regex: `^${up(n)}(?:promise|cli)(?:/|$)`,
    message:
      "Boundary: core (Workflow*, ExecutionStorage, Flow, src/internal/**) must not import src/promise/** or src/cli/**; move the shared code into core and have the facade/CLI import it."
  }
]

/** Rule 2: src/internal/** imports public modules (src/*.ts) only as types. */
const internalRules = (n, core) => [
  {
    // For core files, imports of chat modules are left to coreRules' message.
    regex: `^${up(n)}${core ? `(?!${oneOf(CHAT_MODULES)}${EXT}$)` : ""}[^/.][^/]*$`,
    allowTypeImports: true,
    message:
      "Boundary: src/internal/** may import public modules (src/*.ts) only as types; use `import type`, or move the value into src/internal/ and re-export it from the public module."
  }
]

/** Rule 4: src/promise/** uses the public API only. */
const promiseRules = (n) => [
  {
    regex: `^${up(n)}${oneOf(INTERNAL_DIRS)}(?:/|$)`,
    message:
      "Boundary: src/promise/** must not import src/internal/** (types included); import it from a public module (src/*.ts), exporting it there if needed."
  },
  {
    regex: `^${up(n)}cli(?:/|$)`,
    message:
      "Boundary: src/promise/** must not import src/cli/**; move the shared code into a public module or into src/promise/."
  }
]

/** Rule 4: src/cli/** uses the public API and the top-level Promise facade only. */
const cliRules = (n) => [
  {
    regex: `^${up(n)}${oneOf(INTERNAL_DIRS)}(?:/|$)`,
    message:
      "Boundary: src/cli/** must not import src/internal/** (types included); import it from a public module (src/*.ts), exporting it there if needed."
  },
  {
    regex: `^${up(n)}promise/[^/]+/`,
    message:
      "Boundary: src/cli/** may import only top-level src/promise/*.ts, not src/promise/internal/** or other subfolders; use the promise module that exports it."
  }
]

const boundaries = [
  // Any file in src/ (folders not named below included).
  { files: [`src/**/${TS}`], rules: restrict(anywhere) },
  // Top-level modules of src/.
  { files: [`src/${TS}`], rules: restrict([...anywhere, leavesSrc(0)]) },
  {
    files: CORE_MODULES.map((name) => `src/${name}.ts`),
    rules: restrict([...anywhere, leavesSrc(0), ...coreRules(0)])
  },
  // src/internal/**: rules 2 and 3.
  ...INTERNAL_DIRS.flatMap((dir) =>
    depths.map((depth) => ({
      files: [filesAt(dir, depth)],
      ignores: CHAT_HELPERS,
      rules: restrict([...anywhere, leavesSrc(depth + 1), ...internalRules(depth + 1, true), ...coreRules(depth + 1)])
    }))
  ),
  ...CHAT_HELPERS.map((file) => {
    const n = file.split("/").length - 2
    return { files: [file], rules: restrict([...anywhere, leavesSrc(n), ...internalRules(n, false)]) }
  }),
  // src/promise/** and src/cli/**: rule 4.
  ...depths.map((depth) => ({
    files: [filesAt("promise", depth)],
    rules: restrict([...anywhere, leavesSrc(depth + 1), ...promiseRules(depth + 1)])
  })),
  ...depths.map((depth) => ({
    files: [filesAt("cli", depth)],
    rules: restrict([...anywhere, leavesSrc(depth + 1), ...cliRules(depth + 1)])
  })),
  // Files nested deeper than the generated patterns: fail loudly rather than go unchecked.
  {
    files: [`src/{${[...INTERNAL_DIRS, "promise", "cli"].join(",")}}/${"*/".repeat(MAX_DEPTH + 1)}**/${TS}`],
    rules: restrict([{
      regex: "^\\.",
      message:
        `Boundary lint: this file is nested deeper than MAX_DEPTH (${MAX_DEPTH}); raise MAX_DEPTH in eslint.config.mjs.`
    }])
  }
]

export default tseslint.config(
  { ignores: ["dist/**", "build/**", "node_modules/**", ".workflow/**", "bench/results.json"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...effect.configs.dprint,
  {
    rules: {
      "@effect/dprint": [
        "error",
        {
          config: {
            indentWidth: 2,
            lineWidth: 120,
            semiColons: "asi",
            quoteStyle: "alwaysDouble",
            trailingCommas: "never",
            operatorPosition: "maintain",
            "arrowFunction.useParentheses": "force"
          }
        }
      ],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      // Under verbatimModuleSyntax `import { type A } from "m"` still loads "m" at run time (as `import {} from "m"`);
      // the boundary and cycle checks treat it as type-only, so it must be written `import type { A } from "m"`.
      "@typescript-eslint/no-import-type-side-effects": "error",
      "require-yield": "off"
    }
  },
  {
    // One concept per module, functions that read in one sitting (comments and blank lines not counted).
    files: ["src/**/*.ts"],
    rules: {
      "max-lines": ["error", { max: 400, skipComments: true, skipBlankLines: true }],
      "max-lines-per-function": ["error", { max: 120, skipComments: true, skipBlankLines: true }]
    }
  },
  {
    files: ["scripts/**/*.mjs"],
    languageOptions: { globals: { console: "readonly", process: "readonly" } }
  },
  ...boundaries
)
