/**
 * The deterministic reading of a prompt used when no language model is
 * configured: list items and sequencing words become tasks, workflow names
 * mentioned in a task select that workflow, and a few signals score
 * complexity.
 */

export interface TextTask {
  readonly text: string
  readonly children: ReadonlyArray<TextTask>
}

// Quoted strings, backticked code and `{…}` objects are opaque to splitting ("first, then second" is one
// value): each is swapped for a placeholder holding its index, and put back once the prompt is cut.
const placeholder = /\uE000(\d+)\uE001/g
const quoted = /"(?:[^"\\\n]|\\.)*"|`[^`\n]*`|(?<!\w)'[^'\n]*'(?!\w)/y
const jsonString = /"(?:[^"\\\n]|\\.)*"/y

interface Masked {
  readonly text: string
  readonly spans: ReadonlyArray<string>
}

const mask = (text: string): Masked => {
  const spans: Array<string> = []
  let out = ""
  for (let i = 0; i < text.length;) {
    const end = spanEnd(text, i)
    if (end === undefined) {
      out += text[i]
      i += 1
    } else {
      out += `\uE000${spans.push(text.slice(i, end)) - 1}\uE001`
      i = end
    }
  }
  return { text: out, spans }
}

const unmask = (text: string, spans: ReadonlyArray<string>, as: (span: string) => string = (span) => span) =>
  text.replace(placeholder, (_, i: string) => as(spans[Number(i)]!))

/** Where a quoted or braced span starting at `start` ends, if one starts there. */
const spanEnd = (text: string, start: number): number | undefined => {
  if (text[start] === "{") return braceEnd(text, start)
  quoted.lastIndex = start
  const match = quoted.exec(text)
  return match === null ? undefined : start + match[0].length
}

/** The end of the balanced `{…}` starting at `start` (braces inside JSON strings do not count). */
const braceEnd = (text: string, start: number): number | undefined => {
  let depth = 0
  for (let i = start; i < text.length; i++) {
    jsonString.lastIndex = i
    const string = text[i] === `"` ? jsonString.exec(text) : null
    if (string !== null) i += string[0].length - 1
    else if (text[i] === "{") depth += 1
    else if (text[i] === "}" && --depth === 0) return i + 1
  }
  return undefined
}

const listItem = /^(\s*)(?:\d+[.)]|\(\d+\)|[-*•+]|[a-z][.)])\s+(.+)$/

// "then" starts a task wherever it stands as a word ("build then test"). The other sequencing words are
// also ordinary adverbs ("it finally works"), so they start one only where a clause starts: the start,
// after , ; . ! ? a line break or "and". "next" must moreover be followed by a comma or a verb-like word:
// not by the nouns and prepositions it qualifies as an adjective ("next week", "next to").
const then = String.raw`(?:^|[,;]\s*|[.!?]?\s+)(?:and\s+)?then`
const clause = String.raw`(?:^|[,;]\s*|[.!?]\s+|\s*\n\s*|\s+and\s+)(?:and\s+)?`
const next = String.raw`next(?=\s*[,:]|\s+(?!(?:week|month|year|day|night|time|steps?|ones?|to|of|in|on|at)\b)[a-z])`
const adverb = String.raw`(?:after that|afterwards|finally|lastly|subsequently|${next})`
const sequencing = new RegExp(String.raw`(?:${then}|${clause}${adverb})(?![\w-])[,:]?\s*|\s*;\s*`, "i")

// Only as a lead-in ("First, …", "Secondly: …"): "first aid kit" and "a) first thing" keep their words.
const ordinal = /^(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|to start|to begin|also)\s*[,:]\s*/i

const clean = (text: string): string => text.replace(ordinal, "").replace(/\s+/g, " ").replace(/[.\s]+$/, "").trim()

/** Text with something to do: not punctuation alone. */
const meaningful = /[\p{L}\p{N}]/u

interface Draft {
  text: string
  readonly indent: number
  readonly children: Array<Draft>
}

const draft = (text: string, indent = 0): Draft => ({ text, indent, children: [] })

/**
 * Splits a prompt into tasks: list items (nested by indentation, with the paragraphs around the list), a
 * one-line `1. … 2. …` list, or else sequencing words.
 */
export const splitTasks = (prompt: string): ReadonlyArray<TextTask> => {
  const { spans, text } = mask(prompt)
  const lines = text.split(/\r?\n/)
  const inline = lines.length === 1 ? inlineList(text) : []
  const drafts = inline.length > 1
    ? inline.map((item) => draft(item))
    : lines.some((line) => listItem.test(line))
    ? fromLines(lines)
    : text.split(sequencing).map((part) => draft(part))
  const freeze = (node: Draft): ReadonlyArray<TextTask> => {
    const children = node.children.flatMap(freeze)
    const text = unmask(clean(node.text), spans)
    // Punctuation alone ("then ,") is no task; its subtasks, if any, take its place.
    return meaningful.test(text) ? [{ text, children }] : children
  }
  return drafts.flatMap(freeze)
}

/** The items of a list written on one line, numbered 1, 2, 3… in order from its start ("18." is no marker). */
const inlineList = (line: string): ReadonlyArray<string> => {
  const first = /^\s*1[.)]\s+/.exec(line)
  if (first === null) return []
  const items: Array<string> = []
  let rest = line.slice(first[0].length)
  for (let n = 2;; n++) {
    const marker = new RegExp(String.raw`\s${n}[.)]\s+`).exec(rest)
    if (marker === null) return [...items, rest]
    items.push(rest.slice(0, marker.index))
    rest = rest.slice(marker.index + marker[0].length)
  }
}

/**
 * A prompt with a list. An indented line right under an item continues it; any other plain line ends the
 * list and starts a paragraph, read as a prompt without a list. The paragraph right above a list
 * introduces it: a heading ending in ":" is dropped, anything else is the task the items are subtasks of.
 */
const fromLines = (lines: ReadonlyArray<string>): ReadonlyArray<Draft> => {
  const roots: Array<Draft> = []
  let open: Array<Draft> = []
  let intro: Draft | undefined
  let paragraph: Array<string> = []
  let previous: "blank" | "item" | "text" = "blank"
  const flush = (introduces: boolean) => {
    if (paragraph.length === 0) return
    const tasks = paragraph.join("\n").split(sequencing).map((part) => draft(part))
    if (introduces && /:\s*$/.test(paragraph[paragraph.length - 1]!)) tasks.pop()
    else if (introduces) intro = tasks[tasks.length - 1]
    roots.push(...tasks)
    paragraph = []
  }
  for (const line of lines) {
    const item = listItem.exec(line)
    const indent = line.length - line.trimStart().length
    const owner = item === null && previous === "item" ? open.findLast((node) => node.indent < indent) : undefined
    if (item !== null) {
      flush(true)
      const node = draft(item[2]!, item[1]!.length)
      while (open.length > 0 && open[open.length - 1]!.indent >= node.indent) open.pop()
      const parent = open[open.length - 1] ?? intro
      if (parent === undefined) roots.push(node)
      else parent.children.push(node)
      open.push(node)
      previous = "item"
    } else if (line.trim() === "") {
      previous = "blank"
    } else if (owner !== undefined) {
      owner.text = `${owner.text}\n${line}`
    } else {
      if (previous === "blank") flush(false)
      open = []
      intro = undefined
      paragraph.push(line)
      previous = "text"
    }
  }
  flush(false)
  return roots
}

/** A short label for a task: its first words. */
export const intentOf = (text: string): string => {
  const words = text.split(/\s+/).filter((word) => word !== "")
  const head = words.slice(0, 8).join(" ").replace(/[,:;.]+$/, "")
  return words.length > 8 ? `${head}…` : head
}

const wordsOf = (text: string): ReadonlyArray<string> =>
  text.toLowerCase().split(/[^a-z0-9]+/).filter((word) => word !== "")

const normalize = (text: string) => ` ${wordsOf(text).join(" ")} `

/**
 * The registered workflow a task names, if any; of several, the longest name. A name of several words
 * (`count-words`, also written "count words") names it anywhere. A one-word name is an ordinary word too
 * ("release notes", "hello world"), so it counts only first in the task, after "run", "use", "call",
 * "start" or "with", before "workflow", or in backticks. Quoted strings and JSON name nothing.
 */
export const matchWorkflow = (text: string, names: ReadonlyArray<string>): string | undefined => {
  const { spans, text: masked } = mask(text)
  const code = (span: string) => span.startsWith("`")
  const haystack = normalize(unmask(masked, spans, (span) => code(span) ? span : " "))
  const mentions = (name: string) => {
    const words = wordsOf(name)
    const needle = ` ${words.join(" ")} `
    if (words.length !== 1) return words.length > 1 && haystack.includes(needle)
    return haystack.startsWith(needle) ||
      new RegExp(` (?:run|use|call|start|with)${needle}|${needle}workflow `).test(haystack) ||
      spans.some((span) => code(span) && normalize(span) === needle)
  }
  return names.filter(mentions).sort((a, b) => b.length - a.length)[0]
}

/** The text after the first mention of workflow `name`: what its `parseArgs` reads. */
export const argsAfter = (text: string, name: string): string => {
  const mention = new RegExp(String.raw`(?<![a-z0-9])${wordsOf(name).join("[\\W_]+")}(?![a-z0-9])\`?`, "i").exec(text)
  return mention === null ? "" : text.slice(mention.index + mention[0].length).trim()
}

/** Input written in a task: a JSON object, else `key=value` pairs; undefined when there is none. */
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

const keyValue = /([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S+)/g

/** The text with its `key=value` pairs taken out: blank when it held nothing else. */
export const withoutKeyValues = (text: string): string => text.replace(keyValue, "")

/**
 * `key=value` pairs of a text; values that parse as JSON (numbers, booleans, quoted strings) are parsed.
 * Built with `Object.fromEntries`, so every key, `__proto__` included, is a plain own key (assigning one
 * named `__proto__` would set the prototype instead); a later pair with the same key wins.
 */
export const keyValues = (text: string): Record<string, unknown> =>
  Object.fromEntries(Array.from(text.matchAll(keyValue), (match) => [match[1]!, scalar(match[2]!)]))

/**
 * A command-line value: JSON when it is JSON written the way JSON writes it
 * (`3`, `true`, `"x"`, `{"a":1}`), else the text itself, so `2.0` stays a
 * string.
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

/** Complexity from 1 to 10 and the signals that made it. */
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
