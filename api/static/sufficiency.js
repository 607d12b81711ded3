// A sufficiency run's page while the run waits or runs: follow its progress through the API (the same session's
// cookie) and show it in place; once the run has ended, load the page again to show how it ended.  Without
// JavaScript the page says how far the run had got when it was loaded, and links to itself to check again.
const box = document.querySelector("[data-pm-poll]");
if (box) {
  const where = box.getAttribute("data-pm-poll");
  const bar = box.querySelector("progress");
  const percent = box.querySelector("[data-pm-percent]");
  const stage = box.querySelector("[data-pm-stage]");
  const said = document.getElementById("run-announce");
  let lastStage = stage ? stage.textContent : "";
  const words = (job) => (job.status === "queued" ? "Waiting for a free worker" : job.stage.charAt(0).toUpperCase() + job.stage.slice(1));
  const poll = async () => {
    try {
      const answer = await fetch(where, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!answer.ok) {
        return;
      }
      const job = await answer.json();
      if (job.status !== "queued" && job.status !== "running") {
        if (said) {
          said.textContent = "The run has ended: loading what it found.";
        }
        window.location.reload();
        return;
      }
      if (bar) {
        bar.value = job.progress;
        bar.textContent = `${job.progress}%`;
      }
      if (percent) {
        percent.textContent = `${job.progress}% done.`;
      }
      const now = words(job);
      if (stage && now !== lastStage) {
        stage.textContent = now;
        lastStage = now;
        if (said) {
          said.textContent = now;
        }
      }
    } catch {
      // The service did not answer this time: try again at the next tick.
    }
    window.setTimeout(poll, 2000);
  };
  window.setTimeout(poll, 2000);
}
