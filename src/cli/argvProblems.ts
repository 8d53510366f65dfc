/**
 * What is wrong with argv, in one line: `@effect/cli`'s argument errors,
 * with the word argv went wrong at named where the library only says
 * "Invalid subcommand".
 *
 * @since 0.2.0
 */
import { HelpDoc, ValidationError } from "@effect/cli"
import { oneLine } from "./failures.js"
import type { RootOptions } from "./plainArgv.js"

/** `@effect/cli`'s own options of every command. */
const builtIn: RootOptions = {
  valued: ["--log-level", "--completions"],
  flags: ["--help", "-h", "--version", "--wizard"]
}

/** The first word of `args` that is none of the root options (or their values): what argv went wrong at. */
const firstUnknown = (args: ReadonlyArray<string>, root: RootOptions): string | undefined => {
  const valued = new Set([...root.valued, ...builtIn.valued])
  const flags = new Set([...root.flags, ...builtIn.flags])
  let i = 0
  while (i < args.length) {
    const [name = "", ...value] = args[i]!.split("=")
    if (valued.has(name)) i += value.length > 0 ? 1 : 2
    else if (flags.has(name)) i += 1
    else return args[i]
  }
  return undefined
}

/**
 * What is wrong with argv, in one line. `@effect/cli` says "Invalid
 * subcommand" for an unknown option before the command as for an unknown
 * command: this names the word instead.
 *
 * @since 0.2.0
 * @category formatting
 */
export const argvProblem = (
  error: ValidationError.ValidationError,
  args: ReadonlyArray<string>,
  root: RootOptions,
  commands: ReadonlyArray<string>
): string => {
  if (ValidationError.isCommandMismatch(error)) {
    const word = firstUnknown(args, root)
    if (word?.startsWith("-")) {
      return `Unknown option ${word.split("=")[0]} (before the command: ${[...root.valued, ...root.flags].join(", ")})`
    }
    if (word !== undefined && !commands.includes(word)) {
      return `Unknown command "${word}" (one of ${commands.join(", ")})`
    }
  }
  // eslint-disable-next-line no-control-regex -- the ANSI styling of a help paragraph
  const text = oneLine("error" in error ? HelpDoc.toAnsiText(error.error).replace(/\x1b\[[0-9;]*m/g, "") : "")
  return text === "" ? `Invalid arguments: ${error._tag}` : text
}
