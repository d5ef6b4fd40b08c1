/**
 * The URL a provider signed, for schemes that sign the URL they called
 * (Twilio, Square, `{url}` templates).
 */

/**
 * The one rule for the URL a provider signed (ingest builds the request's
 * from it; a verifier given a configured URL applies it again, to the same
 * result): a configured URL wins over the one rebuilt from the request; when
 * it has no query but the request does (Twilio appends `bodySHA256`, a
 * Square subscription may carry one), the request's query is kept: the
 * provider signed the URL it called, query included.
 *
 * @example signedUrl("https://x.example/in/sq", "http://127.0.0.1/in/sq?env=live") // "https://x.example/in/sq?env=live"
 */
export function signedUrl(configured: string | undefined, requested: string): string {
  if (configured === undefined) return requested;
  const q = requested.indexOf("?");
  return !configured.includes("?") && q !== -1 ? configured + requested.slice(q) : configured;
}

/**
 * The URL and, when they differ, the URL with its query's `%27` read back as
 * `'`. Bun's request URL is WHATWG-normalised, which percent-encodes an
 * apostrophe in a query; a provider that sent one raw signed it raw.
 *
 * @example urlAsSent("https://x/in/t?n=O%27Neil") // ["https://x/in/t?n=O%27Neil", "https://x/in/t?n=O'Neil"]
 */
export function urlAsSent(url: string): string[] {
  const q = url.indexOf("?");
  if (q === -1 || !url.includes("%27", q)) return [url];
  return [url, url.slice(0, q) + url.slice(q).replaceAll("%27", "'")];
}
