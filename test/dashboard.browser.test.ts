/**
 * The dashboard in a real browser (Debian's headless Chromium, driven by
 * playwright-core): a run that waits for an approval appears in the live
 * executions table, is approved from its page and seen completing live;
 * what a workflow emitted is shown as text, never as markup; a server with
 * a token asks for it. A screenshot of the finished run is saved in
 * test-results/. Skipped, with a notice, where Chromium is not installed.
 */
import { Effect } from "effect"
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Browser, Page } from "playwright-core"
import { chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ExecutionStorage, Workflow } from "../src/index.js"
import type { Served } from "./http.js"
import { serve } from "./http.js"

const executablePath = "/usr/bin/chromium"
const available = existsSync(executablePath)
if (!available) console.warn(`NOTICE: ${executablePath} is not installed; the dashboard's browser test is skipped.`)

// Made by the suite, which is skipped where there is no browser: nothing is left behind then.
let dir = ""
const results = join(process.cwd(), "test-results")

const release = Workflow.make({
  name: "release",
  run: (version: string) =>
    Effect.gen(function*() {
      yield* Workflow.step("build", Effect.succeed(`app-${version}`))
      const answer = yield* Workflow.approval({ taskId: "publish", dataForApproval: { version }, message: "Publish?" })
      yield* Workflow.log("info", `answered ${answer.status}: ${answer.feedback ?? ""}`)
      return `${version} ${answer.status}`
    })
})

const hostile = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">`
const noisy = Workflow.make({
  name: "noisy",
  run: () =>
    Effect.gen(function*() {
      yield* Workflow.log("warn", hostile)
      yield* Workflow.step(hostile, Effect.succeed(1))
      return { html: hostile }
    })
})

describe.skipIf(!available)("the dashboard in a browser", () => {
  let browser: Browser
  let served: Served
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "workflow-dashboard-"))
    browser = await chromium.launch({
      executablePath,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    })
    served = await serve(ExecutionStorage.layerSqlite({ filename: join(dir, "dashboard.db") }), [release, noisy])
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await served?.close()
    if (dir !== "") rmSync(dir, { recursive: true, force: true })
  })

  /** A page that fails the test on any script error or refused resource of its own. */
  const open = async (url: string): Promise<{ page: Page; errors: Array<string> }> => {
    const page = await browser.newPage()
    const errors: Array<string> = []
    page.on("pageerror", (error) => errors.push(error.message))
    await page.goto(url)
    return { page, errors }
  }

  it("shows a waiting run live, approves it from its page, and sees it complete", async () => {
    const { page, errors } = await open(served.url)
    // Another run, started elsewhere: the table refreshes on its own and shows it, waiting.
    const other = await Effect.runPromise(served.engine.start(release, "1.0.0"))
    await page.locator(`tr[data-id="${other.id}"] td.status.waiting`).waitFor({ timeout: 30_000 })
    // Started from the page: its own page opens.
    await page.selectOption("#start-workflow", "release")
    await page.fill("#start-input", `"2.0.0"`)
    await page.click("#start")
    await page.locator("#status.waiting").waitFor({ timeout: 30_000 })
    const id = decodeURIComponent(new URL(page.url()).hash.replace("#/executions/", ""))
    const handle = await Effect.runPromise(served.engine.handle(id))
    await page.locator("#timeline li[data-type=human_approval_required]").waitFor()
    await page.fill("#feedback", "ship it")
    await page.click("#approve")
    // Live: the status, the timeline and the output change without a reload.
    await page.locator("#status.completed").waitFor({ timeout: 30_000 })
    await page.locator("#timeline li[data-type=final_output]").waitFor()
    expect(await page.locator("#output").textContent()).toContain("2.0.0 approved")
    expect(await page.locator("#timeline").textContent(), await page.locator("#timeline").textContent() ?? "")
      .toContain("answered approved: ship it")
    expect(await Effect.runPromise(handle.result)).toBe("2.0.0 approved")
    // The stream's end is no event: no row for it, and no failure said.
    await page.waitForFunction(`document.getElementById("connection").textContent === ""`)
    expect(await page.locator("#timeline li:not([data-type])").count()).toBe(0)
    expect(await page.locator("#timeline li[data-type=undefined]").count()).toBe(0)
    expect(await page.locator("#problem").isHidden()).toBe(true)
    mkdirSync(results, { recursive: true })
    await page.screenshot({ path: join(results, "dashboard.png"), fullPage: true })
    expect(errors).toEqual([])
    await page.close()
  }, 120_000)

  it("shows what a workflow emitted as text, never as markup", async () => {
    const handle = await Effect.runPromise(served.engine.start(noisy, null))
    await Effect.runPromise(handle.result)
    const { page, errors } = await open(`${served.url}/#/executions/${encodeURIComponent(handle.id)}`)
    await page.locator("#timeline li[data-type=final_output]").waitFor({ timeout: 30_000 })
    const timeline = await page.locator("#timeline").textContent()
    expect(timeline).toContain(hostile)
    expect(await page.locator("#output").textContent()).toContain("window.__pwned")
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined()
    expect(await page.locator("main img, main script").count()).toBe(0)
    expect(errors).toEqual([])
    await page.close()
  }, 120_000)

  it("asks for the token of a server that has one, and uses it", async () => {
    const guarded = await serve(
      ExecutionStorage.layerSqlite({ filename: join(dir, "guarded.db") }),
      [release],
      { token: "s3cret-token" }
    )
    try {
      const handle = await Effect.runPromise(guarded.engine.start(release, "3.0.0"))
      const { page } = await open(guarded.url)
      await page.locator("#token-input").waitFor({ state: "visible", timeout: 30_000 })
      await page.fill("#token-input", "s3cret-token")
      await page.click("#token-save")
      await page.locator(`tr[data-id="${handle.id}"] td.status.waiting`).waitFor({ timeout: 30_000 })
      await page.close()
    } finally {
      await guarded.close()
    }
  }, 120_000)
})
