import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "core/**/*.test.ts", "bots/**/*.test.ts", "servers/**/*.test.ts", "config/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Tests open loopback servers and sqlite files; two workers match the 2-core machines.
    maxWorkers: 2,
  },
});
