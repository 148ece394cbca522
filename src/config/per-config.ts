/** One value per parsed config, made on first use: config is parsed once per isolate, so this is once per isolate. */
import type { Config } from "./env.ts";

/**
 * @example export const redisFor = perConfig((config) => new Redis(...));
 */
export function perConfig<T>(make: (config: Config) => T): (config: Config) => T {
  const made = new WeakMap<Config, T>();
  return (config) => {
    if (!made.has(config)) made.set(config, make(config));
    return made.get(config) as T;
  };
}
