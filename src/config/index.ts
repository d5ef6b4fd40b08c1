/** Config: TOML loading, validation, secret refs, durations and sizes. */
export { DEFAULTS, defaultMs } from "./defaults.ts";
export { formatPath, type Path } from "./key-path.ts";
export { isValidSigningSecret, loadConfig, readConfigFile, type LoadOptions, type LoadResult } from "./load.ts";
export { createSchemas, parseListenAddress, NAME_PATTERN, SCHEMES, type RawConfig } from "./schema.ts";
export { resolveSecret, type SecretContext, type SecretResult } from "./secret-ref.ts";
export type * from "./types.ts";
export { parseDurationMs, parseRatePerSec, parseSizeBytes, type UnitResult } from "./units.ts";
