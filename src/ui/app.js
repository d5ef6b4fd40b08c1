// hookrelay admin UI: the only script, served from /assets/app.js (CSP: script-src 'self').
// Forms that destroy or send something ask first.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.getAttribute("data-confirm") : null;
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  // A filter form sends only the fields filled in: the address then reads as the filter it is.
  if (form instanceof HTMLFormElement && form.method === "get") {
    for (const field of form.querySelectorAll("input[name], select[name]")) if (field.value === "") field.disabled = true;
    // Enabled again for the back button's cached page.
    setTimeout(() => form.querySelectorAll("[name]:disabled").forEach((f) => (f.disabled = false)), 0);
  }
});
// Times are rendered in UTC by the server; show them in the viewer's zone too, named.
for (const el of document.querySelectorAll("time[datetime]")) {
  const d = new Date(el.getAttribute("datetime"));
  if (!Number.isNaN(d.getTime())) el.title = d.toLocaleString(undefined, { timeZoneName: "short" });
}
// A page of many cards (targets, sources) narrows to the names holding what is typed in its filter,
// cards the live view draws anew included.
{
  const box = document.querySelector("input[data-filter-cards]");
  const cards = document.querySelector(".cards");
  if (box && cards) {
    const count = document.querySelector("[data-filter-count]");
    const apply = () => {
      const text = box.value.trim().toLowerCase();
      let shown = 0;
      const all = cards.querySelectorAll(":scope > article.card");
      for (const card of all) {
        const name = (card.id || "").replace(/^(target|source)-/, "").toLowerCase();
        card.hidden = text !== "" && !name.includes(text);
        if (!card.hidden) shown++;
      }
      if (count) count.textContent = text === "" ? "" : `${shown} of ${all.length}`;
    };
    box.addEventListener("input", apply);
    new MutationObserver(apply).observe(cards, { childList: true });
  }
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
// A running job's page follows its progress in place: reloading it every second would take the
// focus (and a click on its way) off the Stop button. Once the job has ended, the page is drawn again.
{
  const progress = document.querySelector(".job-progress[data-job]");
  if (progress) {
    const url = `/api/jobs/${encodeURIComponent(progress.getAttribute("data-job"))}`;
    const follow = async () => {
      let job = null;
      try {
        const res = await fetch(url, { headers: { accept: "application/json" } });
        if (res.ok) job = await res.json();
      } catch {
        // The relay restarting: try again in a moment.
      }
      if (job && job.status !== "running") return location.reload();
      if (job) {
        progress.querySelector("progress").value = job.done;
        progress.querySelector("progress").max = Math.max(job.total, 1);
        for (const key of ["done", "total", "affected"]) document.getElementById(`job-${key}`).textContent = String(job[key]);
      }
      setTimeout(follow, job ? 1000 : 3000);
    };
    setTimeout(follow, 1000);
  }
}
