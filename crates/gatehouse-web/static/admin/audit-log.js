// Audit log section of the admin panel. The list, its filters, its pager and the export
// links are plain HTML (the filter bar is app.js's GET form, the exports same-origin GET
// links with the session cookie), so there is little to do here: a From after To is said
// at once, before asking the server, which would refuse it with the same words.
"use strict";

(() => {
  const G = window.Gatehouse;
  const form = document.getElementById("audit-filters");
  const since = document.getElementById("audit-filter-since");
  const until = document.getElementById("audit-filter-until");
  if (!form || !since || !until) return;
  // Runs before app.js's submit handler (registered at DOMContentLoaded, after this).
  form.addEventListener("submit", (ev) => {
    G.clearErrors(form);
    if (since.value && until.value && until.value < since.value) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
      G.fieldError(form, until, "To must be on or after the From date.", document.getElementById("audit-filter-until-error"));
    }
  });
})();
