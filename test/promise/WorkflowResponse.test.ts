import { WorkflowResponse } from "@token-ring/workflow"
import type { AnyWorkflowEvent, WorkflowEventInput } from "@token-ring/workflow"
import { describe, expect, it } from "vitest"

const tick = () => new Promise((resolve) => setTimeout(resolve, 1))

async function* events(count: number, options: { fail?: boolean; final?: boolean; schema?: boolean } = {}) {
  if (options.schema) yield { type: "schema_definition" as const, schema: { type: "number" } }
  for (let i = 0; i < count; i++) {
    await tick()
    yield { type: "log" as const, level: "info" as const, message: `event ${i}` }
  }
  if (options.fail) throw new Error("source failed")
  if (options.final) yield { type: "final_output" as const, data: "from final_output" }
  return "from return"
}

const collect = async (stream: AsyncIterable<AnyWorkflowEvent>) => {
  const seen: Array<AnyWorkflowEvent> = []
  for await (const event of stream) seen.push(event)
  return seen
}

describe("WorkflowResponse", () => {
  it("gives every concurrent consumer every event, reading the source once", async () => {
    let pulls = 0
    async function* counted(): AsyncGenerator<WorkflowEventInput, string> {
      for await (const event of events(30)) {
        pulls++
        yield event
      }
      return "done"
    }
    const response = new WorkflowResponse(counted(), { workflowInstanceId: "i-1", workflowDefinitionId: "d-1" })
    const consumers = await Promise.all(Array.from({ length: 8 }, () => collect(response.stream())))
    for (const seen of consumers) {
      expect(seen.map((e) => (e as { message: string }).message)).toEqual(
        Array.from({ length: 30 }, (_, i) => `event ${i}`)
      )
      expect(seen).toEqual(consumers[0])
    }
    expect(pulls).toBe(30)
    // A late consumer replays the buffer.
    expect(await collect(response.stream())).toEqual(consumers[0])
    expect(response.workflowInstanceId).toBe("i-1")
    expect(response.workflowDefinitionId).toBe("d-1")
    expect(response.metadata).toEqual({ workflowInstanceId: "i-1", workflowDefinitionId: "d-1" })
  })

  it("answers response() with the last final_output, else the return value", async () => {
    expect(await new WorkflowResponse(events(2, { final: true })).response()).toBe("from final_output")
    const plain = new WorkflowResponse(events(2))
    const [a, b] = await Promise.all([plain.response(), plain.response()])
    expect([a, b]).toEqual(["from return", "from return"])
  })

  it("reports the schema and hands out copies of all events", async () => {
    const response = new WorkflowResponse(events(3, { schema: true }))
    expect(await response.outputSchema()).toEqual({ type: "number" })
    const all = await response.allEvents()
    expect(all.map((e) => e.type)).toEqual(["schema_definition", "log", "log", "log"])
    all.length = 0
    expect(await response.allEvents()).toHaveLength(4)
    expect(await new WorkflowResponse(events(1)).outputSchema()).toBeUndefined()
  })

  it("ends the stream with a workflow_error and rejects response() when the source fails", async () => {
    const response = new WorkflowResponse(events(2, { fail: true }))
    const [one, two] = await Promise.all([collect(response.stream()), collect(response.stream())])
    expect(one.map((e) => e.type)).toEqual(["log", "log", "workflow_error"])
    expect(one.at(-1)).toMatchObject({ error: { name: "Error", message: "source failed" } })
    expect(two).toEqual(one)
    await expect(response.response()).rejects.toThrow("source failed")
    await expect(response.outputSchema()).rejects.toThrow("source failed")
  })
})
