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
