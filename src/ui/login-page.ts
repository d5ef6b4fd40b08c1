/** `/login` — the admin token form. */
import { html, type SafeHtml } from "./html.ts";

/** The login form; `next` is the local path to return to (already validated). */
export function loginPage(next: string): SafeHtml {
  return html`
<section class="login card">
  <h1>Sign in</h1>
  <form method="post" action="/login">
    <input type="hidden" name="next" value="${next}">
    <label>Admin token<input type="password" name="token" autocomplete="current-password" required autofocus></label>
    <button type="submit">Sign in</button>
  </form>
  <p class="muted">The token is <code>admin.token</code> in the relay's config.</p>
</section>`;
}
