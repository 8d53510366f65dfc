/**
 * The commits' lane on PostgreSQL (pgLane.ts): one connection of the
 * commits' pool kept checked out for single statements. What the pool did
 * for its idle connections it must do too, and it must leave the pool the
 * connections its transactions need. Runs only with TEST_PG_URL.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schedule } from "effect"
import { ExecutionStorage } from "../src/index.js"
import { pgUrl, suiteDatabase, testSession } from "./pg.js"
import { OWNER, running, stepCommit } from "./stepCommits.js"

let executions = 0
const fresh = (name: string) => `${name}-${Date.now().toString(36)}-${executions++}`

describe.skipIf(pgUrl === undefined)("the commits' lane on PostgreSQL", () => {
  const database = suiteDatabase()
  const session = testSession(() => database.url())

  it.scopedLive("a lane connection the server ended while idle is not used for the next commit", () =>
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      const observer = yield* session
      const id = fresh("idle-lost")
      yield* running(id)
      yield* storage.commit(id, stepCommit(0, 1))
      // Every connection of the storage's, as an idle timeout or a restart ends them; gone once the server no
      // longer lists them.
      const others = `from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`
      yield* Effect.promise(() => observer.query(`select pg_terminate_backend(pid) ${others}`))
      yield* Effect.promise(() => observer.query(`select count(*)::int as n ${others}`)).pipe(
        Effect.flatMap(({ rows }) => rows[0].n === 0 ? Effect.void : Effect.fail("not yet")),
        Effect.retry(Schedule.spaced("10 millis")),
        Effect.timeout("60 seconds")
      )
      expect(yield* storage.commit(id, stepCommit(1, 2))).toBe(4)
      expect(yield* storage.commit(id, { events: [], status: "completed", owner: OWNER })).toBe(4)
    }).pipe(Effect.provide(Layer.suspend(() => ExecutionStorage.layerPg({ url: database.url() })))))

  it.scopedLive("a pool of one connection still runs the commits that need a transaction of their own", () =>
    Effect.gen(function*() {
      const storage = yield* ExecutionStorage.ExecutionStorage
      const id = fresh("one-connection")
      yield* running(id)
      // A single statement, where the lane would take the pool's only connection for good.
      yield* storage.commit(id, stepCommit(0, 1))
      // A signal is a program in a transaction, on a connection it checks out: with none left it waited until
      // the pool's connect timeout, and failed.
      yield* storage.commit(id, { events: [], signal: { name: "go", payload: 1 } }).pipe(Effect.timeout("60 seconds"))
      expect(yield* storage.commit(id, stepCommit(1, 2))).toBe(4)
    }).pipe(
      Effect.provide(Layer.suspend(() => ExecutionStorage.layerPg({ url: database.url(), maxConnections: 1 })))
    ))
})
