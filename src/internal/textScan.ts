/**
 * Linear scanning of user text: character classes as regular expressions
 * define them, and the masking of quoted strings, backticked code and
 * `{…}` objects. Chat text can be megabytes long; every function here looks
 * at each character a bounded number of times (no backtracking, no rescans
 * of what a failed attempt already read).
 */

/** JavaScript's `\s`: WhiteSpace and LineTerminator, as `trim` also reads them. */
export const isSpace = (c: number): boolean =>
  c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff

/** What `.` does not match: the line terminators. */
export const isLineTerminator = (c: number): boolean => c === 10 || c === 13 || c === 0x2028 || c === 0x2029

/** JavaScript's `\w`: ASCII letters, digits and `_`. */
export const isWord = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95

export const isDigit = (c: number): boolean => c >= 48 && c <= 57

export const isAsciiLetter = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90)

/**
 * Whether `word` (lower case) is written at `at`, ASCII letters in either case, as a case-insensitive
 * regular expression without the `u` flag matches them (no other character folds to an ASCII one).
 */
export const keywordAt = (text: string, at: number, word: string): boolean => {
  if (at + word.length > text.length) return false
  for (let k = 0; k < word.length; k++) {
    const w = word.charCodeAt(k)
    const c = text.charCodeAt(at + k)
    if (w >= 97 && w <= 122 ? (c | 0x20) !== w : c !== w) return false
  }
  return true
}

/** The text without the characters `drop` holds at its end (what `/[…]+$/` would remove, without backtracking). */
export const trimEndWhere = (text: string, drop: (c: number) => boolean): string => {
  let end = text.length
  while (end > 0 && drop(text.charCodeAt(end - 1))) end--
  return text.slice(0, end)
}

/**
 * `ends[i]`: the end of the run of white space starting at `i` (`i` itself when there is none), so that
 * `\s*` from any position is one lookup.
 */
export const spaceRunEnds = (text: string): Int32Array => {
  const ends = new Int32Array(text.length + 1)
  ends[text.length] = text.length
  for (let i = text.length - 1; i >= 0; i--) ends[i] = isSpace(text.charCodeAt(i)) ? ends[i + 1]! : i
  return ends
}

/**
 * The end of a double-quoted string starting at `start` (`"(?:[^"\\<stop>]|\\.)*"`), or where reading it
 * failed, as a negative number `-1 - position`. `newlineEnds` says whether a line break ends it unclosed.
 */
const doubleQuotedEnd = (text: string, start: number, newlineEnds: boolean): number => {
  for (let k = start + 1; k < text.length;) {
    const c = text.charCodeAt(k)
    if (c === 34) return k + 1
    if (c === 10 && newlineEnds) return -1 - k
    if (c === 92) {
      if (k + 1 >= text.length || isLineTerminator(text.charCodeAt(k + 1))) return -1 - k
      k += 2
    } else {
      k += 1
    }
  }
  return -1 - text.length
}

/**
 * `ends[k]`: for each `"` at `k` that opens a string which closes, its end; 0 elsewhere. Read left to
 * right without reading a character twice: every quote met inside a string, closed or not, was read
 * there as an escaped `\"`, and reading from it would follow the same characters to the same end (or
 * the same failure), so it gets that answer at once.
 */
export const doubleQuotedEnds = (text: string, newlineEnds: boolean): Int32Array => {
  const ends = new Int32Array(text.length + 1)
  let failedBefore = -1
  let insideBefore = -1
  let insideEnd = 0
  for (let k = text.indexOf(`"`); k !== -1; k = text.indexOf(`"`, k + 1)) {
    if (k < insideBefore) {
      ends[k] = insideEnd
    } else if (k >= failedBefore) {
      const end = doubleQuotedEnd(text, k, newlineEnds)
      if (end >= 0) {
        ends[k] = insideEnd = end
        insideBefore = end - 1
      } else {
        failedBefore = -1 - end
      }
    }
  }
  return ends
}

/** The end of the span `open…close` at `start` on one line (no `close` inside), if it closes. */
const closedOnLine = (text: string, start: number, close: number): number | undefined => {
  for (let k = start + 1; k < text.length; k++) {
    const c = text.charCodeAt(k)
    if (c === close) return k + 1
    if (c === 10) return undefined
  }
  return undefined
}

/**
 * `ends[i]`: for each `{` at `i` whose braces balance, the end of the `{…}` (strings that close on their
 * line are skipped, so braces inside them do not count); 0 elsewhere. Reading from each `{` until the
 * depth is back to 0 would read a long run of unbalanced braces again and again; instead, from the end
 * of the text back, `unmatched[k]` is the first `}` left unmatched when reading from `k`: a `{` at `k`
 * is matched by `unmatched[k + 1]`, and reading goes on after that one.
 */
const braceEnds = (text: string, strings: Int32Array): Int32Array => {
  const n = text.length
  const unmatched = new Int32Array(n + 2).fill(-1)
  const ends = new Int32Array(n + 1)
  for (let k = n - 1; k >= 0; k--) {
    const c = text.charCodeAt(k)
    if (c === 125) {
      unmatched[k] = k
    } else if (c === 123) {
      const close = unmatched[k + 1]!
      if (close >= 0) {
        ends[k] = close + 1
        unmatched[k] = unmatched[close + 1]!
      }
    } else {
      unmatched[k] = unmatched[c === 34 && strings[k]! > 0 ? strings[k]! : k + 1]!
    }
  }
  return ends
}

const placeholderOpen = "\uE000"
const placeholderClose = "\uE001"
const placeholder = /\uE000(\d+)\uE001/g

export interface Masked {
  /** The text with each span replaced by a placeholder holding its index. */
  readonly text: string
  readonly spans: ReadonlyArray<string>
}

/** Characters that may open a span: without any, a text is its own mask. */
const opensSpan = /["'`{\uE000\uE001]/

/**
 * Swaps each opaque span for a placeholder holding its index, as a scan from the left finds them: a
 * balanced `{…}`, a quoted string (`"…"` with escapes, `` `…` ``, or `'…'` not touching a word, each
 * on one line), and the placeholder characters themselves when the text holds them, so that unmasking
 * never mistakes the user's text for a placeholder. Spans are opaque to splitting ("first, then second"
 * is one value); `unmask` puts them back.
 */
export const mask = (text: string): Masked => {
  if (!opensSpan.test(text)) return { text, spans: [] }
  const strings = doubleQuotedEnds(text, true)
  const braces = text.includes("{") ? braceEnds(text, strings) : undefined
  const spans: Array<string> = []
  const out: Array<string> = []
  let plain = 0
  for (let i = 0; i < text.length;) {
    const c = text.charCodeAt(i)
    const end = c === 0xe000 || c === 0xe001
      ? i + 1
      : c === 123
      ? braces![i]
      : c === 34
      ? strings[i]
      : c === 96
      ? closedOnLine(text, i, 96)
      : c === 39 && (i === 0 || !isWord(text.charCodeAt(i - 1)))
      ? closedOnLine(text, i, 39)
      : undefined
    if (end === undefined || end === 0 || (c === 39 && end < text.length && isWord(text.charCodeAt(end)))) {
      i += 1
      continue
    }
    out.push(text.slice(plain, i), `${placeholderOpen}${spans.push(text.slice(i, end)) - 1}${placeholderClose}`)
    i = plain = end
  }
  out.push(text.slice(plain))
  return { text: out.join(""), spans }
}

/** Puts the spans back, each as it was or as `as` rewrites it. */
export const unmask = (text: string, spans: ReadonlyArray<string>, as: (span: string) => string = (span) => span) =>
  text.replace(placeholder, (_, i: string) => as(spans[Number(i)]!))
