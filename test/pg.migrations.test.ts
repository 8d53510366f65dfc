/**
 * Processes starting at once on a fresh PostgreSQL database each migrate it:
 * none may fail because another created the same table at the same moment.
 * Runs only with TEST_PG_URL.
 */
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { ExecutionStorage } from "../src/index.js"
import { freshDatabase, pgUrl } from "./pg.js"

describe.skipIf(pgUrl === undefined)("PostgreSQL migrations", () => {
  it("succeed for every storage layer of many built at once on a fresh database", async () => {
    for (let round = 0; round < 5; round++) {
      const database = await freshDatabase()
      try {
        const built = await Effect.runPromise(
          Effect.scoped(Effect.forEach(
            Array.from({ length: 8 }),
            () => Effect.either(Layer.build(ExecutionStorage.layerPg({ url: database.url, maxConnections: 2 }))),
            { concurrency: "unbounded" }
          ))
        )
        expect(built.filter((either) => either._tag === "Left").map((either) => String(either))).toEqual([])
      } finally {
        await database.drop()
      }
    }
  }, 120_000)
})
