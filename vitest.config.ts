import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: forks keep native addons and worker threads isolated per file.
    pool: "forks",
    setupFiles: ["test/setup/fast-check-seed.ts"],
  },
});
