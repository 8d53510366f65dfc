/**
 * The ExecutionStorage contract, written once as a function of a storage
 * Layer so every backend runs the same suite.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import type { Layer } from "effect"
import { ExecutionStorage } from "../src/index.js"
import type { WorkflowEvent } from "../src/index.js"

const log = (message: string): WorkflowEvent.WorkflowEvent => ({ type: "log", timestamp: 1, level: "info", message })

let counter = 0
const freshId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${counter++}`

/** A step's start as the interpreter commits it (events are fresh objects: storages may stamp them). */
const stepStart = (key: string, name: string, input: unknown = null): ExecutionStorage.Commit => ({
  events: [{ type: "step_start", timestamp: 1, runnableName: name, input }],
  journal: { key, name, kind: "step", state: "started" }
})

/** The end of the step started by `stepStart(key, name)`, with its result. */
const stepEnd = (key: string, name: string, value: unknown): ExecutionStorage.Commit => ({
  events: [{ type: "step_end", timestamp: 1, runnableName: name, output: value }],
  journal: { key, name, kind: "step", state: "completed", result: { _tag: "Success", value } }
})

/** An event as a short label: its type and its message or step name. */
const label = (event: WorkflowEvent.WorkflowEvent): string =>
  `${event.type} ${(event as { message?: string }).message ?? event.runnableName ?? ""}`

/** Waits (in real time) until `condition` holds; dies naming `what` after 10 seconds. */
const waitUntil = (condition: () => boolean, what: string) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 10_000
    while (!condition()) {
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out waiting until ${what}`)
      yield* Effect.sleep("1 millis")
    }
  })

/**
 * A writer's `onStored` that records each commit it is told of. With `read`,
 * it also starts reading the execution's log at that moment: what the read
 * finds shows what was readable when the writer said the commit was stored
 * (await `readable` before the storage closes).
 */
const recorder = (s: ExecutionStorage.ExecutionStorageService, id: string, options?: { readonly read: true }) => {
  const told: Array<ExecutionStorage.Commit> = []
  const reads: Array<Promise<ReadonlyArray<string>>> = []
  return {
    told,
    onStored: (commit: ExecutionStorage.Commit) => {
      told.push(commit)
      if (options?.read === true) {
        reads.push(
          Effect.runPromise(
            s.events(id, { fromSeq: 1, limit: 1000 }).pipe(
              Effect.map((events) => events.map(label)),
              Effect.catchAll((error) => Effect.succeed([`read failed: ${error.message}`]))
            )
          )
        )
      }
    },
    /** What each read found, in the order the commits were told of. */
    readable: Effect.promise(() => Promise.all(reads))
  }
}

/** The stored log as labels, with its seqs checked to be 1..n. */
const storedLabels = (s: ExecutionStorage.ExecutionStorageService, id: string) =>
  Effect.map(s.events(id, { fromSeq: 1, limit: 1000 }), (events) => {
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
    return events.map(label)
  })

const byKey = (journal: ReadonlyArray<ExecutionStorage.JournalEntry>) =>
  [...journal].sort((a, b) => a.key.localeCompare(b.key))

export const storageContract = (
  name: string,
  layer: Layer.Layer<ExecutionStorage.ExecutionStorage, unknown>
) =>
  describe(`ExecutionStorage contract: ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, ExecutionStorage.ExecutionStorage>) => Effect.provide(effect, layer)
    const storage = ExecutionStorage.ExecutionStorage

    it.effect("creates an execution once and returns the existing one afterwards", () =>
      run(Effect.gen(function*() {
        const s = yield* storage
        const id = freshId("create")
        const first = yield* s.create({ id, workflow: "w", input: { n: 1 }, status: "created" })
        expect(first.created).toBe(true)
        expect(first.record).toMatchObject({ id, workflow: "w", input: { n: 1 }, status: "created", lastSeq: 0 })
        const second = yield* s.create({ id, workflow: "other", input: { n: 2 }, status: "running" })
        expect(second.created).toBe(false)
        expect(second.record).toMatchObject({ workflow: "w", input: { n: 1 }, status: "created" })
      })))

    it.live("creates an execution claimed for an owner in the same write, and releases it with its end", () =>
      run(Effect.gen(function*() {
        const s = yield* storage
        const id = freshId("create-claimed")
        const claim = { owner: "starter", leaseMs: 60_000 }
        const first = yield* s.create({ id, workflow: "w", input: null, status: "running", claim })
        expect(first).toMatchObject({ created: true, claimed: true, record: { id, status: "running", lastSeq: 0 } })
        expect(first.record.leaseUntil).toBeGreaterThan(Date.now() + 30_000)
        // Held: another owner cannot claim it, the owner's commits are taken.
        expect(yield* s.claim(id, "other", 60_000)).toBe(false)
        expect(yield* s.commit(id, { events: [log("a")], owner: "starter" })).toBe(1)
        // A second create neither creates nor claims.
        const again = yield* s.create({
          id,
          workflow: "w",
          input: null,
          status: "running",
          claim: { owner: "other", leaseMs: 1 }
        })
        expect(again.created).toBe(false)
        expect(again.claimed).not.toBe(true)
        expect(yield* s.claim(id, "other", 60_000)).toBe(false)
        // The end releases the lease: nobody holds a finished execution.
        yield* s.commit(id, { status: "completed", output: 1, owner: "starter" })
        expect((yield* s.get(id)).leaseUntil).toBeUndefined()
        expect(yield* s.renew("starter", [id], 60_000)).toEqual([])
      })))

    it.effect("fails with ExecutionNotFound for an unknown id", () =>
      run(Effect.gen(function*() {
        const s = yield* storage
        const error = yield* Effect.flip(s.get("no-such-execution"))
        expect(error._tag).toBe("ExecutionNotFound")
        expect(error.message).toContain("no-such-execution")
        const commitError = yield* Effect.flip(s.commit("no-such-execution", { events: [log("x")] }))
        expect(commitError._tag).toBe("ExecutionNotFound")
        expect(yield* s.events("no-such-execution", { fromSeq: 1, limit: 10 })).toEqual([])
      })))

    it.effect("assigns contiguous seq numbers across commits and reads from any seq", () =>
      run(Effect.gen(function*() {
        const s = yield* storage
        const id = freshId("seq")
        yield* s.create({ id, workflow: "w", input: null, status: "running" })
        expect(yield* s.commit(id, { events: [log("a"), log("b")] })).toBe(2)
        expect(yield* s.commit(id, { status: "running" })).toBe(2)
        expect(yield* s.commit(id, { events: [log("c")] })).toBe(3)
        const all = yield* s.events(id, { fromSeq: 1, limit: 100 })
        expect(all.map((e) => [e.seq, (e as { message: string }).message, e.workflowInstanceId])).toEqual([
          [1, "a", id],
          [2, "b", id],
          [3, "c", id]
        ])
        expect((yield* s.events(id, { fromSeq: 2, limit: 1 })).map((e) => e.seq)).toEqual([2])
        // Fewer than `limit` only when no more are stored: a follower takes a short page for all there was.
        expect((yield* s.events(id, { fromSeq: 1, limit: 2 })).map((e) => e.seq)).toEqual([1, 2])
        expect((yield* s.events(id, { fromSeq: 2, limit: 5 })).map((e) => e.seq)).toEqual([2, 3])
        expect(yield* s.events(id, { fromSeq: 4, limit: 10 })).toEqual([])
        expect((yield* s.get(id)).lastSeq).toBe(3)
      })))

    it.effect("upserts journal entries by key", () =>
      run(Effect.gen(function*() {
        const s = yield* storage
        const id = freshId("journal")
        yield* s.create({ id, workflow: "w", input: null, status: "running" })
        yield* s.commit(id, { journal: { key: "0", name: "a", kind: "step", state: "started" } })
        yield* s.commit(id, {
          journal: { key: "0", name: "a", kind: "step", state: "completed", result: { _tag: "Success", value: 42 } }
        })
        yield* s.commit(id, {
          journal: { key: "1", name: "b", kind: "step", state: "completed", result: { _tag: "Failure", error: "no" } }
        })
        const journal = [...(yield* s.journal(id))].sort((a, b) => a.key.localeCompare(b.key))
        expect(journal).toEqual([
          { key: "0", name: "a", kind: "step", state: "completed", result: { _tag: "Success", value: 42 } },
          { key: "1", name: "b", kind: "step", state: "completed", result: { _tag: "Failure", error: "no" } }
        ])
      })))

    it.effect("never changes a terminal status and stores nothing of a rejected commit", () =>
      run(Effect.gen(function*() {
        const s = yield* storage
        const id = freshId("terminal")
        yield* s.create({ id, workflow: "w", input: null, status: "running" })
        yield* s.commit(id, { events: [log("done")], status: "completed", output: { ok: true } })
        const error = yield* Effect.flip(
          s.commit(id, {
            events: [log("late")],
            status: "failed",
            journal: { key: "9", name: "x", kind: "emit", state: "completed" }
          })
        )
        expect(error._tag).toBe("ExecutionFinished")
        const record = yield* s.get(id)
        expect(record).toMatchObject({ status: "completed", output: { ok: true }, lastSeq: 1 })
        expect(yield* s.events(id, { fromSeq: 1, limit: 10 })).toHaveLength(1)
        expect(yield* s.journal(id)).toEqual([])
      })))

    it.effect("answers a waiting approval atomically, and only once", () =>
      run(Effect.gen(function*() {
        const s = yield* storage
        const id = freshId("approval")
        yield* s.create({ id, workflow: "w", input: null, status: "running" })
        yield* s.commit(id, {
          events: [log("asking")],
          journal: { key: "0", name: "approval:t1", kind: "approval", state: "waiting", taskId: "t1" },
          status: "waiting"
        })
        const wrongTask = yield* Effect.flip(
          s.commit(id, {
            answer: { taskId: "t2", value: { status: "approved" } },
            events: [log("x")],
            status: "running"
          })
        )
        expect(wrongTask._tag).toBe("ApprovalNotPending")
        expect(yield* s.get(id)).toMatchObject({ status: "waiting", lastSeq: 1 })

        yield* s.commit(id, {
          answer: { taskId: "t1", value: { status: "approved" } },
          events: [log("ok")],
          status: "running"
        })
        expect(yield* s.journal(id)).toEqual([
          {
            key: "0",
            name: "approval:t1",
            kind: "approval",
            state: "completed",
            taskId: "t1",
            result: { _tag: "Success", value: { status: "approved" } }
          }
        ])
        expect(yield* s.get(id)).toMatchObject({ status: "running", lastSeq: 2 })
        const again = yield* Effect.flip(s.commit(id, { answer: { taskId: "t1", value: { status: "rejected" } } }))
        expect(again._tag).toBe("ApprovalNotPending")
      })))

    it.effect("refuses a run's commit once its lease expired or another owner claimed the execution", () =>
      run(Effect.gen(function*() {
        const s = yield* storage
        const id = freshId("owned")
        yield* s.create({ id, workflow: "w", input: null, status: "running" })
        const unclaimed = yield* Effect.flip(s.commit(id, { events: [log("early")], owner: "a" }))
        expect(unclaimed).toMatchObject({ _tag: "ExecutionNotOwned", executionId: id, owner: "a" })
        expect((yield* s.get(id)).leaseUntil).toBeUndefined()
        expect(yield* s.claim(id, "a", 60_000)).toBe(true)
        const claimedUntil = (yield* s.get(id)).leaseUntil!
        expect(yield* s.commit(id, { events: [log("a1")], owner: "a" })).toBe(1)
        // Held: nobody else can claim it.
        expect(yield* s.claim(id, "b", 60_000)).toBe(false)
        // Leases are counted from the storage's now when claimed or renewed.
        expect(yield* s.renew("a", [id], 120_000)).toEqual([id])
        const renewedUntil = (yield* s.get(id)).leaseUntil!
        expect(renewedUntil - claimedUntil).toBeGreaterThanOrEqual(60_000)
        expect(renewedUntil - claimedUntil).toBeLessThan(70_000)
        // a's lease runs out (a lease of 0 ms has expired at once): a stores nothing, though nobody claimed it.
        expect(yield* s.renew("a", [id], 0)).toEqual([id])
        const expired = yield* Effect.flip(s.commit(id, { events: [log("expired")], owner: "a" }))
        expect(expired).toMatchObject({ _tag: "ExecutionNotOwned", executionId: id, owner: "a" })
        // Until someone claims it, its owner may renew it and go on.
        expect(yield* s.renew("a", [id], 60_000)).toEqual([id])
        expect(yield* s.commit(id, { events: [log("a2")], owner: "a" })).toBe(2)
        // Expired again, and b takes the execution over: a can neither renew nor commit.
        expect(yield* s.renew("a", [id], -1)).toEqual([id])
        expect(yield* s.claim(id, "b", 60_000)).toBe(true)
        const bUntil = (yield* s.get(id)).leaseUntil!
        expect(yield* s.renew("a", [id], 60_000)).toEqual([])
        const refused = yield* Effect.flip(
          s.commit(id, {
            events: [log("a3")],
            journal: { key: "0", name: "s", kind: "step", state: "completed", result: { _tag: "Success", value: 1 } },
            status: "waiting",
            owner: "a"
          })
        )
        expect(refused).toMatchObject({ _tag: "ExecutionNotOwned", executionId: id, owner: "a" })
        expect(refused.message).toContain(id)
        expect(yield* s.get(id)).toMatchObject({ status: "running", lastSeq: 2 })
        expect(yield* s.journal(id)).toEqual([])
        expect(yield* s.commit(id, { events: [log("b1")], owner: "b" })).toBe(3)
        // Commits made on behalf of anyone (cancel, approve) carry no owner and are not guarded.
        expect(yield* s.commit(id, { events: [log("anyone")] })).toBe(4)
        // Waiting, the claim means nothing (the run gives it up): the record does not show it.
        yield* s.commit(id, { status: "waiting", owner: "b" })
        expect((yield* s.get(id)).leaseUntil).toBeUndefined()
        yield* s.commit(id, { status: "running", owner: "b" })
        expect((yield* s.get(id)).leaseUntil).toBe(bUntil)
        yield* s.release(id, "b")
        expect((yield* s.get(id)).leaseUntil).toBeUndefined()
        const released = yield* Effect.flip(s.commit(id, { events: [log("b2")], owner: "b" }))
        expect(released._tag).toBe("ExecutionNotOwned")
        // A claim of 0 ms or less has expired at once: anyone may claim the execution after it.
        expect(yield* s.claim(id, "c", 0)).toBe(true)
        expect(yield* s.claim(id, "d", 60_000)).toBe(true)
        yield* s.commit(id, { status: "cancelled" })
        // A finished execution says so, whoever asks, and cannot be claimed or renewed.
        const finished = yield* Effect.flip(s.commit(id, { events: [log("a4")], owner: "a" }))
        expect(finished).toMatchObject({ _tag: "ExecutionFinished", status: "cancelled" })
        expect(yield* s.claim(id, "d", 60_000)).toBe(false)
        expect(yield* s.renew("d", [id], 60_000)).toEqual([])
        expect((yield* s.events(id, { fromSeq: 1, limit: 10 })).map((e) => (e as { message: string }).message))
          .toEqual(["a1", "a2", "b1", "anyone"])
      })))

    it.effect("stores or refuses each of several concurrent commits on its own", () =>
      run(Effect.gen(function*() {
        const s = yield* storage
        const ids = Array.from({ length: 5 }, (_, i) => freshId(`concurrent${i}`))
        for (const id of ids) yield* s.create({ id, workflow: "w", input: null, status: "running" })
        const [good1, finished, notOwned, notPending, good2] = ids as [string, string, string, string, string]
        yield* s.commit(finished, { status: "completed" })
        yield* s.claim(notOwned, "other", 3_600_000)
        const outcomes = yield* Effect.all(
          [
            s.commit(good1, { events: [log("g1")], journal: { key: "0", name: "s", kind: "step", state: "started" } }),
            s.commit(finished, { events: [log("late")] }),
            s.commit(notOwned, { events: [log("stale")], owner: "me" }),
            s.commit(notPending, { answer: { taskId: "t", value: 1 }, events: [log("answer")] }),
            s.commit("no-such-execution", { events: [log("nowhere")] }),
            s.commit(good2, { events: [log("g2a"), log("g2b")], status: "waiting" })
          ].map(Effect.either),
          { concurrency: "unbounded" }
        )
        expect(outcomes.map((o) => Either.isRight(o) ? o.right : o.left._tag)).toEqual([
          1,
          "ExecutionFinished",
          "ExecutionNotOwned",
          "ApprovalNotPending",
          "ExecutionNotFound",
          2
        ])
        expect(yield* s.get(good1)).toMatchObject({ lastSeq: 1 })
        expect(yield* s.journal(good1)).toEqual([{ key: "0", name: "s", kind: "step", state: "started" }])
        expect(yield* s.get(good2)).toMatchObject({ lastSeq: 2, status: "waiting" })
        for (const id of [finished, notOwned, notPending]) {
          expect(yield* s.events(id, { fromSeq: 1, limit: 10 })).toEqual([])
        }
      })))

    it.effect("stores output and error with the terminal status", () =>
      run(Effect.gen(function*() {
        const s = yield* storage
        const id = freshId("failed")
        yield* s.create({ id, workflow: "w", input: null, status: "running" })
        yield* s.commit(id, { status: "failed", error: { name: "Boom", message: "it broke" } })
        expect(yield* s.get(id)).toMatchObject({ status: "failed", error: { name: "Boom", message: "it broke" } })
      })))

    it.live("lists executions newest first, filtered, one page at a time", () =>
      run(Effect.gen(function*() {
        const s = yield* storage
        const workflow = freshId("listed")
        const ids: Array<string> = []
        for (let i = 0; i < 5; i++) {
          const id = `${workflow}-${i}`
          ids.push(id)
          yield* s.create({ id, workflow, input: i, status: i % 2 === 0 ? "running" : "waiting" })
          yield* Effect.sleep("2 millis")
        }
        const seen: Array<string> = []
        let cursor: string | undefined
        do {
          const page: ExecutionStorage.ExecutionPage = yield* s.list({
            workflow,
            limit: 2,
            ...(cursor !== undefined ? { cursor } : {})
          })
          expect(page.executions.length).toBeLessThanOrEqual(2)
          seen.push(...page.executions.map((e) => e.id))
          cursor = page.cursor
        } while (cursor !== undefined)
        expect(seen).toEqual([...ids].reverse())
        const waiting = yield* s.list({ workflow, status: "waiting" })
        expect(waiting.executions.map((e) => e.id).sort()).toEqual([ids[1], ids[3]])
        const both = yield* s.list({ workflow, status: ["waiting", "running"] })
        expect(both.executions).toHaveLength(5)
        const bad = yield* Effect.flip(s.list({ cursor: "not-a-cursor" }))
        expect(bad._tag).toBe("InvalidCursor")
      })))

    describe("parent links", () => {
      it.effect("keeps the parent an execution was created with, and lists exactly a parent's children, by page", () =>
        run(Effect.gen(function*() {
          const s = yield* storage
          const workflow = freshId("family")
          const parent = `${workflow}-parent`
          const created = yield* s.create({ id: parent, workflow, input: null, status: "running" })
          expect(created.record).not.toHaveProperty("parent")
          const children: Array<string> = []
          for (let i = 0; i < 5; i++) {
            const id = `${workflow}-child-${i}`
            children.push(id)
            const status = i % 2 === 0 ? "running" : "waiting"
            const { record } = yield* s.create({ id, workflow, input: i, status, parent })
            expect(record).toMatchObject({ id, status, parent })
          }
          const [child0, child1, child2, child3, child4] = children as [string, string, string, string, string]
          // A grandchild, the child of another execution, and an execution whose id only looks like a child's.
          const grandchild = `${workflow}-grandchild`
          const cousin = `${workflow}-cousin`
          const lookalike = `${parent}.lookalike`
          yield* s.create({ id: grandchild, workflow, input: null, status: "running", parent: child0 })
          yield* s.create({ id: cousin, workflow, input: null, status: "running", parent: `${workflow}-other` })
          yield* s.create({ id: lookalike, workflow, input: null, status: "running" })
          // Creating an existing id again changes nothing, its parent included.
          const again = yield* s.create({ id: child1, workflow, input: null, status: "running", parent: "someone" })
          expect(again).toMatchObject({ created: false, record: { id: child1, status: "waiting", parent } })

          expect(yield* s.get(child3)).toMatchObject({ id: child3, input: 3, parent })
          expect(yield* s.get(grandchild)).toMatchObject({ parent: child0 })
          expect(yield* s.get(parent)).not.toHaveProperty("parent")
          expect(yield* s.get(lookalike)).not.toHaveProperty("parent")
          // Listed records carry their parent too, and only those that have one.
          const parents = new Map<string, string | undefined>([
            [parent, undefined],
            ...children.map((id) => [id, parent] as const),
            [grandchild, child0],
            [cousin, `${workflow}-other`],
            [lookalike, undefined]
          ])
          const everything = yield* s.list({ workflow, limit: 100 })
          expect(everything.executions.map((e) => e.id).sort()).toEqual([...parents.keys()].sort())
          for (const record of everything.executions) {
            const expected = parents.get(record.id)
            if (expected === undefined) expect(record).not.toHaveProperty("parent")
            else expect(record.parent).toBe(expected)
          }

          /** The ids of every page of `filter`, checking each page's size; and how many pages there were. */
          const paged = (filter: ExecutionStorage.ListFilter) =>
            Effect.gen(function*() {
              const ids: Array<string> = []
              let pages = 0
              let cursor: string | undefined
              do {
                const page: ExecutionStorage.ExecutionPage = yield* s.list(
                  cursor === undefined ? filter : { ...filter, cursor }
                )
                pages++
                expect(page.executions.length).toBeLessThanOrEqual(filter.limit ?? 100)
                ids.push(...page.executions.map((e) => e.id))
                cursor = page.cursor
              } while (cursor !== undefined && pages < 20)
              return { ids, pages }
            })
          const sorted = (ids: ReadonlyArray<string>) => [...ids].sort()
          const unpaged = (yield* s.list({ parent })).executions.map((e) => e.id)
          expect(sorted(unpaged)).toEqual(sorted(children))
          const byTwo = yield* paged({ parent, limit: 2 })
          expect(byTwo.pages).toBe(3)
          // Every child once, in the order of the unpaged list.
          expect(byTwo.ids).toEqual(unpaged)
          const waiting = yield* paged({ parent, status: "waiting", limit: 1 })
          expect(sorted(waiting.ids)).toEqual([child1, child3])
          expect(waiting.pages).toBe(2)
          const running = yield* paged({ parent, status: ["running"], limit: 2 })
          expect(sorted(running.ids)).toEqual([child0, child2, child4])
          expect(running.pages).toBe(2)
          const both = yield* paged({ parent, workflow, status: ["running", "waiting"], limit: 4 })
          expect(sorted(both.ids)).toEqual(sorted(children))
          expect((yield* s.list({ parent, status: "completed" })).executions).toEqual([])
          expect((yield* s.list({ parent, workflow: "another-workflow" })).executions).toEqual([])
          expect((yield* s.list({ parent: child0 })).executions.map((e) => e.id)).toEqual([grandchild])
          expect((yield* s.list({ parent: grandchild })).executions).toEqual([])
          expect((yield* s.list({ parent: freshId("nobody") })).executions).toEqual([])
        })))

      it.effect("lists by id prefix, in characters, with nothing special about % or _", () =>
        run(Effect.gen(function*() {
          const s = yield* ExecutionStorage.ExecutionStorage
          const base = freshId("prefix")
          const ids = [`${base}-a%1`, `${base}-a_2`, `${base}-b😀3`, `${base}-b😀4`]
          for (const id of ids) yield* s.create({ id, workflow: "w", input: null, status: "created" })
          const listed = (idPrefix: string) =>
            Effect.map(s.list({ idPrefix, limit: 100 }), (page) => page.executions.map((e) => e.id).sort())
          expect(yield* listed(base)).toEqual([...ids].sort())
          expect(yield* listed(`${base}-a%`)).toEqual([`${base}-a%1`])
          expect(yield* listed(`${base}-a_`)).toEqual([`${base}-a_2`])
          expect(yield* listed(`${base}-b😀`)).toEqual([`${base}-b😀3`, `${base}-b😀4`])
          expect(yield* listed(`${base}-c`)).toEqual([])
        })))
    })

    describe("writer", () => {
      /** A running execution, claimed by `owner` as a run claims it. */
      const claimed = (s: ExecutionStorage.ExecutionStorageService, prefix: string, owner: string) =>
        Effect.gen(function*() {
          const id = freshId(prefix)
          yield* s.create({ id, workflow: "w", input: null, status: "running" })
          expect(yield* s.claim(id, owner, 3_600_000)).toBe(true)
          return id
        })
      /** Lets every queued microtask run (a held start is written by one at the latest). */
      const afterMicrotasks = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

      it.live("commits of many runs made at once are each stored or refused on their own", () =>
        run(Effect.gen(function*() {
          const s = yield* storage
          // Twenty runs commit in the same moment (a storage may write them together); one of them no longer
          // holds its execution, one commits to a finished execution.
          const ids = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
            claimed(s, `writer-group-${i}`, "w"))
          yield* s.commit(ids[7]!, { status: "completed", output: "done" })
          const outcomes = yield* Effect.scoped(Effect.gen(function*() {
            const writers = yield* Effect.forEach(ids, (id, i) =>
              s.writer(id, { owner: i === 3 ? "not-w" : "w" }))
            return yield* Effect.forEach(
              writers,
              (writer, i) =>
                Effect.either(
                  writer.commit({ ...stepEnd("0", `s${i}`, i), events: [log(`a${i}`), log(`b${i}`), log(`c${i}`)] })
                ),
              { concurrency: "unbounded" }
            )
          }))
          outcomes.forEach((outcome, i) => {
            if (i === 3) expect(outcome).toMatchObject({ _tag: "Left", left: { _tag: "ExecutionNotOwned" } })
            else if (i === 7) expect(outcome).toMatchObject({ _tag: "Left", left: { _tag: "ExecutionFinished" } })
            else expect(outcome._tag).toBe("Right")
          })
          for (const [i, id] of ids.entries()) {
            const events = yield* s.events(id, { fromSeq: 1, limit: 10 })
            const stored = i === 3 || i === 7 ? [] : [`a${i}`, `b${i}`, `c${i}`]
            expect(events.map((e) => [e.seq, (e as { message?: string }).message])).toEqual(
              i === 7 ? [] : stored.map((message, k) => [k + 1, message])
            )
            const journal = yield* s.journal(id)
            expect(journal.map((e) => [e.name, e.result])).toEqual(
              stored.length === 0 ? [] : [[`s${i}`, { _tag: "Success", value: i }]]
            )
          }
        })))

      it.live("stores a run's commits in order and tells of each once, when it can be read", () =>
        run(Effect.gen(function*() {
          const s = yield* storage
          const id = yield* claimed(s, "writer-order", "w")
          const { onStored, readable, told } = recorder(s, id, { read: true })
          const handed: ReadonlyArray<ExecutionStorage.Commit> = [
            { events: [log("a"), log("b")] },
            stepStart("0", "s0"),
            stepEnd("0", "s0", 1),
            stepStart("1", "s1"),
            stepEnd("1", "s1", 2),
            { events: [log("c")], status: "waiting" }
          ]
          const [logs, start0, end0, start1, end1, last] = handed as [
            ExecutionStorage.Commit,
            ExecutionStorage.Commit,
            ExecutionStorage.Commit,
            ExecutionStorage.Commit,
            ExecutionStorage.Commit,
            ExecutionStorage.Commit
          ]
          yield* Effect.scoped(Effect.gen(function*() {
            const writer = yield* s.writer(id, { owner: "w", onStored })
            yield* writer.commit(logs)
            // A step's start (held back where the storage holds starts) and at once its end.
            yield* writer.commit(start0, { hold: true })
            yield* writer.commit(end0)
            // A start that nothing follows is stored on its own a moment later, and told of.
            yield* writer.commit(start1, { hold: true })
            yield* waitUntil(() => told.includes(start1), "the start of s1 is stored on its own")
            expect(yield* storedLabels(s, id)).toEqual([
              "log a",
              "log b",
              "step_start s0",
              "step_end s0",
              "step_start s1"
            ])
            yield* writer.commit(end1)
            yield* writer.commit(last)
          }))
          expect(yield* storedLabels(s, id)).toEqual([
            "log a",
            "log b",
            "step_start s0",
            "step_end s0",
            "step_start s1",
            "step_end s1",
            "log c"
          ])
          expect(byKey(yield* s.journal(id))).toEqual([
            { key: "0", name: "s0", kind: "step", state: "completed", result: { _tag: "Success", value: 1 } },
            { key: "1", name: "s1", kind: "step", state: "completed", result: { _tag: "Success", value: 2 } }
          ])
          expect(yield* s.get(id)).toMatchObject({ status: "waiting", lastSeq: 7 })
          // Each stored commit is told of once, in order; a start stored with its end is told of as that end.
          const order = told.map((commit) => handed.indexOf(commit))
          expect([[0, 1, 2, 3, 4, 5], [0, 2, 3, 4, 5]]).toContainEqual(order)
          // When told of, a commit (and every commit before it) could be read.
          const reads = yield* readable
          order.forEach((index, i) => {
            const upTo = handed.slice(0, index + 1).flatMap((commit) => (commit.events ?? []).map(label))
            expect(reads[i]).toEqual(expect.arrayContaining(upTo))
          })
        })))

      it.live("stores a held start with its end as one, before a commit of another key, and when it closes", () =>
        run(Effect.gen(function*() {
          const s = yield* storage
          const id = yield* claimed(s, "writer-hold", "w")
          const { onStored, told } = recorder(s, id)
          const startC = stepStart("3", "c")
          yield* Effect.scoped(Effect.gen(function*() {
            const writer = yield* s.writer(id, { owner: "w", onStored })
            yield* writer.commit(stepStart("0", "a", { x: "input of a" }), { hold: true })
            yield* writer.commit(stepEnd("0", "a", "A"))
            // Once the end's commit is stored, so is its start: both events in order, the entry completed.
            const [start] = yield* s.events(id, { fromSeq: 1, limit: 1 })
            expect(start).toMatchObject({ seq: 1, type: "step_start", runnableName: "a", input: { x: "input of a" } })
            expect(yield* storedLabels(s, id)).toEqual(["step_start a", "step_end a"])
            expect(yield* s.journal(id)).toEqual([
              { key: "0", name: "a", kind: "step", state: "completed", result: { _tag: "Success", value: "A" } }
            ])
            // A commit of another key: the held start is stored first, then that commit.
            yield* writer.commit(stepStart("1", "b"), { hold: true })
            yield* writer.commit({
              events: [log("between")],
              journal: { key: "2", name: "between", kind: "emit", state: "completed" }
            })
            expect(yield* storedLabels(s, id)).toEqual(["step_start a", "step_end a", "step_start b", "log between"])
            expect(byKey(yield* s.journal(id))).toMatchObject([
              { key: "0", state: "completed" },
              { key: "1", name: "b", state: "started" },
              { key: "2", name: "between", state: "completed" }
            ])
            yield* writer.commit(stepEnd("1", "b", "B"))
            // Still held back when the writer's scope closes: the close stores it.
            yield* writer.commit(startC, { hold: true })
          }))
          expect(yield* storedLabels(s, id)).toEqual([
            "step_start a",
            "step_end a",
            "step_start b",
            "log between",
            "step_end b",
            "step_start c"
          ])
          expect(byKey(yield* s.journal(id))).toEqual([
            { key: "0", name: "a", kind: "step", state: "completed", result: { _tag: "Success", value: "A" } },
            { key: "1", name: "b", kind: "step", state: "completed", result: { _tag: "Success", value: "B" } },
            { key: "2", name: "between", kind: "emit", state: "completed" },
            { key: "3", name: "c", kind: "step", state: "started" }
          ])
          expect(told).toContain(startC)
          expect(new Set(told).size).toBe(told.length)
        })))

      {
        it.live("fails a commit whose payload cannot be stored with InvalidPayload naming it, storing none of it", () =>
          run(Effect.gen(function*() {
            const s = yield* storage
            const id = yield* claimed(s, "writer-payload", "w")
            const { onStored, told } = recorder(s, id)
            const cyclic: Record<string, unknown> = {}
            cyclic.self = cyclic
            const startZ = stepStart("2", "z")
            yield* Effect.scoped(Effect.gen(function*() {
              const writer = yield* s.writer(id, { owner: "w", onStored })
              const bigEvent = yield* Effect.flip(writer.commit({
                events: [log("fine"), { ...log("big"), details: { n: 1n } } as WorkflowEvent.WorkflowEvent],
                status: "waiting"
              }))
              expect(bigEvent._tag).toBe("InvalidPayload")
              expect(bigEvent.message).toContain(`the log event of execution "${id}" cannot be stored`)
              expect(bigEvent.message).toContain("BigInt")
              const bigResult = yield* Effect.flip(writer.commit({
                events: [{ type: "step_end", timestamp: 1, runnableName: "x", output: "shown" }],
                journal: {
                  key: "0",
                  name: "x",
                  kind: "step",
                  state: "completed",
                  result: { _tag: "Success", value: 10n }
                }
              }))
              expect(bigResult._tag).toBe("InvalidPayload")
              expect(bigResult.message).toContain(`the result of step "x" of execution "${id}"`)
              const cycle = yield* Effect.flip(
                writer.commit({ events: [{ ...log("cyclic"), details: cyclic } as WorkflowEvent.WorkflowEvent] })
              )
              expect(cycle._tag).toBe("InvalidPayload")
              expect(cycle.message).toMatch(/cycle/i)
              // A start that cannot be stored fails at once, held back or not.
              const badStart = yield* Effect.flip(writer.commit(stepStart("1", "y", { n: 1n }), { hold: true }))
              expect(badStart._tag).toBe("InvalidPayload")
              expect(badStart.message).toContain(`the step_start event of step "y" in execution "${id}"`)
              expect(yield* storedLabels(s, id)).toEqual([])
              expect(yield* s.journal(id)).toEqual([])
              expect(yield* s.get(id)).toMatchObject({ status: "running", lastSeq: 0 })
              // The end of a held start cannot be stored: the start is (the log keeps it), the end is not.
              yield* writer.commit(startZ, { hold: true })
              const badEnd = yield* Effect.flip(writer.commit(stepEnd("2", "z", 2n)))
              expect(badEnd._tag).toBe("InvalidPayload")
              expect(badEnd.message).toContain(`step "z"`)
              expect(yield* storedLabels(s, id)).toEqual(["step_start z"])
              expect(yield* s.journal(id)).toEqual([{ key: "2", name: "z", kind: "step", state: "started" }])
              // The writer goes on.
              yield* writer.commit({ events: [log("after")] })
            }))
            expect(yield* storedLabels(s, id)).toEqual(["step_start z", "log after"])
            expect(told.map((commit) => commit.events?.map(label))).toEqual([["step_start z"], ["log after"]])
            expect(told[0]).toBe(startZ)
          })))
      }

      it.live("refuses a writer's commits once another owner has claimed the execution, held starts included", () =>
        run(Effect.gen(function*() {
          const s = yield* storage
          const id = freshId("writer-owned")
          yield* s.create({ id, workflow: "w", input: null, status: "running" })
          expect(yield* s.claim(id, "a", 3_600_000)).toBe(true)
          const a = recorder(s, id)
          const a1: ExecutionStorage.Commit = { events: [log("a1")] }
          const notOwned = { _tag: "ExecutionNotOwned", executionId: id, owner: "a" }
          /** A held start is refused at once where it is written at once, else by the run's next commit. */
          const refusedOrHeld = (result: Either.Either<void, ExecutionStorage.CommitError>) => {
            if (Either.isLeft(result)) expect(result.left).toMatchObject(notOwned)
          }
          yield* Effect.scoped(Effect.gen(function*() {
            const writer = yield* s.writer(id, { owner: "a", onStored: a.onStored })
            yield* writer.commit(a1)
            // a's lease expires (a renewal of 0 ms ends it): b takes the execution over.
            expect(yield* s.renew("a", [id], 0)).toEqual([id])
            expect(yield* s.claim(id, "b", 3_600_000)).toBe(true)
            expect(yield* Effect.flip(writer.commit({ events: [log("a2")], status: "waiting" }))).toMatchObject(
              notOwned
            )
            // A start and at once its end: refused, written together or one by one.
            refusedOrHeld(yield* Effect.either(writer.commit(stepStart("0", "s"), { hold: true })))
            expect(yield* Effect.flip(writer.commit(stepEnd("0", "s", 1)))).toMatchObject(notOwned)
            // A start written on its own a moment later: refused, and the run's next commit says so.
            refusedOrHeld(yield* Effect.either(writer.commit(stepStart("1", "t"), { hold: true })))
            yield* afterMicrotasks
            expect(yield* Effect.flip(writer.commit({ events: [log("a3")] }))).toMatchObject(notOwned)
            // Still held back when the writer closes: the close cannot store it either, and does not fail.
            refusedOrHeld(yield* Effect.either(writer.commit(stepStart("2", "u"), { hold: true })))
          }))
          expect(yield* storedLabels(s, id)).toEqual(["log a1"])
          expect(yield* s.journal(id)).toEqual([])
          expect(yield* s.get(id)).toMatchObject({ status: "running", lastSeq: 1 })
          expect(a.told).toEqual([a1])
          expect(a.told[0]).toBe(a1)
          // The new owner's writer goes on from there.
          yield* Effect.scoped(
            Effect.flatMap(s.writer(id, { owner: "b" }), (writer) => writer.commit({ events: [log("b1")] }))
          )
          expect(yield* storedLabels(s, id)).toEqual(["log a1", "log b1"])
        })))

      it.live("refuses a run going back to waiting once its approval was answered, storing nothing of it", () =>
        run(Effect.gen(function*() {
          const s = yield* storage
          const id = yield* claimed(s, "writer-waiting-for", "w")
          const waitingFor = { key: "0", taskId: "q" }
          yield* Effect.scoped(Effect.gen(function*() {
            const writer = yield* s.writer(id, { owner: "w" })
            yield* writer.commit({
              journal: { key: "0", name: "approval:q", kind: "approval", state: "waiting", taskId: "q" },
              status: "waiting"
            })
            // While it waits, going back to waiting (a run that re-read its journal) is allowed.
            yield* writer.commit({ status: "waiting", waitingFor })
            // Answered on behalf of anyone (the answer marks it running)...
            yield* s.commit(id, { answer: { taskId: "q", value: { status: "approved" } }, status: "running" })
            // ...so the run that read it still waiting must not mark it waiting again.
            expect(yield* Effect.flip(writer.commit({ events: [log("late")], status: "waiting", waitingFor })))
              .toMatchObject({ _tag: "ApprovalNotPending", executionId: id, taskId: "q" })
          }))
          expect(yield* s.get(id)).toMatchObject({ status: "running", lastSeq: 0 })
          expect(yield* s.journal(id)).toMatchObject([{ key: "0", state: "completed" }])
        })))

      it.live("refuses a writer's commits to a finished execution with ExecutionFinished", () =>
        run(Effect.gen(function*() {
          const s = yield* storage
          const id = yield* claimed(s, "writer-finished", "w")
          const { onStored, told } = recorder(s, id)
          const before: ExecutionStorage.Commit = { events: [log("before")] }
          const finished = { _tag: "ExecutionFinished", executionId: id, status: "cancelled" }
          yield* Effect.scoped(Effect.gen(function*() {
            const writer = yield* s.writer(id, { owner: "w", onStored })
            yield* writer.commit(before)
            // Cancelled on behalf of anyone (a cancel from another engine) while the run goes on.
            yield* s.commit(id, { events: [log("cancelled")], status: "cancelled" })
            expect(yield* Effect.flip(writer.commit({ events: [log("late")], status: "completed", output: 1 })))
              .toMatchObject(finished)
            const held = yield* Effect.either(writer.commit(stepStart("0", "s"), { hold: true }))
            if (Either.isLeft(held)) expect(held.left).toMatchObject(finished)
            expect(yield* Effect.flip(writer.commit(stepEnd("0", "s", 1)))).toMatchObject(finished)
            yield* Effect.either(writer.commit(stepStart("1", "t"), { hold: true }))
          }))
          expect(yield* storedLabels(s, id)).toEqual(["log before", "log cancelled"])
          expect(yield* s.journal(id)).toEqual([])
          expect(yield* s.get(id)).toMatchObject({ status: "cancelled", lastSeq: 2 })
          expect(told).toEqual([before])
        })))
    })
  })
