import { expect, test } from "bun:test";
import { html, SafeHtml } from "./html.ts";

test("interpolated text is escaped, markup from html passes through", () => {
  const evil = `<img src=x onerror="alert(1)">'&`;
  const out = html`<p title="${evil}">${evil}${html`<b>ok</b>`}</p>`;
  expect(out).toBeInstanceOf(SafeHtml);
  expect(out.value).toBe(
    `<p title="&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#x27;&amp;">&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#x27;&amp;<b>ok</b></p>`,
  );
});

test("arrays compose and null, undefined and false render nothing", () => {
  expect(html`<ul>${["<a>", html`<li>b</li>`]}${null}${undefined}${false}${0}</ul>`.value).toBe("<ul>&lt;a&gt;<li>b</li>0</ul>");
});

test("a bidirectional-text control in provider text is shown as a visible mark, so the text reads as stored", () => {
  expect(html`<td>${"rtl-\u202Edi_tnemyap"}</td>`.value).toBe("<td>rtl-⟨U+202E⟩di_tnemyap</td>");
  expect(html`<td>${"a\u2066b\u2069c\u200fd"}</td>`.value).toBe("<td>a⟨U+2066⟩b⟨U+2069⟩c⟨U+200F⟩d</td>");
  // Other text, right-to-left scripts included, as it is.
  expect(html`<td>${"שלום café ✓"}</td>`.value).toBe("<td>שלום café ✓</td>");
});
