/**
 * The SSE clients of bench/sse.ts, in a process of their own so that their CPU is not the server's.
 * Each message from the parent (`{ url, clients }`) opens that many connections at once, reads each to
 * its end, and answers the number of events (`id:` lines) each one got.
 */
import { get } from "node:http"

const read = (url: string): Promise<number> =>
  new Promise((resolve, reject) => {
    get(url, (response) => {
      let events = 0
      let tail = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => {
        const text = tail + chunk
        const lines = text.split("\n")
        tail = lines.pop()!
        for (const line of lines) if (line.startsWith("id: ")) events++
      })
      response.on("end", () => resolve(events))
      response.on("error", reject)
    }).on("error", reject)
  })

process.on("message", async (message: { readonly url: string; readonly clients: number }) => {
  const counts = await Promise.all(Array.from({ length: message.clients }, () => read(message.url)))
  process.send!(counts)
})
