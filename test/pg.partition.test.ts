/**
 * A real network partition. Worker A runs in a network namespace of its own and reaches PostgreSQL only
 * over a veth pair, whose host end is set down in the middle of its run: its sockets go silent, nothing
 * closes them. Worker B, outside, takes the execution over once A's lease expired. A's link returns while
 * B is at work: the commit A had on its way is refused, as not owned, and A stores nothing more. Runs as
 * root with `ip` (iproute2) and TEST_PG_URL; skipped with a notice where no namespace can be made.
 */
import { spawnSync } from "node:child_process"
import net from "node:net"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshDatabase, pgUrl } from "./pg.js"
import type { Child } from "./processes.js"
import { startProcess, waitFor } from "./processes.js"
import { connectPair } from "./tcpProxy.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const worker = join(root, "test", "fixtures", "pgWorker.ts")

/** Runs `ip` with `args`, synchronously. */
const ip = (...args: Array<string>) => spawnSync("ip", args, { encoding: "utf8", timeout: 30_000 })

const ipOrThrow = (...args: Array<string>) => {
  const done = ip(...args)
  if (done.status !== 0) throw new Error(`ip ${args.join(" ")}: ${done.error?.message ?? done.stderr.trim()}`)
}

// Names and addresses of this run's own: runs in other processes do not meet them (interface names are
// 15 characters at most).
const namespace = `wfpart${process.pid}`
const slot = process.pid % 16_384
const subnet = (second: number) => `10.${second}.${slot >> 6}.${(slot & 63) * 4}`
/** A veth pair: `host` stays in the root namespace, `inside` goes into A's. */
interface Link {
  readonly host: string
  readonly inside: string
  readonly hostAddress: string
  readonly insideAddress: string
}
const link = (tag: string, second: number): Link => {
  const base = subnet(second).split(".").map(Number)
  const address = (last: number) => [...base.slice(0, 3), base[3]! + last].join(".")
  return {
    host: `wf${tag}${process.pid}h`,
    inside: `wf${tag}${process.pid}n`,
    hostAddress: address(1),
    insideAddress: address(2)
  }
}
// The storage's link, the one cut. Step bodies record on a second link, never cut: what A's bodies do
// during the partition is seen as it happens, so that a body A started while cut off cannot hide (on the
// storage's link, its record would wait with everything else, and its body with it).
const storageLink = link("s", 231)
const recordsLink = link("r", 232)

/**
 * Why no network namespace with a veth pair into it can be made here (not root, no `ip`, no veth), if so:
 * tried once as the file loads, and undone at once.
 */
const noNamespaces = (() => {
  if (pgUrl === undefined) return undefined
  const failure = (done: ReturnType<typeof ip>) => done.error?.message ?? done.stderr.trim()
  const made = ip("netns", "add", namespace)
  if (made.status !== 0) return failure(made)
  const paired = ip(
    "link",
    "add",
    storageLink.host,
    "type",
    "veth",
    "peer",
    "name",
    storageLink.inside,
    "netns",
    namespace
  )
  ip("link", "delete", storageLink.host)
  ip("netns", "delete", namespace)
  return paired.status !== 0 ? failure(paired) : undefined
})()
if (noNamespaces !== undefined) {
  console.warn(`NOTICE: no network namespace can be made here (${noNamespaces}); the partition test is skipped.`)
}

/** Every process, forwarder, link and namespace made, undone in `afterAll` whatever happened. */
const cleanups: Array<() => unknown> = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await Promise.resolve().then(cleanup).catch(() => undefined)
})

/** The namespace and both links, up. */
const isolate = () => {
  ipOrThrow("netns", "add", namespace)
  cleanups.push(() => ip("netns", "delete", namespace))
  ipOrThrow("-n", namespace, "link", "set", "lo", "up")
  for (const { host, hostAddress, inside, insideAddress } of [storageLink, recordsLink]) {
    ipOrThrow("link", "add", host, "type", "veth", "peer", "name", inside, "netns", namespace)
    // Deleting the namespace deletes its ends, and so the pairs, but the kernel does that later, at its pace.
    cleanups.push(() => ip("link", "delete", host))
    ipOrThrow("addr", "add", `${hostAddress}/30`, "dev", host)
    ipOrThrow("link", "set", host, "up")
    ipOrThrow("-n", namespace, "addr", "add", `${insideAddress}/30`, "dev", inside)
    ipOrThrow("-n", namespace, "link", "set", inside, "up")
  }
}

/**
 * A TCP forwarder from a host end of a veth pair to the PostgreSQL server: A's way to the database.
 * `holdFrom(match, then)` arms it: from the first chunk a client sends that `match`es, nothing more is
 * passed on either way until `release`, and `then` runs (it cuts the link). It places the cut while a
 * commit of A is on its way, every run: between the forwarder's noticing the commit and the link going
 * down, the forwarder holds what a wire would have in flight. `answered` resolves once the server answered
 * the held chunk, after the release; it fails after `timeoutMs`.
 */
const startForwarder = async (host: string) => {
  const target = new URL(pgUrl!)
  const sockets = new Set<net.Socket>()
  let armed: { readonly match: string; readonly then: () => void } | undefined
  let held: Array<() => void> | undefined
  let heldConnection: object | undefined
  let answer: () => void = () => undefined
  const answerHeard = new Promise<void>((resolve) => (answer = resolve))
  const server = net.createServer((client) => {
    const upstream = connectPair(client, target, sockets)
    const connection = {}
    const pass = (to: net.Socket, chunk: Buffer) => {
      if (held !== undefined) held.push(() => to.write(chunk))
      else to.write(chunk)
    }
    client.on("data", (chunk: Buffer) => {
      if (armed !== undefined && chunk.includes(armed.match)) {
        const { then } = armed
        armed = undefined
        held = []
        heldConnection = connection
        then()
      }
      pass(upstream, chunk)
    })
    upstream.on("data", (chunk: Buffer) => {
      if (held === undefined && connection === heldConnection) answer()
      pass(client, chunk)
    })
  })
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, host, resolve))
  const port = (server.address() as net.AddressInfo).port
  const forwarder = {
    /** The URL of `database` through the forwarder. */
    url: (database: string) => {
      const url = new URL(database)
      url.hostname = host
      url.port = String(port)
      return url.toString()
    },
    holdFrom: (match: string, then: () => void) => {
      armed = { match, then }
    },
    release: () => {
      const writes = held ?? []
      held = undefined
      for (const write of writes) write()
    },
    answered: (timeoutMs: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error("timed out waiting for the answer to the held chunk")),
          timeoutMs
        )
        void answerHeard.then(() => {
          clearTimeout(timer)
          resolve()
        })
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
  cleanups.push(forwarder.close)
  return forwarder
}

const lineValue = (stdout: string, prefix: string): string | undefined =>
  stdout.split("\n").find((line) => line.startsWith(`${prefix} `))?.slice(prefix.length + 1)

const startedLines = (stdout: string) => stdout.split("\n").filter((line) => /^started \d+$/.test(line)).length

const canPartition = pgUrl !== undefined && noNamespaces === undefined

describe.skipIf(!canPartition)("PostgreSQL, a worker cut off by the network", () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>
  // One connection for the test's own queries, held throughout: polling does not open one per query.
  let db: pg.Client
  beforeAll(async () => {
    database = await freshDatabase()
    cleanups.push(() => database.drop())
    db = new pg.Client({ connectionString: database.url })
    await db.connect()
    cleanups.push(() => db.end())
    // `at` on the database's clock, as leases are.
    await query(`create table stamps (
      id bigserial primary key, pid integer not null, execution text not null, step integer not null,
      what text not null, at bigint not null default (extract(epoch from clock_timestamp()) * 1000)::bigint)`)
    isolate()
  })

  const query = async <R extends pg.QueryResultRow>(text: string, params: ReadonlyArray<unknown> = []) =>
    (await db.query<R>(text, [...params])).rows

  const spawnWorker = (
    mode: "stamps" | "cued",
    id: string,
    urls: { readonly storage: string; readonly records: string },
    options: { readonly lease: number; readonly count: number; readonly via?: readonly [string, ...Array<string>] }
  ): Child => {
    const child = startProcess(
      [
        "--import",
        "tsx",
        worker,
        urls.storage,
        mode,
        id,
        String(options.lease),
        urls.records,
        "",
        String(options.count)
      ],
      { cwd: root, ...(options.via !== undefined ? { via: options.via } : {}) }
    )
    cleanups.push(child.kill)
    return child
  }

  it("loses its link mid-run: another takes over after the lease, and once back it stores nothing", async () => {
    const count = 60
    const lease = 2_000
    const total = String(Array.from({ length: count }, (_, i) => i).reduce((x, y) => x + y))
    const id = `partitioned-${Date.now().toString(36)}`
    const toStorage = await startForwarder(storageLink.hostAddress)
    const toRecords = await startForwarder(recordsLink.hostAddress)
    // B is loaded first and waits for its cue: the partition lasts as long as the takeover takes, not as long
    // as a busy machine takes to start Node (A's waits on the result outlive about a minute of outage).
    const b = spawnWorker("cued", id, { storage: database.url, records: database.url }, { lease, count })
    await b.line((line) => line === "ready", 120_000)
    const urlsOfA = { storage: toStorage.url(database.url), records: toRecords.url(database.url) }
    const a = spawnWorker("stamps", id, urlsOfA, { lease, count, via: ["ip", "netns", "exec", namespace] })
    await a.line((line) => line === "started 5", 120_000)
    // The next commit of a step's end A sends is held, and the link cut at once: the commit is on its way.
    await new Promise<void>((resolve) =>
      toStorage.holdFrom("step_end", () => {
        ipOrThrow("link", "set", storageLink.host, "down")
        resolve()
      })
    )
    // A's lease as A last extended it before the cut (a renewal already on its way may extend it a little
    // more): B starts nothing before it expired.
    const [leaseOfA] = await query<{ readonly lease_until: string }>(
      "select lease_until from workflow_executions where id = $1",
      [id]
    )
    b.endInput("go\n")
    const firstOfB = await waitFor("B to start a step", async () => {
      const [row] = await query<{ readonly id: string; readonly at: string }>(
        "select id, at from stamps where execution = $1 and pid = $2 and what = 'start' order by id limit 1",
        [id, b.pid]
      )
      return row
    })
    expect(Number(firstOfB.at)).toBeGreaterThanOrEqual(Number(leaseOfA!.lease_until))
    // B has many steps to go: A comes back while B holds the execution.
    await b.output("five steps started by B", (stdout) => startedLines(stdout) >= 5, 60_000)
    const during = await query("select status from workflow_executions where id = $1", [id])
    expect(during).toEqual([{ status: "running" }])

    ipOrThrow("link", "set", storageLink.host, "up")
    toStorage.release()
    // The commit A had on its way reached the server after the link came back, and was answered.
    await toStorage.answered(60_000)

    const [byB, byA] = await Promise.all([b.exit(120_000), a.exit(120_000)])
    expect({ code: byB.code, result: lineValue(byB.stdout, "result") }).toEqual({ code: 0, result: total })
    // A's run stopped; its process went on waiting for the execution's result, which B stored.
    expect(byA.stdout).toContain(`Execution ${id} is no longer held here`)
    expect({ code: byA.code, stderr: byA.stderr, result: lineValue(byA.stdout, "result") }).toEqual({
      code: 0,
      stderr: "",
      result: total
    })

    // The pids in `stamps` are those of the Node processes (`ip netns exec` execs Node, it does not fork).
    const stamps = await query<
      { readonly id: string; readonly pid: number; readonly step: number; readonly what: string }
    >("select id, pid, step, what from stamps where execution = $1 order by id", [id])
    expect(new Set(stamps.map((s) => s.pid))).toEqual(new Set([a.pid, b.pid]))
    expect(stamps.some((s) => s.pid === a.pid && s.step === 5 && s.what === "start")).toBe(true)
    // A started nothing once B had started.
    const lateStarts = stamps.filter((s) => s.pid === a.pid && s.what === "start" && BigInt(s.id) > BigInt(firstOfB.id))
    expect(lateStarts).toEqual([])

    // The stored log: seq 1..n, each step's start and end once, in order, the result last. A's late commit
    // (a step's end B also stored) is not in it, and nothing came after what B read back once done.
    const events = await query<{ readonly seq: number; readonly type: string; readonly payload: string }>(
      "select seq, type, payload from workflow_events where execution_id = $1 order by seq",
      [id]
    )
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
    const stepsOf = (type: string) =>
      events.filter((e) => e.type === type).map((e) =>
        (JSON.parse(e.payload) as { runnableName?: string }).runnableName
      )
    for (const type of ["step_start", "step_end"]) {
      expect(stepsOf(type)).toEqual(Array.from({ length: count }, (_, i) => `step-${i}`))
    }
    expect(events.filter((e) => e.type === "final_output")).toHaveLength(1)
    expect(events.at(-1)?.type).toBe("final_output")
    const readByB = JSON.parse(lineValue(byB.stdout, "events")!) as Array<[number, string, string | null]>
    expect(events.map((e) => [e.seq, e.type])).toEqual(readByB.map(([seq, type]) => [seq, type]))
  }, 300_000)
})
