/** The UI's static files, embedded in the binary as text and served under /assets/. */
import script from "./app.js" with { type: "text" };
import copyScript from "./copy.js" with { type: "text" };
import live from "./live.js" with { type: "text" };
import style from "./style.css" with { type: "text" };

/** path under /assets/ → body and content type. */
export const ASSETS: Record<string, { body: string; contentType: string }> = {
  "style.css": { body: style, contentType: "text/css; charset=utf-8" },
  "app.js": { body: script, contentType: "text/javascript; charset=utf-8" },
  "copy.js": { body: copyScript, contentType: "text/javascript; charset=utf-8" },
  "live.js": { body: live, contentType: "text/javascript; charset=utf-8" },
};
