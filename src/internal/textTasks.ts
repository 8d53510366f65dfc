/**
 * The deterministic reading of a prompt used when no language model is
 * configured: list items and sequencing words become tasks, workflow names
 * mentioned in a task select that workflow, and a few signals score
 * complexity.
 *
 * @internal
 */

/** @internal */
export interface TextTask {
  readonly text: string
  readonly children: ReadonlyArray<TextTask>
}

const listItem = /^(\s*)(?:\d+[.)]|\(\d+\)|[-*•+]|[a-z][.)])\s+(.+)$/

// A sequencing word (optionally after a comma, "and" or a full stop) starts a new task.
const sequencing =
  /(?:[,.;]?\s+(?:and\s+)?|^)(?:and then|then|after that|afterwards|next|finally|lastly|subsequently)\b[,:]?\s*|\s*;\s*/i

const ordinal = /^(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|to start|to begin|also)\b[,:]?\s*/i

const clean = (text: string): string => text.replace(ordinal, "").replace(/\s+/g, " ").replace(/[.\s]+$/, "").trim()

/** Splits a prompt into tasks: list items (nested by indentation) or else sequencing words. @internal */
export const splitTasks = (prompt: string): ReadonlyArray<TextTask> => {
  const lines = prompt.split(/\r?\n/)
  // A list written on one line: "1. this 2. that".
  const inline = lines.length === 1 ? prompt.split(/(?:^|\s+)\d+[.)]\s+/) : []
  if (inline.length > 2) {
    return inline.map(clean).filter((text) => text !== "").map((text) => ({ text, children: [] }))
  }
  const items = lines.map((line) => listItem.exec(line))
  if (items.some((match) => match !== null)) return fromList(lines, items)
  return prompt.split(sequencing).map(clean).filter((text) => text !== "").map((text) => ({ text, children: [] }))
}

interface Mutable {
  text: string
  readonly indent: number
  readonly children: Array<Mutable>
}

const fromList = (lines: ReadonlyArray<string>, items: ReadonlyArray<RegExpExecArray | null>) => {
  const roots: Array<Mutable> = []
  const open: Array<Mutable> = []
  lines.forEach((line, i) => {
    const match = items[i]
    if (match === null || match === undefined) {
      // A plain line inside the list continues the item above it; lines before the list are context.
      const last = open[open.length - 1]
      if (last !== undefined && line.trim() !== "") last.text = `${last.text} ${line.trim()}`
      return
    }
    const node: Mutable = { text: match[2]!, indent: match[1]!.length, children: [] }
    while (open.length > 0 && open[open.length - 1]!.indent >= node.indent) open.pop()
    const parent = open[open.length - 1]
    if (parent === undefined) roots.push(node)
    else parent.children.push(node)
    open.push(node)
  })
  const freeze = (node: Mutable): TextTask => ({ text: clean(node.text), children: node.children.map(freeze) })
  return roots.map(freeze).filter((task) => task.text !== "")
}

/** A short label for a task: its first words. @internal */
export const intentOf = (text: string): string => {
  const words = text.split(/\s+/).filter((word) => word !== "")
  const head = words.slice(0, 8).join(" ").replace(/[,:;.]+$/, "")
  return words.length > 8 ? `${head}…` : head
}

const normalize = (text: string) =>
  ` ${text.toLowerCase().replace(/[-_/]+/g, " ").replace(/[^a-z0-9 ]+/g, " ")} `
    .replace(/\s+/g, " ")

/** The registered workflow a task names (the longest name mentioned), if any. @internal */
export const matchWorkflow = (text: string, names: ReadonlyArray<string>): string | undefined => {
  const haystack = normalize(text)
  return names
    .filter((name) => haystack.includes(normalize(name)))
    .sort((a, b) => b.length - a.length)[0]
}

/** Input written in a task: a JSON object, else `key=value` pairs; undefined when there is none. @internal */
export const inputOf = (text: string): unknown => {
  const start = text.indexOf("{")
  const end = text.lastIndexOf("}")
  if (start !== -1 && end > start) {
    try {
      return JSON.parse(text.slice(start, end + 1))
    } catch {
      // Not JSON: fall through to key=value pairs.
    }
  }
  const pairs = keyValues(text)
  return Object.keys(pairs).length > 0 ? pairs : undefined
}

/** `key=value` pairs of a text; values that parse as JSON (numbers, booleans, quoted strings) are parsed. @internal */
export const keyValues = (text: string): Record<string, unknown> => {
  const pairs: Record<string, unknown> = {}
  for (const match of text.matchAll(/([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    pairs[match[1]!] = scalar(match[2]!)
  }
  return pairs
}

/**
 * A command-line value: JSON when it is JSON written the way JSON writes it
 * (`3`, `true`, `"x"`, `{"a":1}`), else the text itself, so `2.0` stays a
 * string. @internal
 */
export const scalar = (raw: string): unknown => {
  try {
    const value = JSON.parse(raw)
    return JSON.stringify(value) === raw || typeof value === "object" ? value : raw
  } catch {
    return raw
  }
}

const conditionals = /\b(?:if|unless|otherwise|depending|whether|when|until|compare|evaluate|optimi[sz]e)\b/gi

/** Complexity from 1 to 10 and the signals that made it. @internal */
export const score = (prompt: string): { readonly complexity: number; readonly reasons: ReadonlyArray<string> } => {
  const tasks = splitTasks(prompt)
  const subtasks = tasks.reduce((n, task) => n + task.children.length, 0)
  const words = prompt.split(/\s+/).filter((word) => word !== "").length
  const branches = (prompt.match(conditionals) ?? []).length
  const reasons: Array<string> = []
  let complexity = 1
  if (tasks.length > 1) {
    complexity += Math.min(4, tasks.length)
    reasons.push(`${tasks.length} tasks`)
  }
  if (subtasks > 0) {
    complexity += Math.min(2, subtasks)
    reasons.push(`${subtasks} subtasks`)
  }
  if (branches > 0) {
    complexity += Math.min(2, branches)
    reasons.push(`${branches} conditions or evaluations`)
  }
  if (words > 60) {
    complexity += words > 200 ? 2 : 1
    reasons.push(`${words} words`)
  }
  if (reasons.length === 0) reasons.push("a single short request")
  return { complexity: Math.min(10, complexity), reasons }
}
