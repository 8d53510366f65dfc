/**
 * The argv of a command that only reads (`list`, `status`, `executions`,
 * `events`), written plainly, read without `@effect/cli`: loading the
 * library, its help printer and the platform services it needs is most of
 * what such a command costs at start-up (docs/design.md, "What loads when").
 *
 * Plainly means: root options before the command, each once (`--workflows`
 * may repeat), each `--name value` or the flag `--json`, the command's own
 * arguments in one fixed order, and no word that is empty, starts with `-`
 * or with a space, or ends with one. Anything else (help, `--log-level`,
 * `--db=file`, a mistake) is left to the `@effect/cli` command, which reads
 * every form; for the plain forms both read the same (`test/plainArgv.test.ts`).
 *
 * @since 0.2.0
 */
import * as Option from "effect/Option"
import * as CommandLine from "../CommandLine.js"
import * as ExecutionStorage from "../ExecutionStorage.js"
import type * as App from "./App.js"

/**
 * The root command's options, as argv spells them: those that take a value,
 * and flags.
 *
 * @since 0.2.0
 * @category models
 */
export interface RootOptions {
  readonly valued: ReadonlyArray<string>
  readonly flags: ReadonlyArray<string>
}

/**
 * The options of the root command (before the subcommand), also to name the
 * word an argument error is about.
 *
 * @since 0.2.0
 * @category constants
 */
export const rootOptions: RootOptions = {
  valued: ["--db", "--pg-url", "--workflows", "--model", "--lease"],
  flags: ["--json"]
}

/**
 * Every subcommand. `@effect/cli` takes the first word that names one as the
 * command, even where it would be an option's value.
 *
 * @since 0.2.0
 * @category constants
 */
export const commandNames: ReadonlyArray<string> = [
  "run",
  "list",
  "status",
  "executions",
  "events",
  "watch",
  "approve",
  "resume",
  "cancel",
  "signal",
  "fork",
  "schedule",
  "schedules",
  "pause-schedule",
  "resume-schedule",
  "unschedule",
  "worker",
  "serve"
]

/**
 * A reading command and the root options it runs with.
 *
 * @since 0.2.0
 * @category models
 */
export interface Reading {
  readonly config: App.Config
  readonly command: CommandLine.Command
}

/** A value as written: not an option, and nothing a reader could trim. */
const isPlain = (word: string | undefined): word is string =>
  word !== undefined && word !== "" && !word.startsWith("-") && word.trim() === word

/** A whole number of at most 9 digits, written without a sign or leading zeros. */
const wholeNumber = (word: string | undefined): number | undefined =>
  word !== undefined && /^(?:0|[1-9]\d{0,8})$/.test(word) ? Number(word) : undefined

/** `--name value` pairs, each name once, each one of `names`; undefined for anything else. */
const pairs = (words: ReadonlyArray<string>, names: ReadonlyArray<string>): Map<string, string> | undefined => {
  const found = new Map<string, string>()
  for (let i = 0; i < words.length; i += 2) {
    const [name, value] = [words[i]!, words[i + 1]]
    if (!names.includes(name) || found.has(name) || !isPlain(value)) return undefined
    found.set(name, value)
  }
  return found
}

/** The root options in `words` (all that comes before the command); undefined unless they are plain. */
const rootConfig = (words: ReadonlyArray<string>): App.Config | undefined => {
  const values = new Map<string, string>()
  const workflows: Array<string> = []
  let json = false
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!
    if (word === "--json") {
      // Only an option may follow (as the loop requires): `@effect/cli` would read a word such as "no" as its value.
      if (json) return undefined
      json = true
    } else {
      const value = words[++i]
      if (!rootOptions.valued.includes(word) || !isPlain(value)) return undefined
      if (word === "--workflows") workflows.push(value)
      else if (values.has(word)) return undefined
      else values.set(word, value)
    }
  }
  const lease = values.get("--lease")
  const seconds = wholeNumber(lease)
  // Below 1 second, or not a number as written here: the command tells why.
  if (lease !== undefined && (seconds === undefined || seconds < 1)) return undefined
  return {
    db: Option.fromNullable(values.get("--db")),
    pgUrl: Option.fromNullable(values.get("--pg-url")),
    workflows,
    model: Option.fromNullable(values.get("--model")),
    json,
    lease: Option.fromNullable(seconds)
  }
}

const statuses: ReadonlyArray<string> = ExecutionStorage.ExecutionStatus.literals

/** The reading command `name` with its arguments `words`; undefined for any other command or form. */
const readingCommand = (name: string, words: ReadonlyArray<string>): CommandLine.Command | undefined => {
  const [id, ...rest] = words
  switch (name) {
    case "list":
      return words.length === 0 ? CommandLine.Command.List() : undefined
    case "status":
      return words.length === 1 && isPlain(id) ? CommandLine.Command.Status({ id }) : undefined
    case "events": {
      if (!isPlain(id)) return undefined
      if (rest.length === 0) return CommandLine.Command.Events({ id, fromSeq: undefined })
      const fromSeq = wholeNumber(rest[1])
      return rest.length === 2 && rest[0] === "--from" && fromSeq !== undefined
        ? CommandLine.Command.Events({ id, fromSeq })
        : undefined
    }
    case "executions": {
      const filter = pairs(words, ["--status", "--workflow"])
      const status = filter?.get("--status")
      const workflow = filter?.get("--workflow")
      if (filter === undefined || (status !== undefined && !statuses.includes(status))) return undefined
      return CommandLine.Command.Executions({
        filter: {
          ...(status !== undefined ? { status: status as ExecutionStorage.ExecutionStatus } : {}),
          ...(workflow !== undefined ? { workflow } : {})
        }
      })
    }
    default:
      return undefined
  }
}

/**
 * Reads `args` (argv after the script) as a reading command written
 * plainly; undefined for any other command line, which `@effect/cli` reads.
 *
 * @since 0.2.0
 * @category parsing
 */
export const read = (args: ReadonlyArray<string>): Reading | undefined => {
  const at = args.findIndex((word) => commandNames.includes(word))
  if (at < 0) return undefined
  const config = rootConfig(args.slice(0, at))
  const command = config === undefined ? undefined : readingCommand(args[at]!, args.slice(at + 1))
  return config === undefined || command === undefined ? undefined : { config, command }
}
