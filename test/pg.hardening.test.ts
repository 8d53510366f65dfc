/**
 * PostgreSQL under trouble, with real processes: connections cut by a proxy
 * or terminated by the server, an owner stopped (SIGSTOP) past its lease
 * while another process takes its execution over, a cancel from another
 * process, a clock that runs ahead. Runs only with TEST_PG_URL.
 */
import { Clock, Deferred, Effect, FiberId, Layer } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ExecutionStorage, Workflow, WorkflowEngine } from "../src/index.js"
import { freshDatabase, pgUrl } from "./pg.js"
import type { Child } from "./processes.js"
import { startProcess, waitFor } from "./processes.js"
import { startTcpProxy } from "./tcpProxy.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const worker = join(root, "test", "fixtures", "pgWorker.ts")
const dir = mkdtempSync(join(tmpdir(), "workflow-pg-hardening-"))

/** Every process, proxy and connection a test opened, closed in `afterAll` whatever happened. */
const cleanups: Array<() => unknown> = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await Promise.resolve().then(cleanup).catch(() => undefined)
  rmSync(dir, { recursive: true, force: true })
})

let counter = 0
const freshId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${counter++}`

const lineValue = (stdout: string, prefix: string): string | undefined =>
  stdout.split("\n").find((line) => line.startsWith(`${prefix} `))?.slice(prefix.length + 1)

const startProxy = async () => {
  const proxy = await startTcpProxy(pgUrl!)
  cleanups.push(proxy.close)
  return proxy
}

describe.skipIf(pgUrl === undefined)("PostgreSQL hardening", () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>
  let db: pg.Client
  let admin: pg.Client
  beforeAll(async () => {
    database = await freshDatabase()
    cleanups.push(() => database.drop())
    db = new pg.Client({ connectionString: database.url })
    // Terminated with everything else in the tests that terminate backends: this one is not ours to lose.
    db.on("error", () => undefined)
    admin = new pg.Client({ connectionString: pgUrl })
    await Promise.all([db.connect(), admin.connect()])
    cleanups.push(() => admin.end(), () => db.end())
    await db.query(`create table stamps (
      id bigserial primary key, pid integer not null, execution text not null, step integer not null,
      what text not null, at timestamptz not null default clock_timestamp())`)
  })

  /** A fresh connection to the test database for one query, for after backends were terminated. */
  const query = async <R extends pg.QueryResultRow>(text: string, params: ReadonlyArray<unknown> = []) => {
    const client = new pg.Client({ connectionString: database.url })
    await client.connect()
    try {
      return (await client.query<R>(text, [...params])).rows
    } finally {
      await client.end()
    }
  }

  const spawnWorker = (
    storage: string,
    mode: string,
    id: string,
    options: { readonly lease: number; readonly trace?: string; readonly count?: number }
  ): Child => {
    const child = startProcess([
      "--import",
      "tsx",
      worker,
      storage,
      mode,
      id,
      String(options.lease),
      database.url,
      options.trace ?? "",
      String(options.count ?? 20)
    ], { cwd: root })
    cleanups.push(child.kill)
    return child
  }

  /** The stored log of the execution, checked to be seq 1..n, each step started and ended once, the result last. */
  const expectCompletedOnce = (stdout: string, count: number) => {
    const events = JSON.parse(lineValue(stdout, "events")!) as Array<[number, string, string | null]>
    expect(events.map(([seq]) => seq)).toEqual(events.map((_, i) => i + 1))
    for (const type of ["step_start", "step_end"]) {
      expect(events.filter(([, t]) => t === type).map(([, , step]) => step)).toEqual(
        Array.from({ length: count }, (_, i) => `step-${i}`)
      )
    }
    expect(events.filter(([, type]) => type === "final_output")).toHaveLength(1)
    expect(events.at(-1)?.[1]).toBe("final_output")
  }

  describe("a lost connection is a storage failure the process survives", () => {
    const count = 300
    const total = String(Array.from({ length: count }, (_, i) => i).reduce((a, b) => a + b))

    /** Runs `count` steps of nothing but commits (so that one is nearly always in flight), and `lose`s connections mid-run. */
    const survives = async (storage: (url: string) => string, lose: () => Promise<void>) => {
      const id = freshId("lost")
      const trace = join(dir, `${id}.trace`)
      const child = spawnWorker(storage(database.url), "steps", id, { lease: 1_000, trace, count })
      await child.line((line) => line === "started 100")
      await lose()
      const finished = await child.exit(120_000)
      expect(finished.signal).toBeNull()
      expect({ code: finished.code, stderr: finished.stderr }).toEqual({ code: 0, stderr: "" })
      expect(lineValue(finished.stdout, "result")).toBe(total)
      // At least once per step; again only for a step whose end could not be stored when the connection went.
      const starts = readFileSync(trace, "utf8").split("\n").filter((line) => line !== "")
      const times = Array.from({ length: count }, (_, i) => starts.filter((line) => line === `start ${i}`).length)
      expect(times.every((n) => n >= 1)).toBe(true)
      expect(starts.length - count).toBeLessThanOrEqual(1)
      expectCompletedOnce(finished.stdout, count)
    }

    it("when a proxy cuts every connection for 3 seconds", async () => {
      const proxy = await startProxy()
      await survives(proxy.url, async () => {
        proxy.cut()
        await new Promise((resolve) => setTimeout(resolve, 3_000))
        proxy.restore()
      })
    }, 150_000)

    it("when the server terminates every backend of the database", async () => {
      await survives((url) => url, async () => {
        const terminated = await admin.query(
          "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
          [new URL(database.url).pathname.slice(1)]
        )
        expect(terminated.rowCount).toBeGreaterThan(0)
      })
    }, 150_000)
  })

  describe("an owner stopped past its lease starts no step body once another process took over", () => {
    const count = 20
    const lease = 1_000

    /**
     * Process A runs the steps (its storage through a proxy); `stopAt` says when to SIGSTOP it, after step 3
     * started. Once its lease expired on the database's clock, process B takes the execution over; once B
     * started a step, A is continued.
     */
    const takeOver = async (
      stopAt: (a: Child, proxy: Awaited<ReturnType<typeof startProxy>>) => Promise<void>,
      mode = "stamps"
    ) => {
      const id = freshId("stalled")
      const proxy = await startProxy()
      const a = spawnWorker(proxy.url(database.url), mode, id, { lease, count })
      await a.line((line) => line === "started 3")
      await stopAt(a, proxy)
      await waitFor("A's lease to expire", async () => {
        const [row] = await query<{ readonly expired: boolean }>(
          `select lease_until <= (extract(epoch from clock_timestamp()) * 1000)::bigint as expired
           from workflow_executions where id = $1`,
          [id]
        )
        return row?.expired === true ? true : undefined
      })
      const b = spawnWorker(database.url, mode, id, { lease, count })
      const firstOfB = await waitFor("B to start a step", async () => {
        const [row] = await query<{ readonly id: string }>(
          "select id from stamps where execution = $1 and pid = $2 and what = 'start' order by id limit 1",
          [id, b.pid]
        )
        return row?.id
      })
      a.signal("SIGCONT")
      const [byA, byB] = await Promise.all([a.exit(120_000), b.exit(120_000)])
      for (const finished of [byA, byB]) {
        expect({ code: finished.code, result: lineValue(finished.stdout, "result") }).toEqual({
          code: 0,
          result: String(Array.from({ length: count }, (_, i) => i).reduce((x, y) => x + y))
        })
      }
      const stamps = await query<
        { readonly id: string; readonly pid: number; readonly step: number; readonly what: string }
      >(
        "select id, pid, step, what from stamps where execution = $1 order by id",
        [id]
      )
      const lateStarts = stamps.filter((s) => s.pid === a.pid && s.what === "start" && BigInt(s.id) > BigInt(firstOfB))
      expect(lateStarts).toEqual([])
      expectCompletedOnce(byB.stdout, count)
      return { stamps, a, firstOfB }
    }

    it("stopped while the end of a step is stored, before the next step's body", async () => {
      await takeOver(async (a, proxy) => {
        // A step's end is stored before the next body starts: A is stopped as soon as it has sent the write
        // of one, so it waits for the answer with the next body not begun.
        const stopped = new Promise<void>((resolve) =>
          proxy.watch((chunk) => {
            if (chunk.includes("step_end")) {
              a.signal("SIGSTOP")
              proxy.watch(undefined)
              resolve()
            }
          })
        )
        await stopped
      })
    }, 150_000)

    it("stopped in the middle of a step's body, which it may finish but not store", async () => {
      const { a, firstOfB, stamps } = await takeOver(async (a) => {
        await a.line((line) => /^started \d+$/.test(line) && line !== "started 3")
        a.signal("SIGSTOP")
      })
      // After B's first start, A at most ended the body it was in when it was stopped: its last one.
      const byA = stamps.filter((s) => s.pid === a.pid)
      const last = byA.filter((s) => s.what === "start").at(-1)!.step
      expect(byA.filter((s) => BigInt(s.id) > BigInt(firstOfB)).every((s) => s.what === "end" && s.step === last))
        .toBe(true)
    }, 150_000)

    it("stopped while a step waits to retry", async () => {
      await takeOver(async (a) => {
        await a.line((line) => line === "failed 4")
        // Not a wait for anything: it places the stop inside the 300 ms before the retry, once its timer is set.
        await new Promise((resolve) => setTimeout(resolve, 50))
        a.signal("SIGSTOP")
      }, "retries")
    }, 150_000)
  })

  it("a worker whose database goes silent stops its running step before its lease expires", async () => {
    const proxy = await startProxy()
    const id = freshId("silent")
    const a = spawnWorker(proxy.url(database.url), "sleeper", id, { lease: 2_000 })
    await a.line((line) => line === "started")
    // Silent, not closed: renewals hang until their timeout (a whole lease) instead of failing at once.
    proxy.freeze()
    const [{ interrupted }] = await waitFor("the step's finalizer", async () => {
      const rows = await query<{ interrupted: string }>(
        "select (extract(epoch from at) * 1000)::bigint as interrupted from stamps where execution = $1 and what = 'interrupted'",
        [id]
      )
      return rows.length > 0 ? rows : undefined
    }, 30_000)
    const [{ lease_until }] = await query<{ lease_until: string }>(
      "select lease_until from workflow_executions where id = $1",
      [id]
    )
    // Stopped while it still held the execution: no other engine could have started it meanwhile.
    expect(Number(interrupted)).toBeLessThan(Number(lease_until))
    a.kill()
    await a.exit()
  }, 120_000)

  it("a cancel from another process interrupts the running step, finalizers included", async () => {
    const id = freshId("cancelled")
    const a = spawnWorker(database.url, "sleeper", id, { lease: 2_000 })
    await a.line((line) => line === "started")
    const cancelledAt = Date.now()
    const engine = WorkflowEngine.layerWith({ recover: false }).pipe(
      Layer.provideMerge(ExecutionStorage.layerPg({ url: database.url }))
    )
    const status = await Effect.runPromise(
      Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        yield* engine.cancel(id)
        return (yield* engine.status(id)).status
      }).pipe(Effect.provide(engine))
    )
    expect(status).toBe("cancelled")
    await waitFor("the step's finalizer", async () => {
      const rows = await query("select 1 from stamps where execution = $1 and what = 'interrupted'", [id])
      return rows.length > 0 ? true : undefined
    }, 20_000)
    // Well before the step's 60 seconds.
    expect(Date.now() - cancelledAt).toBeLessThan(20_000)
    await a.line((line) => line === "outcome WorkflowCancelled")
    a.endInput()
    const finished = await a.exit()
    expect({ code: finished.code, signal: finished.signal }).toEqual({ code: 0, signal: null })
  }, 120_000)

  it("an engine whose clock runs an hour ahead does not take over a lease that has not expired", async () => {
    const ahead: Clock.Clock = (() => {
      const real = Clock.make()
      const hour = 3_600_000
      return {
        [Clock.ClockTypeId]: Clock.ClockTypeId,
        unsafeCurrentTimeMillis: () => real.unsafeCurrentTimeMillis() + hour,
        currentTimeMillis: Effect.sync(() => real.unsafeCurrentTimeMillis() + hour),
        unsafeCurrentTimeNanos: () => real.unsafeCurrentTimeNanos() + BigInt(hour) * 1_000_000n,
        currentTimeNanos: Effect.sync(() => real.unsafeCurrentTimeNanos() + BigInt(hour) * 1_000_000n),
        sleep: (duration) => real.sleep(duration)
      }
    })()
    const runs: Array<string> = []
    const release = Deferred.unsafeMake<void>(FiberId.none)
    const workflow = Workflow.make({
      name: freshId("skewed"),
      run: () =>
        Workflow.step(
          "work",
          Effect.zipRight(Effect.sync(() => runs.push("work")), Deferred.await(release))
        )
    })
    let claims = 0
    const counting = Layer.effect(
      ExecutionStorage.ExecutionStorage,
      Effect.map(ExecutionStorage.ExecutionStorage, (storage) => ({
        ...storage,
        claim: (...args: Parameters<typeof storage.claim>) =>
          Effect.ensuring(storage.claim(...args), Effect.sync(() => (claims += 1)))
      }))
    ).pipe(Layer.provide(ExecutionStorage.layerPg({ url: database.url })))
    const engineOn = (storage: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>) =>
      WorkflowEngine.layerWith({ lease: "1 second" }).pipe(Layer.provide(storage))
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const a = yield* Layer.build(engineOn(ExecutionStorage.layerPg({ url: database.url })))
      const handle = yield* WorkflowEngine.WorkflowEngine.pipe(
        Effect.flatMap((engine) => engine.start(workflow, undefined)),
        Effect.provide(a)
      )
      // B, an hour ahead, looks for executions to recover every third of a second while A renews its lease.
      const b = yield* Layer.build(engineOn(counting)).pipe(Effect.withClock(ahead))
      yield* WorkflowEngine.WorkflowEngine.pipe(
        Effect.flatMap((engine) => engine.register(workflow)),
        Effect.provide(b)
      )
      while (claims < 5 && runs.length < 2) yield* Effect.sleep("20 millis")
      expect(runs).toEqual(["work"])
      yield* Deferred.succeed(release, undefined)
      yield* handle.result
      expect(runs).toEqual(["work"])
    })))
  }, 60_000)
})
