/**
 * The CLI reads a reading command written plainly without `@effect/cli`
 * (`src/cli/plainArgv.ts`), and leaves every other command line to the
 * `@effect/cli` command. Whatever it reads, `@effect/cli` reads the same:
 * the same root options and the same command, on thousands of command lines
 * made of options, values and words that `@effect/cli` treats specially.
 */
import { CliConfig, Command, CommandDescriptor } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Effect, HashMap, Option } from "effect"
import { describe, expect, it } from "vitest"
import { command } from "../src/cli/command.js"
import * as PlainArgv from "../src/cli/plainArgv.js"
import { CommandLine, type ExecutionStorage } from "../src/index.js"

/** What `@effect/cli` reads from `args`: the root options and the subcommand's name and value, or its error. */
const effectCliReads = (args: ReadonlyArray<string>) =>
  CommandDescriptor.parse(command.descriptor, ["token-ring-workflow", ...args], CliConfig.defaultConfig).pipe(
    Effect.provide(NodeContext.layer),
    Effect.either,
    Effect.runPromise
  )

/** The command the `@effect/cli` command's handler runs for a reading subcommand's parsed value. */
const asCommand = (name: string, value: any): CommandLine.Command | undefined => {
  switch (name) {
    case "list":
      return CommandLine.Command.List()
    case "status":
      return CommandLine.Command.Status({ id: value.id })
    case "events":
      return CommandLine.Command.Events({ id: value.id, fromSeq: Option.getOrUndefined(value.from) })
    case "executions": {
      const filter = value as {
        readonly status: Option.Option<ExecutionStorage.ExecutionStatus>
        readonly workflow: Option.Option<string>
      }
      return CommandLine.Command.Executions({
        filter: {
          ...Option.match(filter.status, { onNone: () => ({}), onSome: (status) => ({ status }) }),
          ...Option.match(filter.workflow, { onNone: () => ({}), onSome: (workflow) => ({ workflow }) })
        }
      })
    }
  }
  return undefined
}

/** `read(args)`, checked against `@effect/cli`'s reading of the same args. */
const readAlike = async (args: ReadonlyArray<string>) => {
  const plain = PlainArgv.read(args)
  if (plain === undefined) return undefined
  const parsed = await effectCliReads(args)
  const line = JSON.stringify(args)
  expect(parsed._tag, line).toBe("Right")
  const directive = parsed._tag === "Right" ? parsed.right : undefined
  expect(directive?._tag, line).toBe("UserDefined")
  if (directive?._tag !== "UserDefined") return plain
  expect(directive.leftover, line).toEqual([])
  const { subcommand, ...config } = directive.value
  expect(config, line).toEqual(plain.config)
  expect(Option.isSome(subcommand), line).toBe(true)
  if (Option.isSome(subcommand)) {
    const [tag, value] = subcommand.value as unknown as readonly [{ readonly key: string }, unknown]
    const name = /\((\w+)\)$/.exec(tag.key)?.[1] ?? ""
    expect(asCommand(name, value), line).toEqual(plain.command)
  }
  return plain
}

const id = "0b5e2d4c-1f6a-4c1e-9a7e-3f2d1c0b9a8e"

/** Words that make up the command lines below: options, values, and what `@effect/cli` reads specially. */
const words = [
  ...PlainArgv.rootOptions.valued,
  ...PlainArgv.rootOptions.flags,
  ...PlainArgv.commandNames,
  "--from",
  "--status",
  "--workflow",
  "--help",
  "-h",
  "--version",
  "--wizard",
  "--log-level",
  "--completions",
  "--",
  "--db=x.db",
  "--DB",
  "LIST",
  "-j",
  "x.db",
  "a b.db",
  " x.db",
  "x.db ",
  "",
  "token-ring-workflow",
  "true",
  "yes",
  "0",
  "1",
  "5",
  "07",
  "-3",
  "1.5",
  "waiting",
  "WAITING",
  "hello",
  "openai:gpt-4o",
  id
]

/** Values, mostly as written plainly. */
const values = [
  "x.db",
  "a b.db",
  "hello",
  "waiting",
  "completed",
  "5",
  "1",
  "0",
  "07",
  "true",
  "openai:gpt-4o",
  "LIST",
  id
]

/** A deterministic pseudo-random sequence (a linear congruential generator), so that a failure repeats. */
const random = (seed: number) => () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31

describe("reading argv without @effect/cli", () => {
  it("knows the subcommands @effect/cli knows, all of them, since the first word naming one is the command", () => {
    expect([...PlainArgv.commandNames].sort()).toEqual([...HashMap.keys(Command.getSubcommands(command))].sort())
  })

  it("reads the plain forms of list, status, executions and events as @effect/cli does", async () => {
    const plain = [
      ["list"],
      ["--db", "x.db", "list"],
      ["--json", "--db", "a b.db", "list"],
      ["--db", "x.db", "--json", "--lease", "5", "--model", "openai:gpt-4o", "list"],
      ["--pg-url", "postgres://localhost/db", "list"],
      ["--workflows", "a.mjs", "--db", "x.db", "--workflows", "b.mjs", "list"],
      ["--db", "x.db", "status", id],
      ["--db", "list.db", "status", "list"],
      ["--db", "x.db", "events", id],
      ["--db", "x.db", "events", id, "--from", "12"],
      ["--db", "x.db", "executions"],
      ["--db", "x.db", "executions", "--status", "waiting"],
      ["--db", "x.db", "executions", "--workflow", "hello", "--status", "completed"],
      ["--db", "x.db", "executions", "--workflow", "run"]
    ]
    for (const args of plain) expect(await readAlike(args), JSON.stringify(args)).toBeDefined()
  })

  it("leaves to @effect/cli what it does not read plainly", () => {
    const others = [
      [],
      ["--help"],
      ["--db", "x.db", "list", "--help"],
      ["--log-level", "debug", "list"],
      ["--db=x.db", "list"],
      ["--db", "x.db", "--db", "y.db", "list"],
      ["--db", "list", "list"],
      ["--json", "true", "list"],
      ["--lease", "0", "list"],
      ["--lease", "07", "list"],
      ["--db", "x.db", "run", "hello"],
      ["--db", "x.db", "approve", id, "publish"],
      ["--db", "x.db", "status"],
      ["--db", "x.db", "status", "-h"],
      ["--db", "x.db", "events", "--from", "2", id],
      ["--db", "x.db", "executions", "--status", "WAITING"],
      ["--db", " x.db", "list"]
    ]
    for (const args of others) expect(PlainArgv.read(args), JSON.stringify(args)).toBeUndefined()
  })

  it("on thousands of command lines, reads only what @effect/cli reads the same way", async () => {
    const next = random(11)
    const one = <A>(from: ReadonlyArray<A>): A => from[Math.floor(next() * from.length)]!
    const some = (most: number, piece: () => ReadonlyArray<string>) =>
      Array.from({ length: Math.floor(next() * (most + 1)) }, piece).flat()
    /** Mostly a well-formed piece, sometimes any word: lines near the plain forms, and astray from them. */
    const piece = (...wellFormed: ReadonlyArray<string>) => next() < 0.9 ? wellFormed : [one(words)]
    const value = () => next() < 0.8 ? one(values) : one(words)
    const commandArgs = (name: string): ReadonlyArray<string> => {
      switch (name) {
        case "list":
          return next() < 0.9 ? [] : [one(words)]
        case "executions":
          return some(2, () => piece(one(["--status", "--workflow"]), value()))
        default:
          return [...piece(value()), ...some(1, () => piece("--from", value()))]
      }
    }
    let read = 0
    for (let i = 0; i < 4000; i++) {
      // Half the lines name a reading command, the others any command (most of which are not read plainly).
      const name = next() < 0.5 ? one(["list", "status", "events", "executions"]) : one(PlainArgv.commandNames)
      const root = some(4, () => piece(one(PlainArgv.rootOptions.valued), value()))
      const args = [...root, ...some(1, () => piece("--json")), ...piece(name), ...commandArgs(name)]
      if (await readAlike(args) !== undefined) read++
    }
    // Enough of them are read plainly for the comparison to mean something.
    expect(read).toBeGreaterThan(400)
  })
})
