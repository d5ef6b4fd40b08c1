/** `/login` — the admin token form. */
import { html, type SafeHtml } from "./html.ts";

/**
 * The login form; `next` is the local path to return to (already validated);
 * and why the page is shown: `ended`, a form was sent from a page whose session
 * had ended (not carried out); `signed-out`, the operator just signed out.
 */
export function loginPage(next: string, why: "ended" | "signed-out" | null = null): SafeHtml {
  return html`
<section class="login card">
  <h1>Sign in</h1>
  ${why === "ended" ? html`<p class="notice">Your session had ended, so that action was not carried out. Sign in, then do it again.</p>` : null}
  ${why === "signed-out" ? html`<p class="notice">You have signed out.</p>` : null}
  <form method="post" action="/login">
    <input type="hidden" name="next" value="${next}">
    <label>Admin token<input type="password" name="token" autocomplete="current-password" required autofocus></label>
    <button type="submit">Sign in</button>
  </form>
  <p class="muted">The token is <code>admin.token</code> in the relay's config.</p>
</section>`;
}
