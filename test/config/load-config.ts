/**
 * loadConfig as the config tests call it: the environment given, no .env file, paths resolved
 * against `cwd`.
 */
import { expect } from "vitest";
import { loadConfig } from "../../config/schema.ts";
import { ConfigError } from "../../core/errors.ts";

export function configLoaderIn(cwd: string) {
  const load = (env: Record<string, string>) => loadConfig(env, { envFile: null, cwd });
  /** The message of the ConfigError that `env` stops start-up with; fails the test if it loads. */
  const configError = (env: Record<string, string>): string => {
    try {
      load(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error("expected a ConfigError");
  };
  return { load, configError };
}
