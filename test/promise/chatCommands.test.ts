/**
 * The chat commands as Token Ring's chat calls them: `chatCommands.<name>.
 * execute(remainder, registry)`, with the WorkflowService and a chat service
 * found in the registry. Imported from the built package.
 */
import { chatCommands, ChatService, ExecutionStorage, Registry, Runnable, WorkflowService } from "@token-ring/workflow"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { z } from "zod"

const dir = mkdtempSync(join(tmpdir(), "workflow-chat-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

class RecordingChat extends ChatService {
  readonly lines: Array<string> = []
  override systemLine(line: string) {
    this.lines.push(line)
  }
  override warningLine(line: string) {
    this.lines.push(`warning: ${line}`)
  }
  override errorLine(line: string) {
    this.lines.push(`error: ${line}`)
  }
  text() {
    return this.lines.join("\n")
  }
}

class Shout extends Runnable<{ readonly text: string; readonly times: number }, string> {
  override description = "Shouts a text"
  override inputSchema = z.object({ text: z.string(), times: z.number().int().positive() })
  override parseArgs(args: string) {
    const [times, ...words] = args.split(" ")
    return { text: words.join(" "), times: Number(times) }
  }
  override async *invoke(input: { readonly text: string; readonly times: number }) {
    const loud = `${input.text.toUpperCase()}${"!".repeat(input.times)}`
    yield { type: "output_chunk" as const, data: loud, timestamp: Date.now() }
    return loud
  }
}

class Echo extends Runnable<{ readonly value: unknown }, unknown> {
  override async *invoke(input: { readonly value: unknown }) {
    return input.value
  }
}

const services: Array<WorkflowService> = []
afterEach(async () => {
  await Promise.all(services.splice(0).map((service) => service.stop()))
})

const setup = async (options: ConstructorParameters<typeof WorkflowService>[0] = {}) => {
  const service = new WorkflowService(options)
  services.push(service)
  service.registerWorkflow("shout", new Shout())
  service.registerWorkflow("echo", new Echo())
  const chat = new RecordingChat()
  const registry = new Registry()
  await registry.addPackages({ name: "@token-ring/workflow", services: [service, chat], chatCommands })
  return { service, chat, registry }
}

describe("chatCommands", () => {
  it("each command has a description and help", () => {
    for (const name of ["workflow", "plan", "apply", "analyze"] as const) {
      expect(chatCommands[name].description.length).toBeGreaterThan(10)
      expect(chatCommands[name].help().length).toBeGreaterThan(0)
    }
  })

  it("/workflow run runs a registered Runnable, through its parseArgs or from JSON", async () => {
    const { chat, registry } = await setup()
    const workflow = registry.chatCommands.get("workflow")!
    const parsed = await workflow.execute("run shout 3 hello there", registry)
    expect(parsed).toMatchObject({ _tag: "Run", outcome: { _tag: "Completed", output: "HELLO THERE!!!" } })
    expect(chat.text()).toContain("… HELLO THERE!!!")
    const json = await workflow.execute(`run echo {"value":{"a":[1,2]}}`, registry)
    expect(json).toMatchObject({ outcome: { _tag: "Completed", output: { a: [1, 2] } } })
    const invalid = await workflow.execute("run shout many words", registry)
    expect(invalid).toMatchObject({ _tag: "Rejected" })
    expect(chat.text()).toContain(`error: Invalid input for workflow "shout"`)
  })

  it("/plan prints a real plan (no \"Unknown task\") and keeps it; /apply runs it and resolves", async () => {
    const { chat, registry, service } = await setup()
    const planned = await chatCommands.plan.execute("shout 2 go team, then echo value=7, then write a song", registry)
    expect(planned).toMatchObject({ _tag: "Planned" })
    expect(chat.text()).not.toContain("Unknown task")
    expect(service.planPrompt).toBe("shout 2 go team, then echo value=7, then write a song")
    expect(service.currentPlan.map((task) => task.workflow?.name)).toEqual(["shout", "echo", undefined])
    const applied = await chatCommands.apply.execute("", registry)
    expect(applied).toMatchObject({ _tag: "Run", outcome: { _tag: "Completed" } })
    expect(chat.text()).toContain("Plan done: 2 completed, 1 failed.")
    expect(service.currentPlan).toEqual([])
    expect(await chatCommands.apply.execute("", registry)).toMatchObject({ _tag: "Rejected" })
    expect(chat.lines.at(-2)).toBe("error: No plan to apply: make one with /plan <prompt>")
  })

  it("a plan set from code is applied as a plan-executor execution", async () => {
    const { chat, registry, service } = await setup()
    service.planPrompt = "from code"
    service.currentPlan = [{ intent: "echo it", description: "echo", workflow: { name: "echo", input: { value: 1 } } }]
    const applied = await chatCommands.apply.execute("", registry)
    expect(applied).toMatchObject({ _tag: "Run", outcome: { _tag: "Completed", output: { completed: 1, failed: 0 } } })
    expect(chat.text()).toMatch(/✓ task 1: echo it \(\d+ ms\)/)
  })

  it("a plan waiting in storage survives a restart and /apply runs it there", async () => {
    const filename = join(dir, "plans.db")
    const first = await setup({ storage: ExecutionStorage.layerSqlite({ filename }) })
    await chatCommands.plan.execute("1. echo value=1\n2. echo value=2", first.registry)
    await first.service.stop()
    services.splice(services.indexOf(first.service), 1)

    const second = await setup({ storage: ExecutionStorage.layerSqlite({ filename }) })
    expect(second.service.planPrompt).toBe("1. echo value=1\n2. echo value=2")
    expect(second.service.currentPlan).toHaveLength(2)
    const applied = await chatCommands.apply.execute("", second.registry)
    expect(applied).toMatchObject({ outcome: { _tag: "Completed", output: { completed: 2, failed: 0 } } })
  })

  it("a plan answered another way is not applied again by /apply", async () => {
    const { registry, service } = await setup()
    const planned = await chatCommands.plan.execute("echo value=1", registry)
    const id = (planned as { executionId: string }).executionId
    await chatCommands.workflow.execute(`approve ${id} apply-plan rejected not now`, registry)
    expect(service.currentPlan).toEqual([])
    expect(await chatCommands.apply.execute("", registry)).toMatchObject({ _tag: "Rejected" })
    await chatCommands.plan.execute("echo value=2", registry)
    const second = (await service.executions({ workflow: "task-planner", status: "waiting" })).executions[0]!
    await chatCommands.workflow.execute(`approve ${second.id} apply-plan approved`, registry)
    expect(await chatCommands.apply.execute("", registry)).toMatchObject({ _tag: "Rejected" })
    expect((await service.executions({ workflow: "plan-executor" })).executions).toHaveLength(1)
  })

  it("a Runnable's transforming schema runs once: the generator gets the value as given, parsed", async () => {
    class Length extends Runnable<{ readonly word: number }, number> {
      override inputSchema = z.object({ word: z.string().transform((word) => word.length) })
      override async *invoke(input: { readonly word: number }) {
        return input.word
      }
    }
    const { registry, service } = await setup()
    service.registerWorkflow("length", new Length())
    const handle = await service.startWorkflow<number>("length", { word: "abcd" })
    expect(await handle.result()).toBe(4)
    expect(await chatCommands.workflow.execute(`run length {"word":"abc"}`, registry)).toMatchObject({
      outcome: { _tag: "Completed", output: 3 }
    })
  })

  it("malformed commands print what was wrong and change nothing stored", async () => {
    const { chat, registry, service } = await setup()
    const before = await service.executions()
    for (
      const [name, remainder] of [["workflow", "explode"], ["workflow", "run"], ["workflow", "status nope"]] as const
    ) {
      expect(await chatCommands[name].execute(remainder, registry)).toMatchObject({ _tag: "Rejected" })
    }
    expect(chat.text()).toContain(`error: Unknown action "explode"`)
    expect(chat.text()).toContain("/workflow list")
    expect(await service.executions()).toEqual(before)
  })
})
