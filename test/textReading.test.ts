/**
 * The linear readers of chat text read exactly what the regular expressions
 * they replace (quadratic on adversarial text) read: on thousands of short
 * texts built from the characters and words those expressions branch on,
 * both give the same result.
 */
import { describe, expect, it } from "vitest"
import { splitAtSequencing } from "../src/internal/sequencing.js"
import * as TextTasks from "../src/internal/textTasks.js"

const then = String.raw`(?:^|[,;]\s*|[.!?]?\s+)(?:and\s+)?then`
const clause = String.raw`(?:^|[,;]\s*|[.!?]\s+|\s*\n\s*|\s+and\s+)(?:and\s+)?`
const next = String
  .raw`next(?=\s*[,:]|\s+(?!(?:week|month|year|day|night|time|steps?|ones?|to|of|in|on|at)\b)[a-z])`
const adverb = String.raw`(?:after that|afterwards|finally|lastly|subsequently|${next})`
const sequencing = new RegExp(String.raw`(?:${then}|${clause}${adverb})(?![\w-])[,:]?\s*|\s*;\s*`, "i")
const keyValue = /([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S+)/g

/** Texts of up to `length` pieces drawn from `pieces`, the same ones in every run. */
const texts = (pieces: ReadonlyArray<string>, count: number, length: number): Array<string> => {
  let seed = 42
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  return Array.from({ length: count }, () => {
    let text = ""
    for (let i = random(length + 1); i > 0; i--) text += pieces[random(pieces.length)]
    return text
  })
}

describe("reading chat text without backtracking", () => {
  it("splits at sequencing words exactly where the sequencing expression does", () => {
    const pieces = [
      "then",
      "THEN",
      "Then",
      "and",
      "AND",
      "And ",
      " ",
      "  ",
      "\n",
      "\r\n",
      "\u2028",
      "\u00a0",
      "\v",
      ",",
      ";",
      ":",
      ".",
      "!",
      "?",
      "next",
      "Next",
      " week",
      " weekly",
      " steps",
      " stepsx",
      " to",
      " tomorrow",
      " x",
      "-",
      "_",
      "9",
      "after that",
      "After That",
      "after  that",
      "afterwards",
      "finally",
      "LASTLY",
      "subsequently",
      "thence",
      "then-",
      "é"
    ]
    for (const text of texts(pieces, 20_000, 16)) {
      expect(splitAtSequencing(text), JSON.stringify(text)).toEqual(text.split(sequencing))
    }
  })

  it("finds the key=value pairs the key=value expression finds", () => {
    const pieces = ["a", "B", "_", "9", ".", "-", "=", `"`, `\\`, `\\"`, " ", "\n", "\r", "\u2028", "x=1", `k="v w"`]
    for (const text of texts(pieces, 20_000, 14)) {
      const expected = Object.fromEntries(Array.from(text.matchAll(keyValue), (m) => [m[1]!, TextTasks.scalar(m[2]!)]))
      expect(TextTasks.keyValues(text), JSON.stringify(text)).toEqual(expected)
      expect(TextTasks.withoutKeyValues(text), JSON.stringify(text)).toBe(text.replace(keyValue, ""))
    }
  })
})
