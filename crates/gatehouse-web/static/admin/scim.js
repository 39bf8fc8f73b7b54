// SCIM section of the admin panel: Copy for the Base URL; Generate SCIM Key (and
// Regenerate, confirmed first) through POST /api/admin/scim-key, the new key shown once in
// the shared secret panel; the group roles (group-to-role mappings) edited as a list (Add
// group, Remove, Save group roles with PUT /api/admin/scim/role-mappings, blank and repeated groups
// said at their row before sending), the rows an admin may not change (mapped to Owner,
// marked data-locked) sent back as they are, and a quiet hint at a row whose group is none
// of the organisation's SCIM groups (the #scim-groups suggestions); and Refresh for the
// recent operations. The regions are re-rendered from the server after each change, so the
// handlers are delegated.
// Shared pieces come from window.Gatehouse.
"use strict";

(() => {
  const G = window.Gatehouse;
  const panel = document.getElementById("section-panel");
  const regenerateDialog = document.getElementById("scim-regenerate-dialog");
  const el = (id) => document.getElementById(id);
  // The regions a refresh may replace while the mappings are being edited (the group
  // suggestions among them: the rows' hints follow, see refreshOutside).
  const OUTSIDE_MAPPINGS = ["scim-key", "scim-recent", "scim-groups"];

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
    const refreshed = refreshOutside(null);
    const shown = G.revealSecret({
      title: `Your new ${res.data.type_label}`,
      label: res.data.type_label,
      value: res.data.key,
      expiresAt: res.data.expires_at,
      usage: "scim-key-usage",
    });
    G.toast(replace ? "SCIM Key regenerated: the old one stopped working at once" : "SCIM Key created");
    await shown;
    // The refresh may replace the button; the focus goes to the one that stays.
    await refreshed;
    el("scim-key-regenerate")?.focus();
  }

  // ---------------------------------------------------------------- mappings
  // Everything but the mappings being edited, then their hints against the groups now
  // provisioned.
  async function refreshOutside(focusSelector) {
    const done = await G.refresh(focusSelector, { only: OUTSIDE_MAPPINGS });
    if (done) for (const row of rows()) hint(row, false);
    return done;
  }

  const rows = () => Array.from(el("scim-mapping-rows")?.querySelectorAll("li.mapping-row") ?? []);
  const groupName = (row) => row.querySelector("input[name=group]").value.trim();

  // Whether no SCIM group has `name` (in any case). Nothing is said of a blank name, nor
  // when the suggestions are not every group there is.
  function unknownGroup(name) {
    const list = el("scim-groups");
    if (!name || !list || list.dataset.complete !== "true") return false;
    const key = name.toLowerCase();
    return !Array.from(list.options).some((o) => o.value.trim().toLowerCase() === key);
  }

  // The field's description: the locked note, the hint while it shows, and the error line.
  function describe(row) {
    const ids = [row.querySelector(".mapping-note"), row.querySelector(".mapping-hint"), row.querySelector(".mapping-error")]
      .filter((p) => p && !p.hidden)
      .map((p) => p.id);
    row.querySelector("input[name=group]").setAttribute("aria-describedby", ids.join(" "));
  }

  // Shows or hides the row's hint; `onlyHide` while typing, so a half-typed name is not
  // flagged (hintLater brings it back, if it should).
  function hint(row, onlyHide) {
    const line = row.querySelector(".mapping-hint");
    const show = unknownGroup(groupName(row));
    if (line.hidden === !show || (onlyHide && show)) return;
    line.hidden = !show;
    describe(row);
  }

  // The hint, once typing pauses or the field is left — but never while a pointer is
  // down: leaving the field by pressing Add or Save, a line appearing would move the
  // button from under the pointer and the click would be lost.
  let pressed = false;
  document.addEventListener("pointerdown", () => { pressed = true; }, true);
  for (const type of ["pointerup", "pointercancel"]) {
    // After the click that follows.
    document.addEventListener(type, () => setTimeout(() => { pressed = false; }), true);
  }
  const hintTimers = new WeakMap();
  function hintLater(row, ms) {
    clearTimeout(hintTimers.get(row));
    const run = () => {
      if (pressed) hintTimers.set(row, setTimeout(run, 100));
      else if (row.isConnected) hint(row, false);
    };
    hintTimers.set(row, setTimeout(run, ms));
  }

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
      for (const [cls, prefix] of [[".mapping-note", "note"], [".mapping-hint", "hint"], [".mapping-error", "error"]]) {
        const line = row.querySelector(cls);
        if (line) line.id = `scim-map-${prefix}-${n}`;
      }
      describe(row);
      row.querySelector(".mapping-remove")?.setAttribute("aria-label", `Remove the mapping of ${groupName(row) || "this group"}`);
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
  // with one sentence). A locked row is never the one at fault: it cannot be changed, so a
  // row repeating its group is, wherever it stands. Returns the first row at fault, or null.
  function check() {
    const list = rows();
    const seen = new Map();
    for (const row of list) if (row.hasAttribute("data-locked")) seen.set(groupName(row).toLowerCase(), row);
    let first = null;
    for (const row of list) {
      if (row.hasAttribute("data-locked")) continue;
      const name = groupName(row);
      const key = name.toLowerCase();
      const other = seen.get(key);
      let text = null;
      if (!name) text = "Enter the group's name as your identity provider sends it, or remove this row.";
      else if (other) {
        const where = list.indexOf(other) < list.indexOf(row) ? "above" : "below";
        text = `"${groupName(other)}" is mapped ${where} already: a group gets one role.`;
      } else seen.set(key, row);
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
    const row = named && rows().reverse().find((r) => !r.hasAttribute("data-locked") && groupName(r).toLowerCase() === named[1].toLowerCase());
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
    for (const row of rows()) hint(row, false);
    const bad = check();
    if (bad) {
      bad.querySelector("input[name=group]").focus();
      el("scim-mappings-error").textContent = "Nothing was saved: fix the marked groups first.";
      return;
    }
    // Every row, the locked ones too (read-only, so as the server keeps them): the list
    // replaces the stored one.
    const role_mappings = rows().map((row) => ({
      group: groupName(row),
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
    if (btn.id === "scim-recent-refresh") return G.busy(btn, () => refreshOutside("#scim-recent-refresh"));
  });

  panel.addEventListener("input", (ev) => {
    // The sentence under the list was about the list as it was sent.
    if (ev.target.closest("#scim-mappings-form")) el("scim-mappings-error").textContent = "";
    const input = ev.target.closest("li.mapping-row input[name=group]");
    if (!input) return;
    // A fixed field loses its mark at once, and its hint once the name is a group's; the
    // Remove button follows its name.
    const row = input.closest("li.mapping-row");
    if (input.getAttribute("aria-invalid")) {
      input.removeAttribute("aria-invalid");
      row.querySelector(".mapping-error").textContent = "";
    }
    hint(row, true);
    hintLater(row, 800);
    row.querySelector(".mapping-remove")?.setAttribute("aria-label", `Remove the mapping of ${groupName(row) || "this group"}`);
  });

  // The name is settled when the field is left: hint then.
  panel.addEventListener("change", (ev) => {
    const input = ev.target.closest("li.mapping-row input[name=group]");
    if (input) hintLater(input.closest("li.mapping-row"), 0);
  });

  panel.addEventListener("submit", (ev) => {
    const form = ev.target.closest("#scim-mappings-form");
    if (!form) return;
    ev.preventDefault();
    save(form);
  });
})();
