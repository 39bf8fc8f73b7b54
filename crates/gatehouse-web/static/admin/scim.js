// SCIM section of the admin panel: Copy for the Base URL; Generate SCIM Key (and
// Regenerate, confirmed first) through POST /api/admin/scim-key, the new key shown once in
// the shared secret panel; the group roles (group-to-role mappings) edited as a list (Add
// group, Remove, Save group roles with PUT /api/admin/scim/role-mappings, blank and repeated groups
// said at their row before sending); and Refresh for the recent operations. The regions
// are re-rendered from the server after each change, so the handlers are delegated.
// Shared pieces come from window.Gatehouse.
"use strict";

(() => {
  const G = window.Gatehouse;
  const panel = document.getElementById("section-panel");
  const regenerateDialog = document.getElementById("scim-regenerate-dialog");
  const el = (id) => document.getElementById(id);
  // The regions a refresh may replace while the mappings are being edited.
  const OUTSIDE_MAPPINGS = ["scim-key", "scim-recent"];

  // ---------------------------------------------------------------- Base URL
  async function copyBaseUrl() {
    const url = el("scim-base-url");
    const status = el("scim-base-url-status");
    status.textContent = "";
    if (await G.copy(url.textContent.trim())) {
      status.textContent = "Copied to the clipboard";
      clearTimeout(status.timer);
      status.timer = setTimeout(() => { status.textContent = ""; }, 4000);
    } else {
      // Selected, for copying by hand.
      const range = document.createRange();
      range.selectNodeContents(url);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      status.textContent = "Copy failed: the Base URL is selected, copy it by hand";
    }
  }

  // ---------------------------------------------------------------- SCIM Key
  async function generate(button, replace) {
    if (replace && !(await G.ask(regenerateDialog))) return;
    const res = await G.busy(button, () => G.api("POST", "/api/admin/scim-key"));
    if (res.leaving || res.cancelled) return;
    if (res.status !== 201 || !res.data || !res.data.key) {
      G.toast(G.sentence(G.message(res.data, res.status), "That"), "error");
      return;
    }
    // The status is refreshed underneath while the key shows (mappings being edited stay).
    G.refresh(null, { only: OUTSIDE_MAPPINGS });
    const shown = G.revealSecret({
      title: `Your new ${res.data.type_label}`,
      label: res.data.type_label,
      value: res.data.key,
      expiresAt: res.data.expires_at,
      usage: "scim-key-usage",
    });
    G.toast(replace ? "SCIM Key regenerated: the old one stopped working at once" : "SCIM Key created");
    await shown;
    el("scim-key-regenerate")?.focus();
  }

  // ---------------------------------------------------------------- mappings
  const rows = () => Array.from(el("scim-mapping-rows")?.querySelectorAll("li.mapping-row") ?? []);

  // Numbers the rows' ids (labels and error lines follow), names each Remove after its
  // group, and shows the empty line when no row is left.
  function sync() {
    rows().forEach((row, i) => {
      const n = i + 1;
      const group = row.querySelector("input[name=group]");
      const role = row.querySelector("select[name=role]");
      group.id = `scim-map-group-${n}`;
      role.id = `scim-map-role-${n}`;
      const [gl, rl] = row.querySelectorAll("label");
      gl.htmlFor = group.id;
      rl.htmlFor = role.id;
      const error = row.querySelector(".mapping-error");
      error.id = `scim-map-error-${n}`;
      group.setAttribute("aria-describedby", error.id);
      const name = group.value.trim();
      row.querySelector(".mapping-remove").setAttribute("aria-label", `Remove the mapping of ${name || "this group"}`);
    });
    const empty = rows().length === 0;
    el("scim-mappings-empty").hidden = !empty;
    panel.querySelector(".mapping-head").hidden = empty;
    // Save shows once there is something to save: a row, or a saved list to clear.
    const actions = el("scim-mappings-actions");
    if (actions) actions.hidden = empty && el("scim-mappings-form").dataset.saved === "0";
  }

  function addRow() {
    const form = el("scim-mappings-form");
    if (rows().length >= Number(form.dataset.max)) {
      G.fieldError(form, null, `You can map at most ${form.dataset.max} groups. Remove one first.`, el("scim-mappings-error"));
      return;
    }
    const row = el("scim-mapping-new").content.firstElementChild.cloneNode(true);
    el("scim-mapping-rows").appendChild(row);
    sync();
    row.querySelector("input[name=group]").focus();
  }

  function removeRow(row) {
    const list = rows();
    const i = list.indexOf(row);
    row.remove();
    sync();
    // The focus goes to the row that took its place, else the one before, else Save (to
    // clear the list) or Add.
    const left = rows();
    const next = left[Math.min(i, left.length - 1)];
    const save = el("scim-mappings-save");
    (next ? next.querySelector("input[name=group]") : save?.checkVisibility() ? save : el("scim-mapping-add"))?.focus();
  }

  // Marks one row's group field with `text`.
  function rowError(row, text) {
    const input = row.querySelector("input[name=group]");
    input.setAttribute("aria-invalid", "true");
    row.querySelector(".mapping-error").textContent = text;
  }

  // Blank and repeated groups, said at their rows (the server would refuse the whole list
  // with one sentence). Returns the first row at fault, or null.
  function check() {
    const seen = new Map();
    let first = null;
    for (const row of rows()) {
      const name = row.querySelector("input[name=group]").value.trim();
      const key = name.toLowerCase();
      let text = null;
      if (!name) text = "Enter the group's name as your identity provider sends it, or remove this row.";
      else if (seen.has(key)) text = `"${seen.get(key)}" is mapped above already: a group gets one role.`;
      else seen.set(key, name);
      if (text) {
        rowError(row, text);
        first ??= row;
      }
    }
    return first;
  }

  // The server's refusal: at the row it names ("the group \"x\" is mapped twice"), else
  // under the list.
  function serverError(form, res) {
    const text = G.sentence(G.message(res.data, res.status), "The mapping");
    const named = /"([^"]+)"/.exec(text);
    const row = named && rows().reverse().find((r) => r.querySelector("input[name=group]").value.trim().toLowerCase() === named[1].toLowerCase());
    if (row) {
      rowError(row, text);
      row.querySelector("input[name=group]").focus();
    } else {
      G.fieldError(form, null, text, el("scim-mappings-error"));
      el("scim-mappings-save")?.focus();
    }
  }

  async function save(form) {
    G.clearErrors(form);
    const bad = check();
    if (bad) {
      bad.querySelector("input[name=group]").focus();
      el("scim-mappings-error").textContent = "Nothing was saved: fix the marked groups first.";
      return;
    }
    const role_mappings = rows().map((row) => ({
      group: row.querySelector("input[name=group]").value.trim(),
      role: row.querySelector("select[name=role]").value,
    }));
    const res = await G.busy(el("scim-mappings-save"), () => G.api("PUT", "/api/admin/scim/role-mappings", { role_mappings }));
    if (res.leaving || res.cancelled) return;
    if (res.status !== 200) return serverError(form, res);
    const n = res.data.role_mappings.length;
    G.toast(n ? `Group roles saved: ${n} ${n === 1 ? "group" : "groups"} mapped, applied to every member SCIM manages` : "Group roles cleared: SCIM leaves roles as they are");
    // The list as the server keeps it, and the role changes it made, in the recent operations.
    await G.refresh("#scim-mappings-save");
  }

  // ---------------------------------------------------------------- events
  panel.addEventListener("click", (ev) => {
    const btn = ev.target.closest("button");
    if (!btn) return;
    if (btn.id === "scim-base-url-copy") return copyBaseUrl();
    if (btn.id === "scim-key-generate") return generate(btn, false);
    if (btn.id === "scim-key-regenerate") return generate(btn, true);
    if (btn.id === "scim-mapping-add") return addRow();
    if (btn.classList.contains("mapping-remove")) return removeRow(btn.closest("li.mapping-row"));
    if (btn.id === "scim-recent-refresh") return G.busy(btn, () => G.refresh("#scim-recent-refresh", { only: OUTSIDE_MAPPINGS }));
  });

  panel.addEventListener("input", (ev) => {
    const input = ev.target.closest("li.mapping-row input[name=group]");
    if (!input) return;
    // A fixed field loses its mark at once; the Remove button follows its name.
    const row = input.closest("li.mapping-row");
    if (input.getAttribute("aria-invalid")) {
      input.removeAttribute("aria-invalid");
      row.querySelector(".mapping-error").textContent = "";
    }
    row.querySelector(".mapping-remove").setAttribute("aria-label", `Remove the mapping of ${input.value.trim() || "this group"}`);
  });

  panel.addEventListener("submit", (ev) => {
    const form = ev.target.closest("#scim-mappings-form");
    if (!form) return;
    ev.preventDefault();
    save(form);
  });
})();
