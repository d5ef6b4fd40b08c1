// hookrelay admin UI: the only script, served from /assets/app.js (CSP: script-src 'self').
// Forms that destroy or send something ask first.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.getAttribute("data-confirm") : null;
  if (question && !window.confirm(question)) event.preventDefault();
});
// Times are rendered in UTC by the server; show them in the viewer's zone too.
for (const el of document.querySelectorAll("time[datetime]")) {
  const d = new Date(el.getAttribute("datetime"));
  if (!Number.isNaN(d.getTime())) el.title = d.toLocaleString();
}
// An action's notice comes in the query string (done=…, error=…) of the page it redirected to: once
// shown, it leaves the address, so that a reload or a copied link does not say it again.
{
  const url = new URL(location.href);
  // "until" is also the events list's filter: it belongs to the notice only beside "waits".
  const notice = ["done", "error", "n", "event", "skipped", ...(url.searchParams.has("waits") ? ["waits", "until"] : [])];
  if (url.searchParams.has("done") || url.searchParams.has("error")) {
    for (const k of notice) url.searchParams.delete(k);
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  }
}
