/**
 * The chat adapter of the CLI: lines to stdout (errors to stderr), colours
 * and a live progress line only when stdout is a terminal, plain lines
 * otherwise.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ChatAdapter from "../ChatAdapter.js"

const clearLine = "\r\x1b[2K"

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: { readonly json: boolean }): Layer.Layer<ChatAdapter.ChatAdapter> =>
  Layer.sync(ChatAdapter.ChatAdapter, () => {
    const tty = process.stdout.isTTY === true
    let status = false
    const write = (stream: NodeJS.WriteStream, colour: string | undefined) => (line: string) =>
      Effect.sync(() => {
        if (status) {
          process.stdout.write(clearLine)
          status = false
        }
        stream.write(tty && colour !== undefined ? `${colour}${line}\x1b[0m\n` : `${line}\n`)
      })
    return {
      systemLine: write(process.stdout, undefined),
      warningLine: write(process.stdout, "\x1b[33m"),
      errorLine: write(process.stderr, "\x1b[31m"),
      json: options.json,
      ...(tty && !options.json
        ? {
          progress: (line: string | undefined) =>
            Effect.sync(() => {
              if (line === undefined && !status) return
              process.stdout.write(line === undefined ? clearLine : `${clearLine}\x1b[2m${line}\x1b[0m`)
              status = line !== undefined
            })
        }
        : {})
    }
  })
