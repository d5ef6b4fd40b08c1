// hookrelay admin UI: copy buttons, served from /assets/copy.js (CSP: script-src 'self', no inline script).
// A button with data-copy="<id>" copies that element's text. It is hidden until this script runs;
// the text itself is always on the page, so without a script or a clipboard it is selected instead.
for (const button of document.querySelectorAll("button[data-copy]")) {
  const source = document.getElementById(button.getAttribute("data-copy"));
  if (!source) continue;
  const status = button.parentElement.querySelector(".copy-status");
  const say = (text) => {
    if (status) status.textContent = text;
  };
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(source.textContent);
      say("Copied.");
    } catch {
      // No clipboard (plain http from another host, or refused): show the text selected.
      const details = source.closest("details");
      if (details) details.open = true;
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      say("Selected: press Ctrl+C (⌘C on a Mac) to copy.");
    }
  });
}
