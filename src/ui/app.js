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
