/**
 * The name a stored body is downloaded under: the event's id, and an
 * extension by the type the provider declared, so the file opens in an editor
 * that reads it (the bytes are served as octet-stream all the same, never
 * rendered by the browser). The event page's curl command reads the same name.
 *
 * @example bodyFileName("evt_01", "application/json; charset=utf-8") // "evt_01.json"
 */
export function bodyFileName(eventId: string, contentType: string | null): string {
  const type = contentType?.split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === "application/json" || type.endsWith("+json")) return `${eventId}.json`;
  if (type === "application/xml" || type === "text/xml" || type.endsWith("+xml")) return `${eventId}.xml`;
  if (type === "text/plain" || type === "application/x-www-form-urlencoded") return `${eventId}.txt`;
  return `${eventId}.bin`;
}
