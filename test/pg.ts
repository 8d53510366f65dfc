/**
 * PostgreSQL for tests: the server URL comes from TEST_PG_URL (.ci/run sets
 * it). Each run gets a fresh database, dropped at the end. Without the
 * variable, PostgreSQL tests are skipped with a printed notice.
 */
import pg from "pg"

export const pgUrl = process.env.TEST_PG_URL

if (pgUrl === undefined) {
  console.warn("NOTICE: TEST_PG_URL is not set; the PostgreSQL tests are skipped.")
}

/** Creates a fresh database on the server of TEST_PG_URL and returns its URL and a dropper. */
export const freshDatabase = async (): Promise<{ readonly url: string; readonly drop: () => Promise<void> }> => {
  const name = `workflow_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  const admin = new pg.Client({ connectionString: pgUrl })
  await admin.connect()
  await admin.query(`create database ${name}`)
  await admin.end()
  const url = new URL(pgUrl!)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: pgUrl })
      await client.connect()
      await client.query(`drop database if exists ${name} with (force)`)
      await client.end()
    }
  }
}
