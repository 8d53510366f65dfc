import {
  all,
  deferred,
  EphemeralWorkflowExecutionStorage,
  flow,
  parallel,
  queue,
  recursiveProcessor,
  Registry,
  Runnable,
  WorkflowService
} from "@token-ring/workflow"
import type { StoredWorkflowEvent, WorkflowContext } from "@token-ring/workflow"
import { describe, expect, it } from "vitest"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe("Promise flow utilities", () => {
  it("resolves a root flow and its nested flows", async () => {
    const result = await flow("root", async () => {
      const a = await flow("a", async () => {
        await sleep(1)
        return 1
      })
      const b = await flow("b", () => 2)
      return a + b
    })
    expect(result).toBe(3)
  })

  it("hits the cache for a task path seen before in the same root flow", async () => {
    let runs = 0
    const task = () => flow("expensive", () => ++runs)
    const results = await flow("root", async () => [await task(), await task(), await flow("other", task)])
    expect(results).toEqual([1, 1, 2])
  })

  it("reaches queue() from inside nested flows, with retries", async () => {
    let attempts = 0
    const result = await flow("root", () =>
      flow("inner", () =>
        queue({
          name: "work",
          retries: 2,
          backoff: { initial: 1 },
          fn: async () => {
            if (++attempts < 3) throw new Error(`attempt ${attempts}`)
            return "ok"
          }
        })))
    expect(result).toBe("ok")
    expect(attempts).toBe(3)
    await expect(queue({ name: "q", retries: 0, fn: () => Promise.reject(new Error("no")) })).rejects.toThrow("no")
    // The older signature: queue({ name, retries }, fn)
    expect(await flow("root", () => queue({ name: "legacy", retries: 0 }, () => "legacy"))).toBe("legacy")
  })

  it("fans out with parallel and all, rejecting with the failing task's own error", async () => {
    expect(await parallel("squares", 5, async (i) => i * i)).toEqual([0, 1, 4, 9, 16])
    expect(await all("mixed", [() => "a", async () => "b"])).toEqual(["a", "b"])
    await expect(all("bad", [() => "a", () => Promise.reject(new TypeError("bad task"))])).rejects.toThrow(TypeError)
  })

  it("defers a task until called and processes recursively", async () => {
    let runs = 0
    const lazy = deferred("lazy", (n: number) => (runs++, n + 1))
    expect(runs).toBe(0)
    expect(await lazy(1)).toBe(2)
    const tree = { n: 1, result: undefined as number | undefined }
    const results: Array<number> = []
    const root = await recursiveProcessor(tree, {
      processor: async (node: { n: number }, { pass }) => (results.push(pass), node.n * 10),
      generateSubtaskData: (result) => [{ n: result + 1 }],
      maxPasses: 3
    })
    expect(root).toBe(10)
    expect(results).toEqual([1, 2, 3])
  })

  it("journals flows called inside a Runnable, so a resumed execution skips finished tasks", async () => {
    const storage = new EphemeralWorkflowExecutionStorage()
    const runs: Record<string, number> = {}
    let block = true
    class Fan extends Runnable {
      override async *invoke(_input: unknown, context?: WorkflowContext) {
        yield { type: "log" as const, level: "info" as const, message: "fanning out" }
        const squares = await parallel("squares", 3, async (i) => {
          runs[`square${i}`] = (runs[`square${i}`] ?? 0) + 1
          if (i === 1 && block) await new Promise((_, reject) => context!.abortSignal.addEventListener("abort", reject))
          return i * i
        })
        return await flow("sum", () => squares.reduce((a, b) => a + b, 0))
      }
    }
    const first = new WorkflowService({ executionStorage: storage })
    await first.start(new Registry())
    first.registerWorkflow("fan", new Fan())
    const handle = await first.startWorkflow<number>("fan", {})
    while (runs.square1 !== 1 || runs.square2 !== 1) await sleep(2)
    await first.stop()

    block = false
    const second = new WorkflowService({ executionStorage: storage })
    await second.start(new Registry())
    second.registerWorkflow("fan", new Fan())
    const resumed = await second.resume<number>(handle.id)
    expect(await resumed.result()).toBe(5)
    expect(runs).toEqual({ square0: 1, square1: 2, square2: 1 })
    const events: Array<StoredWorkflowEvent> = []
    for await (const event of resumed.stream()) events.push(event)
    const started = events.filter((e) => e.type === "step_start").map((e) => e.runnableName)
    expect(started).toEqual(expect.arrayContaining(["squares", "squares[0]", "squares[1]", "squares[2]", "sum"]))
    expect(new Set(started).size).toBe(started.length)
    expect(events.filter((e) => e.type === "log")).toHaveLength(1)
    await second.stop()
  })
})
