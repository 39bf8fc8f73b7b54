// API Keys tab: Add API Key, Duplicate (a draft to review, then Generate Key), disable,
// enable and delete, each confirmed by a toast. Shared pieces come from window.Gatehouse.
"use strict";

(() => {
  const G = window.Gatehouse;
  const panel = document.getElementById("tab-panel");
  const dialog = document.getElementById("api-key-dialog");
  const form = document.getElementById("api-key-form");
  const nameField = document.getElementById("api-key-name");
  const expField = document.getElementById("api-key-expiration");
  const submit = document.getElementById("api-key-create");
  const note = document.getElementById("api-key-draft-note");
  const boxes = () => Array.from(form.querySelectorAll('input[name="permission"]'));
  const defaults = { expiration: expField.value, permissions: boxes().filter((b) => b.checked).map((b) => b.value) };
  // The key being duplicated: { id, name, permissions, expiration }, or null for a new key.
  let draft = null;

  // The server's own default name for a copy: the first 57 characters and " (copy)".
  const copyName = (name) => Array.from(name).slice(0, 57).join("") + " (copy)";
  const sameSet = (a, b) => a.length === b.length && a.every((x) => b.includes(x));

  function openForm(d) {
    draft = d;
    form.reset();
    G.clearErrors(form);
    document.getElementById("api-key-dialog-title").textContent = d ? "Duplicate API key" : "Add API Key";
    submit.textContent = d ? "Generate Key" : "Add Key";
    note.hidden = !d;
    if (d) note.querySelector('[data-slot="name"]').textContent = d.name;
    nameField.value = d ? copyName(d.name) : "";
    const exp = d ? d.expiration : defaults.expiration;
    if (expField.tagName === "SELECT" && Array.from(expField.options).some((o) => o.value === exp)) expField.value = exp;
    const wanted = d ? d.permissions : defaults.permissions;
    for (const b of boxes()) b.checked = wanted.includes(b.value);
    G.open(dialog);
    if (d) nameField.select();
  }

  document.getElementById("api-key-add-open").addEventListener("click", () => openForm(null));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    G.clearErrors(form);
    const name = nameField.value.trim();
    const permissions = boxes().filter((b) => b.checked).map((b) => b.value);
    const exp = expField.value;
    const expires = exp === "none" ? null : Number(exp);
    // A draft with the original's permissions is a duplicate (the API copies them and
    // records the original); changed permissions make a new key with the chosen ones.
    const res = await G.busy(submit, () =>
      draft && sameSet(permissions, draft.permissions)
        ? G.api("POST", "/api/api-keys/" + encodeURIComponent(draft.id) + "/duplicate", { name, expires_in_days: expires })
        : G.api("POST", "/api/api-keys", { name, expires_in_days: expires, permissions }));
    if (res.leaving) return;
    if (res.status !== 201 || !res.data || !res.data.key) {
      const field = res.data && res.data.field;
      G.fieldError(form, field === "name" || res.status === 409 ? nameField : null, G.message(res.data, res.status));
      return;
    }
    dialog.close();
    G.refresh();
    const shown = G.revealSecret({ title: "Your new API key", label: "API key", value: res.data.key });
    G.toast(`API key ${res.data.name} added`);
    await shown;
  });

  const deleteDialog = document.getElementById("delete-key-dialog");

  async function act(row, action, verb) {
    const id = encodeURIComponent(row.dataset.keyId);
    const name = row.dataset.keyName;
    const res = await G.api("POST", `/api/api-keys/${id}/${action}`);
    if (res.leaving) return;
    if (res.status === 200) {
      G.toast(`API key ${name} ${verb}`);
      const other = action === "disable" ? "key-enable" : "key-disable";
      await G.refresh(`tr[data-key-id="${CSS.escape(row.dataset.keyId)}"] .${other}`);
    } else {
      G.toast(G.message(res.data, res.status), "error");
    }
  }

  panel.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button");
    const row = ev.target.closest("tr[data-key-id]");
    if (!btn || !row) return;
    const name = row.dataset.keyName;
    if (btn.classList.contains("key-disable")) return act(row, "disable", "disabled");
    if (btn.classList.contains("key-enable")) return act(row, "enable", "enabled");
    if (btn.classList.contains("key-duplicate")) {
      return openForm({
        id: row.dataset.keyId,
        name,
        permissions: row.dataset.permissions.split(" ").filter(Boolean),
        expiration: row.dataset.expiration,
      });
    }
    if (!btn.classList.contains("key-delete")) return;
    if (btn.getAttribute("aria-disabled") === "true") {
      G.toast(`Disable API key ${name} first: your organisation requires it before deleting.`, "info");
      return;
    }
    if (!(await G.ask(deleteDialog, { name }))) return;
    const res = await G.api("DELETE", "/api/api-keys/" + encodeURIComponent(row.dataset.keyId));
    if (res.leaving) return;
    if (res.status === 204 || res.status === 404) {
      // 404: deleted already (in another tab, say); either way it is gone.
      G.toast(`API key ${name} deleted`);
      await G.refresh();
    } else {
      G.toast(G.message(res.data, res.status), "error");
    }
  });
})();
