// Live progress of a job: polls its progress.json every two seconds and redraws the panel;
// reloads the page when the job's state changes (it starts, or ends: the page then shows
// where it ended). Without
// JavaScript the page refreshes itself (a <noscript> meta refresh) and shows the same.
(function () {
  "use strict";
  const job = document.getElementById("job");
  if (!job || job.dataset.ended === "yes") return;
  const url = job.dataset.poll;

  function text(id, value) {
    const el = document.getElementById(id);
    if (el) el.textContent = value;
  }

  function draw(view) {
    text("job-status", view.status);
    const status = document.getElementById("job-status");
    if (status) status.className = "status " + view.status;
    const p = view.progress;
    if (!p) return;
    document.getElementById("progress").hidden = false;
    const list = document.getElementById("stages");
    list.replaceChildren(...p.stages.map(function (name) {
      const li = document.createElement("li");
      li.textContent = name;
      if (p.finished_stages.includes(name)) li.className = "done";
      else if (name === p.stage) li.className = "now";
      return li;
    }));
    // a bar is shown while it runs (the file keeps the last one until the next starts)
    const step = p.step && p.step.done < p.step.total ? p.step : null;
    document.getElementById("step").hidden = !step;
    if (step) {
      const bar = document.getElementById("step-bar");
      text("step-text", step.description + ": " + step.done + " / " + step.total);
      bar.max = Math.max(step.total, 1);
      bar.value = step.done;
    }
    const facts = ["elapsed " + Math.round(p.elapsed_s) + " s"];
    if (step && step.eta_s !== null) facts.push("about " + Math.round(step.eta_s) + " s left in this step");
    if (p.candidates) facts.push(p.candidates + " candidate configurations");
    if (p.energy_kwh !== null) facts.push("energy so far " + p.energy_kwh.toPrecision(3) + " kWh");
    text("progress-facts", facts.join(" · "));
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (view) {
        if (!view) return;
        // a new state (queued → running, or ended): the server renders its page again
        if (view.ended_state || view.status !== job.dataset.status) { window.location.reload(); return; }
        draw(view);
      })
      .catch(function () { /* the next poll tries again */ })
      .finally(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 1000);
})();
