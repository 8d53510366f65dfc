/**
 * The interactive chat session, `token-ring-workflow` with no subcommand:
 * lines of `/workflow`, `/plan`, `/apply` and `/analyze` read from stdin
 * until the input ends or `/exit`.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { homedir } from "node:os"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import * as ChatAdapter from "../ChatAdapter.js"
import * as Commands from "../Commands.js"
import * as ExecutionStorage from "../ExecutionStorage.js"
import * as WorkflowEngine from "../WorkflowEngine.js"

const help = [
  "Commands: /workflow <action> ... | /plan <prompt> | /apply | /analyze [k=v ...] -- <prompt> | /help | /exit",
  ...Object.values(Commands.info).flatMap((info) => info.usage)
]

/** Lines kept in the history file. */
const HISTORY_SIZE = 1000

/**
 * Where the session keeps the lines typed at its prompt, across sessions: `TOKEN_RING_WORKFLOW_HISTORY`
 * (empty: nowhere), else `~/.token_ring_workflow_history`.
 */
const historyFile = (): string | undefined => {
  const given = process.env.TOKEN_RING_WORKFLOW_HISTORY
  return given === undefined ? join(homedir(), ".token_ring_workflow_history") : given === "" ? undefined : given
}

/** The lines of earlier sessions, newest first, as readline takes them; none if the file cannot be read. */
const readHistory = (file: string | undefined): Array<string> => {
  if (file === undefined) return []
  try {
    return readFileSync(file, "utf8").split("\n").filter((line) => line !== "").reverse().slice(0, HISTORY_SIZE)
  } catch {
    return []
  }
}

/** Stores the history (newest first, as readline gives it), oldest line first in the file; best effort. */
const writeHistory = (file: string, history: ReadonlyArray<string>) => {
  try {
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, [...history].reverse().join("\n") + "\n", { mode: 0o600 })
    // The mode above applies to a new file only: one made before (or by someone else) is made private too.
    chmodSync(file, 0o600)
  } catch {
    // A history that cannot be kept costs recall, not the session.
  }
}

/** One line of the interactive session; false ends it. */
const line = (text: string) =>
  Effect.gen(function*() {
    const chat = yield* ChatAdapter.ChatAdapter
    const trimmed = text.trim()
    if (trimmed === "") return true
    if (trimmed === "/exit" || trimmed === "/quit") return false
    if (trimmed === "/help") {
      for (const line of help) yield* chat.systemLine(line)
      return true
    }
    const command = Commands.executeLine(trimmed)
    if (command === undefined) {
      yield* chat.warningLine(`Not a command: "${trimmed}". Commands start with /; try /help`)
    } else {
      yield* command
    }
    return true
  })

/**
 * The engine as the session's commands see it, keeping the ids of the runs
 * being shown (outermost first), so that ^C can say which one goes on.
 */
const tracking = (
  engine: WorkflowEngine.WorkflowEngineService,
  shown: Ref.Ref<ReadonlyArray<string>>
): WorkflowEngine.WorkflowEngineService => ({
  ...engine,
  events: (id: string, options?: { readonly fromSeq?: number }) =>
    Stream.unwrapScoped(
      Effect.acquireRelease(
        Ref.update(shown, (ids) => [...ids, id]),
        () => Ref.update(shown, (ids) => ids.filter((shownId) => shownId !== id))
      ).pipe(Effect.as(engine.events(id, options)))
    )
})

/** What ^C during a command says: the run it was showing, if any, and whether that run goes on. */
const stoppedLine = (engine: WorkflowEngine.WorkflowEngineService, id: string | undefined) =>
  id === undefined
    ? Effect.succeed("Stopped the command.")
    : Effect.map(
      Effect.option(engine.status(id)),
      (record) =>
        Option.exists(record, ({ status }) => ExecutionStorage.isTerminal(status))
          ? `Stopped showing ${id}.`
          : `Stopped following ${id}; it goes on: /workflow status ${id}`
    )

/**
 * The session: a prompt in a terminal, one command per line; ^C during a
 * command stops showing it, ^C at the prompt ends the session as an
 * interruption.
 *
 * @since 0.2.0
 * @category running
 */
export const interactive = Effect.scoped(Effect.gen(function*() {
  const chat = yield* ChatAdapter.ChatAdapter
  const engine = yield* WorkflowEngine.WorkflowEngine
  const tty = process.stdin.isTTY === true
  // None: the input ended (end of file, ^D).
  const lines = yield* Queue.unbounded<Option.Option<string>>()
  const ctrlC = yield* Queue.unbounded<void>()
  const reader = yield* Effect.acquireRelease(
    Effect.sync(() => {
      // Only lines typed at a terminal are history: piped input is a script, not recall.
      const file = tty ? historyFile() : undefined
      const reader = createInterface({
        input: process.stdin,
        output: process.stdout,
        terminal: tty,
        history: readHistory(file),
        historySize: HISTORY_SIZE,
        removeHistoryDuplicates: true
      })
      if (file !== undefined) reader.on("history", (history: Array<string>) => writeHistory(file, history))
      reader.on("line", (text) => lines.unsafeOffer(Option.some(text)))
      reader.on("close", () => lines.unsafeOffer(Option.none()))
      // In a terminal readline reads ^C as a key, not a signal; without this listener it would only close itself.
      reader.on("SIGINT", () => ctrlC.unsafeOffer(undefined))
      return reader
    }),
    (reader) => Effect.sync(() => reader.close())
  )
  const shown = yield* Ref.make<ReadonlyArray<string>>([])
  const sessionEngine = tracking(engine, shown)
  /** Runs a line; ^C meanwhile stops the command (not the execution it shows, which runs on in the engine). */
  const runLine = (text: string) =>
    Effect.gen(function*() {
      const result = yield* Effect.race(
        Effect.map(line(text), Either.right),
        Effect.map(Effect.zipRight(Queue.take(ctrlC), Ref.get(shown)), (ids) => Either.left(ids[0]))
      ).pipe(Effect.provideService(WorkflowEngine.WorkflowEngine, sessionEngine))
      if (Either.isRight(result)) return result.right
      yield* chat.warningLine(yield* stoppedLine(engine, result.left))
      return true
    })
  const prompt = Effect.sync(() => tty && reader.prompt())
  yield* chat.systemLine("token-ring-workflow — type /help for commands, /exit to leave.")
  while (true) {
    yield* prompt
    const next = yield* Effect.race(
      Effect.map(Queue.take(lines), Either.right),
      Effect.map(Queue.take(ctrlC), Either.left)
    )
    // ^C at the prompt ends the session as an interruption: exit code 130.
    if (Either.isLeft(next)) return yield* Effect.interrupt
    if (Option.isNone(next.right) || !(yield* runLine(next.right.value))) return
  }
}))
