import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Tests wait on conditions (a line, an exit, a status); these limits only stop a hung test. Process-level
    // tests start Node with tsx, which on a busy 2-core machine can take most of a minute.
    testTimeout: 120_000,
    hookTimeout: 120_000
  }
})
