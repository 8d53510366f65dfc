/**
 * An execution's events as Server-Sent Events: each event's `id` is its `seq`, so a client that
 * reconnects sends `Last-Event-ID` and goes on from the next one. Comments keep idle connections open
 * through proxies; the response ends with an `end` event when the execution does (an `error` event if
 * its stream failed), and a client that goes away interrupts it, which closes its subscription.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import type { StoredEvent } from "../../WorkflowEvent.js"

/** Event streams open now, in this process: each holds one subscription to its execution's events. */
export const openStreams = Metric.gauge("workflow_http_event_streams", {
  description: "Server-Sent Event responses of the workflow HTTP API open now"
})

const encoder = new TextEncoder()

const frame = (event: StoredEvent): string => `id: ${event.seq}\ndata: ${JSON.stringify(event)}\n\n`

/** One write per chunk the engine hands over (a page of events), not one per event. */
const frames = (chunk: Chunk.Chunk<StoredEvent>): Chunk.Chunk<Uint8Array> => {
  let text = ""
  for (const event of chunk) text += frame(event)
  return Chunk.of(encoder.encode(text))
}

const errorFrame = (error: unknown): Uint8Array => {
  const { _tag, message } = error as { readonly _tag?: unknown; readonly message?: unknown }
  return encoder.encode(`event: error\ndata: ${JSON.stringify({ _tag, message: String(message) })}\n\n`)
}

/** The SSE body of `events`, with a comment every `heartbeat` (the first at once, opening the stream). */
export const body = <E>(
  events: Stream.Stream<StoredEvent, E>,
  heartbeat: Duration.DurationInput
): Stream.Stream<Uint8Array> =>
  Stream.unwrapScoped(
    Effect.acquireRelease(Metric.increment(openStreams), () => Metric.incrementBy(openStreams, -1)).pipe(
      Effect.as(
        events.pipe(
          Stream.mapChunks(frames),
          Stream.concat(Stream.succeed(encoder.encode("event: end\ndata: {}\n\n"))),
          Stream.catchAll((error) => Stream.succeed(errorFrame(error))),
          Stream.merge(Stream.map(Stream.tick(heartbeat), () => encoder.encode(": keep-alive\n\n")), {
            haltStrategy: "left"
          })
        )
      )
    )
  )

/** The response streaming `events`. */
export const response = <E>(
  events: Stream.Stream<StoredEvent, E>,
  heartbeat: Duration.DurationInput
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.stream(body(events, heartbeat), {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
  })
