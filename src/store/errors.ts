/** The one error class for failed infrastructure (STYLE.md): a code and a cause. */
export type StoreErrorCode = "unavailable" | "full" | "busy" | "readonly" | "corrupt" | "invalid";

export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Maps a driver error to a StoreError with a code the HTTP layer can act on. */
export function classifyStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const text = `${(err as { code?: string })?.code ?? ""} ${(err as Error)?.message ?? err}`;
  if (/SQLITE_FULL|database or disk is full/i.test(text)) return new StoreError("full", "store is full", { cause: err });
  if (/SQLITE_BUSY|SQLITE_LOCKED|database is locked/i.test(text)) return new StoreError("busy", "store is locked", { cause: err });
  if (/SQLITE_READONLY|readonly|read-only/i.test(text)) return new StoreError("readonly", "store is read-only", { cause: err });
  if (/SQLITE_CORRUPT|SQLITE_NOTADB|malformed|not a database/i.test(text))
    return new StoreError("corrupt", "store file is corrupt or not a database", { cause: err });
  return new StoreError("unavailable", "store cannot be written", { cause: err });
}
