// A job's page while the job waits or runs (an allocation or a sufficiency run): follow its progress through the
// API with the session's cookie and show it in place (WCAG 2.2.1: no timed refresh of the page); once the job has
// ended, load the page again to show how it ended.  Without JavaScript the page says how far the job had got when
// it was loaded, and links to itself to check again.
//
// Markup: an element with data-pm-poll="/v1/.../{id}" holding a <progress>, an element with data-pm-percent
// (its text becomes "40%", followed by data-pm-percent-suffix if given), an element with data-pm-stage (the stage
// in words; "capitalise" as its value capitalises it) and an aria-live element with data-pm-announce.
const box = document.querySelector("[data-pm-poll]");
if (box) {
  const where = box.getAttribute("data-pm-poll");
  const bar = box.querySelector("progress");
  const percent = box.querySelector("[data-pm-percent]");
  const suffix = percent ? percent.getAttribute("data-pm-percent-suffix") || "" : "";
  const stage = box.querySelector("[data-pm-stage]");
  const capitalise = stage && stage.getAttribute("data-pm-stage") === "capitalise";
  const said = box.querySelector("[data-pm-announce]");
  let lastStage = stage ? stage.textContent : "";
  const words = (job) => {
    const text = job.status === "queued" ? "waiting for a free worker" : job.stage;
    return capitalise ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  };
  const poll = async () => {
    try {
      const answer = await fetch(where, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!answer.ok) {
        return; // signed out, or the job has gone: the page's own link still works
      }
      const job = await answer.json();
      if (job.status !== "queued" && job.status !== "running") {
        if (said) {
          said.textContent = "It has ended: loading what it found.";
        }
        window.location.reload();
        return;
      }
      if (bar) {
        bar.value = job.progress;
        bar.textContent = `${job.progress}%`;
      }
      if (percent) {
        percent.textContent = `${job.progress}%${suffix}`;
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
