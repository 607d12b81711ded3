// An allocation job's progress, kept up to date without reloading the page (WCAG 2.2.1: no timed refresh).
// Without JavaScript the page works as it is: its "Check progress" link shows how far the job has got.
// With it, the job is asked for (GET /v1/allocations/{id}, with the session's cookie) every 2 seconds; the bar and
// the words beside it follow, and once the job has ended the page is loaded again to show how it ended.
const panel = document.getElementById("progress-panel");
const WAITING = ["queued", "running"];

if (panel && panel.dataset.job) {
  const bar = document.getElementById("progress");
  const percent = document.getElementById("progress-percent");
  const stage = document.getElementById("progress-stage");
  const where = `/v1/allocations/${encodeURIComponent(panel.dataset.job)}`;

  const poll = async () => {
    let job;
    try {
      const response = await fetch(where, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) {
        return; // signed out, or the job has gone: the page's own link still works
      }
      job = await response.json();
    } catch {
      return; // offline: the same
    }
    if (!WAITING.includes(job.status)) {
      window.location.reload();
      return;
    }
    bar.value = job.progress;
    bar.textContent = `${job.progress}%`;
    percent.textContent = `${job.progress}%`;
    if (stage) {
      stage.textContent = job.status === "queued" ? "waiting for a free worker" : job.stage;
    }
    window.setTimeout(poll, 2000);
  };
  window.setTimeout(poll, 2000);
}
