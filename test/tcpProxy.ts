/**
 * A TCP proxy for tests that cut a process off from PostgreSQL without
 * touching the server.
 */
import net from "node:net"

/**
 * Connects `client` to the server at `target` and answers the server's end: both are kept in `sockets`
 * while they last, and either closing (or failing) closes the other.
 */
export const connectPair = (client: net.Socket, target: URL, sockets: Set<net.Socket>): net.Socket => {
  const upstream = net.connect(Number(target.port || 5432), target.hostname)
  sockets.add(client).add(upstream)
  const drop = () => {
    sockets.delete(client)
    sockets.delete(upstream)
    client.destroy()
    upstream.destroy()
  }
  for (const socket of [client, upstream]) socket.on("error", drop).on("close", drop)
  return upstream
}

/**
 * A TCP proxy to the PostgreSQL server at `serverUrl`. `cut` destroys every proxied
 * connection and refuses new ones until `restore`; `freeze` keeps them open but silent until `thaw`. `watch` sees each chunk a
 * client sends, after it was forwarded.
 */
export const startTcpProxy = async (serverUrl: string) => {
  const target = new URL(serverUrl)
  const sockets = new Set<net.Socket>()
  let refusing = false
  // Frozen: connections stay open but nothing passes, as in a partition no one notices.
  let frozen = false
  let watch: ((chunk: Buffer, connection: object) => void) | undefined
  const server = net.createServer((client) => {
    if (refusing) return client.destroy()
    const upstream = connectPair(client, target, sockets)
    const connection = {}
    if (frozen) {
      client.pause()
      upstream.pause()
    }
    client.on("data", (chunk: Buffer) => {
      upstream.write(chunk)
      watch?.(chunk, connection)
    })
    upstream.on("data", (chunk: Buffer) => client.write(chunk))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as net.AddressInfo).port
  const proxy = {
    /** The URL of `database` through the proxy. */
    url: (database: string) => {
      const url = new URL(database)
      url.hostname = "127.0.0.1"
      url.port = String(port)
      return url.toString()
    },
    cut: () => {
      refusing = true
      for (const socket of sockets) socket.destroy()
      sockets.clear()
    },
    restore: () => {
      refusing = false
    },
    /** Stops forwarding on every connection, open or to come, without closing any. */
    freeze: () => {
      frozen = true
      for (const socket of sockets) socket.pause()
    },
    thaw: () => {
      frozen = false
      for (const socket of sockets) socket.resume()
    },
    watch: (f: typeof watch) => {
      watch = f
    },
    close: () =>
      new Promise<void>((resolve) => {
        proxy.cut()
        server.close(() => resolve())
      })
  }
  return proxy
}
