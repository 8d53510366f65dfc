/**
 * Splitting a prompt at its sequencing words, in linear time. The rules are
 * those of this regular expression (case-insensitive), which `split` would
 * apply, but on a long run of white space or of line breaks it backtracks
 * for a time quadratic (or worse) in the run:
 *
 *     (?:THEN|CLAUSE ADVERB)(?![\w-])[,:]?\s*  |  \s*;\s*
 *     THEN   = (?:^|[,;]\s*|[.!?]?\s+)(?:and\s+)?then
 *     CLAUSE = (?:^|[,;]\s*|[.!?]\s+|\s*\n\s*|\s+and\s+)(?:and\s+)?
 *     ADVERB = after that|afterwards|finally|lastly|subsequently|NEXT
 *     NEXT   = next(?=\s*[,:]|\s+(?!(?:week|month|year|day|night|time|steps?|ones?|to|of|in|on|at)\b)[a-z])
 *
 * "then" starts a task wherever it stands as a word ("build then test"). The other sequencing words are
 * also ordinary adverbs ("it finally works"), so they start one only where a clause starts: the start,
 * after , ; . ! ? a line break or "and". "next" must moreover be followed by a comma or a verb-like word:
 * not by the nouns and prepositions it qualifies as an adjective ("next week", "next to").
 *
 * Each alternative is read here the way the expression reads it; with the end of every run of white
 * space known in advance, trying a position costs a bounded number of steps.
 */
import { isAsciiLetter, isSpace, isWord, keywordAt, spaceRunEnds } from "./textScan.js"

const adverbs = ["after that", "afterwards", "finally", "lastly", "subsequently"]
const notAfterNext = "week month year day night time steps step ones one to of in on at".split(" ")

/** The matcher of one text: `at(q)` is the end of the match starting at `q`, or -1. */
const matcher = (text: string) => {
  const n = text.length
  const spaceEnd = spaceRunEnds(text)
  // nextBreak[i]: the first line break at or after i, so that "a run of white space holds one" is a lookup.
  const nextBreak = new Int32Array(n + 1)
  nextBreak[n] = n
  for (let i = n - 1; i >= 0; i--) nextBreak[i] = text.charCodeAt(i) === 10 ? i : nextBreak[i + 1]!
  const code = (i: number) => (i < n ? text.charCodeAt(i) : -1)
  const space = (i: number) => i < n && isSpace(text.charCodeAt(i))

  /** `(?![\w-])[,:]?\s*` after a sequencing word ending at `end`. */
  const tail = (end: number): number => {
    const c = code(end)
    if (c !== -1 && (isWord(c) || c === 45)) return -1
    return spaceEnd[c === 44 || c === 58 ? end + 1 : end]!
  }

  /** `(?:and\s+)?` then the word `core` reads at `p`, then the tail. */
  const afterPrefix = (p: number, core: (p: number) => number): number => {
    if (keywordAt(text, p, "and") && space(p + 3)) {
      const word = core(spaceEnd[p + 3]!)
      const end = word < 0 ? -1 : tail(word)
      if (end >= 0) return end
    }
    const word = core(p)
    return word < 0 ? -1 : tail(word)
  }

  const then = (p: number) => (keywordAt(text, p, "then") ? p + 4 : -1)

  const nextAsVerb = (p: number): boolean => {
    if (!keywordAt(text, p, "next")) return false
    const after = spaceEnd[p + 4]!
    if (code(after) === 44 || code(after) === 58) return true
    return space(p + 4) && isAsciiLetter(code(after)) &&
      !notAfterNext.some((word) =>
        keywordAt(text, after, word) && (after + word.length >= n || !isWord(code(after + word.length)))
      )
  }

  const adverb = (p: number): number => {
    for (const word of adverbs) if (keywordAt(text, p, word)) return p + word.length
    return nextAsVerb(p) ? p + 4 : -1
  }

  /** Where the words after a clause boundary at `q` start, for each way the boundary can be read, in order. */
  const prefixes = (q: number, clause: boolean): Array<number> => {
    const c = code(q)
    const found: Array<number> = []
    if (q === 0) found.push(0)
    if (c === 44 || c === 59) found.push(spaceEnd[q + 1]!)
    if ((c === 46 || c === 33 || c === 63) && space(q + 1)) found.push(spaceEnd[q + 1]!)
    else if (!clause && space(q)) found.push(spaceEnd[q]!)
    if (clause && nextBreak[q]! < spaceEnd[q]!) found.push(spaceEnd[q]!)
    if (clause && space(q) && keywordAt(text, spaceEnd[q]!, "and") && space(spaceEnd[q]! + 3)) {
      found.push(spaceEnd[spaceEnd[q]! + 3]!)
    }
    return found
  }

  return (q: number): number => {
    for (const p of prefixes(q, false)) {
      const end = afterPrefix(p, then)
      if (end >= 0) return end
    }
    for (const p of prefixes(q, true)) {
      const end = afterPrefix(p, adverb)
      if (end >= 0) return end
    }
    const semicolon = spaceEnd[q]!
    return code(semicolon) === 59 ? spaceEnd[semicolon + 1]! : -1
  }
}

/**
 * The parts of `text` between its sequencing words (and semicolons), as `text.split(sequencing)` returns
 * them: a match is looked for at each position from the left, and the text after a match is searched from
 * its end.
 */
export const splitAtSequencing = (text: string): Array<string> => {
  const at = matcher(text)
  const parts: Array<string> = []
  let from = 0
  for (let q = 0; q < text.length;) {
    const end = at(q)
    if (end < 0) {
      q += 1
      continue
    }
    parts.push(text.slice(from, q))
    from = q = end
  }
  parts.push(text.slice(from))
  return parts
}
