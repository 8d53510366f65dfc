/**
 * The deterministic reading of a prompt used when no language model is
 * configured: list items and sequencing words become tasks, workflow names
 * mentioned in a task select that workflow, and a few signals score
 * complexity. Every reading is linear in the length of the text (see
 * `textScan.ts`): a chat can send megabytes.
 */
import { splitAtSequencing } from "./sequencing.js"
import {
  doubleQuotedEnds,
  isDigit,
  isLineTerminator,
  isSpace,
  isWord,
  mask,
  spaceRunEnds,
  trimEndWhere,
  unmask
} from "./textScan.js"

export interface TextTask {
  readonly text: string
  readonly children: ReadonlyArray<TextTask>
}

// Only as a lead-in ("First, …", "Secondly: …"): "first aid kit" and "a) first thing" keep their words.
const ordinal = /^(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|to start|to begin|also)\s*[,:]\s*/i

const clean = (text: string): string =>
  trimEndWhere(text.replace(ordinal, "").replace(/\s+/g, " "), (c) => c === 46 || isSpace(c)).trim()

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
    : lines.some((line) => listItem(line) !== undefined)
    ? fromLines(lines)
    : splitAtSequencing(text).map((part) => draft(part))
  const freeze = (node: Draft, depth: number): ReadonlyArray<TextTask> => {
    const children = depth < MAX_DEPTH
      ? node.children.flatMap((child) => freeze(child, depth + 1))
      : descendants(node).flatMap((descendant) => freeze({ ...descendant, children: [] }, depth + 1))
    const text = unmask(clean(node.text), spans)
    // Punctuation alone ("then ,") is no task; its subtasks, if any, take its place.
    return meaningful.test(text) ? [{ text, children }] : children
  }
  return drafts.flatMap((node) => freeze(node, 1))
}

/**
 * Lists nest at most this deep: the items under an item at this depth are all its subtasks, in order.
 * A plan nested deeper is no plan anyone reads, and decoding, running and showing it recurse that deep.
 */
const MAX_DEPTH = 16

/** Every item under `node`, in document order (without recursion: the list may nest thousands deep). */
const descendants = (node: Draft): Array<Draft> => {
  const found: Array<Draft> = []
  const pending = [...node.children].reverse()
  while (pending.length > 0) {
    const next = pending.pop()!
    found.push(next)
    for (let i = next.children.length - 1; i >= 0; i--) pending.push(next.children[i]!)
  }
  return found
}

/** The items of a list written on one line, numbered 1, 2, 3… in order from its start ("18." is no marker). */
const inlineList = (line: string): ReadonlyArray<string> => {
  const first = /^\s*1[.)]\s+/.exec(line)
  if (first === null) return []
  const spaceEnd = spaceRunEnds(line)
  const items: Array<string> = []
  let start = first[0].length
  for (let n = 2;; n++) {
    // The next marker `\s<n>[.)]\s+`, searched from the end of the previous one: each character is read once.
    const digits = String(n)
    let at = start
    while (
      at < line.length &&
      !(isSpace(line.charCodeAt(at)) && line.startsWith(digits, at + 1) &&
        (line[at + 1 + digits.length] === "." || line[at + 1 + digits.length] === ")") &&
        isSpace(line.charCodeAt(at + 2 + digits.length)))
    ) at++
    if (at >= line.length) return [...items, line.slice(start)]
    items.push(line.slice(start, at))
    start = spaceEnd[at + 2 + digits.length]!
  }
}

/**
 * A list item (`1.`, `1)`, `(1)`, `-`, `*`, `•`, `+` or `a.`, `a)` then white space and text): its
 * indentation and text, as `/^(\s*)(?:\d+[.)]|\(\d+\)|[-*•+]|[a-z][.)])\s+(.+)$/` reads them, read
 * without backtracking.
 */
const listItem = (line: string): { readonly indent: number; readonly text: string } | undefined => {
  const n = line.length
  let i = 0
  while (i < n && isSpace(line.charCodeAt(i))) i++
  const c = line.charCodeAt(i)
  let j = i + 1
  if (isDigit(c)) {
    while (j < n && isDigit(line.charCodeAt(j))) j++
    if (line[j] !== "." && line[j] !== ")") return undefined
    j += 1
  } else if (c === 40) {
    while (j < n && isDigit(line.charCodeAt(j))) j++
    if (j === i + 1 || line[j] !== ")") return undefined
    j += 1
  } else if (c >= 97 && c <= 122) {
    if (line[j] !== "." && line[j] !== ")") return undefined
    j += 1
  } else if (!(c === 45 || c === 42 || c === 0x2022 || c === 43)) {
    return undefined
  }
  if (j >= n || !isSpace(line.charCodeAt(j))) return undefined
  let k = j
  while (k < n && isSpace(line.charCodeAt(k))) k++
  // `(.+)$` takes the rest after the white space, or, when nothing follows it, its last character.
  const textStart = k < n ? k : k - j >= 2 ? n - 1 : n
  if (textStart >= n) return undefined
  for (let t = textStart; t < n; t++) if (isLineTerminator(line.charCodeAt(t))) return undefined
  return { indent: i, text: line.slice(textStart) }
}

/** The last open item indented less than `indent`: `open` is ordered by strictly growing indentation. */
const lastIndentedBelow = (open: ReadonlyArray<Draft>, indent: number): Draft | undefined => {
  let low = 0
  let high = open.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (open[middle]!.indent < indent) low = middle + 1
    else high = middle
  }
  return low === 0 ? undefined : open[low - 1]
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
    const tasks = splitAtSequencing(paragraph.join("\n")).map((part) => draft(part))
    if (introduces && paragraph[paragraph.length - 1]!.trimEnd().endsWith(":")) tasks.pop()
    else if (introduces) intro = tasks[tasks.length - 1]
    roots.push(...tasks)
    paragraph = []
  }
  for (const line of lines) {
    const item = listItem(line)
    const indent = line.length - line.trimStart().length
    const owner = item === undefined && previous === "item" ? lastIndentedBelow(open, indent) : undefined
    if (item !== undefined) {
      flush(true)
      const node = draft(item.text, item.indent)
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
  // The first nine words at most: a label of a long text reads only its start.
  const words: Array<string> = []
  for (let at = 0; words.length < 9 && at < text.length;) {
    while (at < text.length && isSpace(text.charCodeAt(at))) at++
    const start = at
    while (at < text.length && !isSpace(text.charCodeAt(at))) at++
    if (at > start) words.push(text.slice(start, at))
  }
  const head = trimEndWhere(words.slice(0, 8).join(" "), (c) => c === 44 || c === 58 || c === 59 || c === 46)
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

const isKeyStart = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95
const isKeyChar = (c: number) => isWord(c) || c === 46 || c === 45

/**
 * The `key=value` pairs of a text, left to right, as `/([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S+)/g`
 * finds them, read without backtracking: a key is the longest run of `[\w.-]` from a letter or `_`, right
 * before `=`; the value a double-quoted string (escapes allowed) if one closes, else the word after `=`.
 */
interface Pair {
  readonly start: number
  readonly end: number
  readonly key: string
  readonly value: string
}

const pairsOf = (text: string): Array<Pair> => {
  const n = text.length
  const quoted = doubleQuotedEnds(text, false)
  const pairs: Array<Pair> = []
  for (let at = 0; at < n;) {
    if (!isKeyStart(text.charCodeAt(at))) {
      at += 1
      continue
    }
    let equals = at + 1
    while (equals < n && isKeyChar(text.charCodeAt(equals))) equals++
    // A start anywhere in this run finds the same end: no pair starts in it unless one starts here.
    if (text.charCodeAt(equals) !== 61) {
      at = equals
      continue
    }
    const value = equals + 1
    let end = quoted[value]! > 0 ? quoted[value] : undefined
    if (end === undefined) {
      let word = value
      while (word < n && !isSpace(text.charCodeAt(word))) word++
      if (word > value) end = word
    }
    if (end === undefined) {
      at = value
      continue
    }
    pairs.push({ start: at, end, key: text.slice(at, equals), value: text.slice(value, end) })
    at = end
  }
  return pairs
}

/** The text with its `key=value` pairs taken out: blank when it held nothing else. */
export const withoutKeyValues = (text: string): string => {
  const kept: Array<string> = []
  let from = 0
  for (const pair of pairsOf(text)) {
    kept.push(text.slice(from, pair.start))
    from = pair.end
  }
  kept.push(text.slice(from))
  return kept.join("")
}

/**
 * `key=value` pairs of a text; values that parse as JSON (numbers, booleans, quoted strings) are parsed.
 * Built with `Object.fromEntries`, so every key, `__proto__` included, is a plain own key (assigning one
 * named `__proto__` would set the prototype instead); a later pair with the same key wins.
 */
export const keyValues = (text: string): Record<string, unknown> =>
  Object.fromEntries(pairsOf(text).map((pair) => [pair.key, scalar(pair.value)]))

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

/** Complexity from 1 to 10, the signals that made it, and the number of tasks the prompt splits into. */
export const score = (
  prompt: string
): { readonly complexity: number; readonly reasons: ReadonlyArray<string>; readonly tasks: number } => {
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
  return { complexity: Math.min(10, complexity), reasons, tasks: tasks.length }
}
