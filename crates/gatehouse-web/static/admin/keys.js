// Keys section of the admin panel, as the platform documentation describes it: Create Key
// (choose Public API Key, the Team Computer Key or the SCIM Key, Next, then its step:
// name and Permissions, then Generate Key), Duplicate Key (the same form as a draft),
// Disable Key / Enable Key, Delete Key (organisation keys once disabled, then a
// confirmation), and Regenerate for the SCIM Key. Every new secret is shown once in the
// shared panel. Shared pieces come from window.Gatehouse.
"use strict";

(() => {
  const G = window.Gatehouse;
  const panel = document.getElementById("section-panel");
  const dialog = document.getElementById("create-key-dialog");
  const title = document.getElementById("create-key-dialog-title");
  const typeForm = document.getElementById("create-key-type-form");
  const publicForm = document.getElementById("public-key-form");
  const sole = document.getElementById("sole-key-step");
  const soleError = document.getElementById("sole-key-error");
  const soleBack = document.getElementById("sole-key-back");
  const soleGenerate = document.getElementById("sole-key-generate");
  const deleteDialog = document.getElementById("delete-org-key-dialog");
  const LABELS = { public: "Public API Key", team_computer: "Team Computer Key", scim: "SCIM Key" };
  const USAGE = { public: "public-key-usage", team_computer: "team-computer-key-usage", scim: "scim-key-usage" };

  // What the open dialog is doing: { type, draft (the key being duplicated), fromRow
  // (opened from a key's row: Back closes instead of returning to the choice) }.
  let flow = null;

  // The list says whether the one-per-organisation keys exist (it is re-rendered after
  // every change, so this is read when asked).
  const exists = (type) => {
    const list = document.getElementById("org-keys-list");
    return list?.dataset[type === "scim" ? "scimKey" : "teamComputerKey"] === "true";
  };

  // Shows one step of the dialog and focuses its first field (the step's caller focuses
  // a step without one).
  function showStep(step) {
    for (const el of dialog.querySelectorAll("[data-step]")) el.hidden = el.dataset.step !== step;
    const first = step === "type"
      ? typeForm.querySelector("input[name=type]:checked")
      : dialog.querySelector(`[data-step="${step}"] input:not([type=hidden]):not(:disabled)`);
    first?.focus();
  }

  function openChoice() {
    flow = { type: null, draft: null, fromRow: false };
    typeForm.reset();
    title.textContent = "Create Key";
    if (!dialog.open) dialog.showModal();
    showStep("type");
  }

  // ---------------------------------------------------------------- Public API Key
  const boxes = () => Array.from(publicForm?.querySelectorAll('input[name="permission"]') ?? []);
  // "Copy of …", within the 64 characters a name may have.
  const copyName = (name) => "Copy of " + Array.from(name).slice(0, 56).join("");

  function openPublic(draft, fromRow) {
    flow = { type: "public", draft, fromRow };
    publicForm.reset();
    G.clearErrors(publicForm);
    title.textContent = draft ? "Duplicate Key" : "Create Public API Key";
    const note = document.getElementById("public-key-draft-note");
    note.hidden = !draft;
    if (draft) note.querySelector('[data-slot="name"]').textContent = draft.name;
    const name = document.getElementById("public-key-name");
    name.value = draft ? copyName(draft.name) : "";
    const exp = document.getElementById("public-key-expiration");
    if (draft && exp.tagName === "SELECT" && Array.from(exp.options).some((o) => o.value === draft.expiration)) exp.value = draft.expiration;
    for (const b of boxes()) b.checked = !b.disabled && !!draft && draft.permissions.includes(b.value);
    document.getElementById("public-key-back").textContent = fromRow ? "Cancel" : "Back";
    if (!dialog.open) dialog.showModal();
    showStep("public");
    if (draft) name.select();
  }

  publicForm?.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    G.clearErrors(publicForm);
    const nameField = document.getElementById("public-key-name");
    const name = nameField.value.trim();
    const permissions = boxes().filter((b) => b.checked).map((b) => b.value);
    const exp = document.getElementById("public-key-expiration").value;
    if (!name) return G.fieldError(publicForm, nameField, "Give the key a name.");
    if (!permissions.length) return G.fieldError(publicForm, boxes().find((b) => !b.disabled), "Choose at least one permission.");
    const body = { name, permissions, expires_in_days: exp === "none" ? null : Number(exp) };
    const draft = flow && flow.draft;
    const res = await G.busy(document.getElementById("public-key-generate"), () => draft
      ? G.api("POST", `/api/admin/keys/${encodeURIComponent(draft.id)}/duplicate`, body)
      : G.api("POST", "/api/admin/keys", { type: "public", ...body }));
    if (res.leaving || res.cancelled) return;
    if (res.status !== 201 || !res.data || !res.data.key) {
      const field = res.data && res.data.field;
      const subject = field === "name" || res.status === 409 ? "The name" : "The key";
      G.fieldError(publicForm, subject === "The name" ? nameField : null, G.sentence(G.message(res.data, res.status), subject));
      return;
    }
    await reveal(res.data, draft ? `Public API Key ${res.data.name} created from ${draft.name}` : `Public API Key ${res.data.name} created`);
  });

  document.getElementById("public-key-back")?.addEventListener("click", () => (flow?.fromRow ? dialog.close() : openChoice()));

  // ---------------------------------------------------------------- Team Computer Key, SCIM Key
  function openSole(type, fromRow) {
    const replace = type === "scim" && exists("scim");
    flow = { type, draft: null, fromRow, replace };
    soleError.textContent = "";
    const blocked = type === "team_computer" && exists("team_computer");
    const variant = type + (replace || blocked ? "-exists" : "");
    for (const el of sole.querySelectorAll("[data-sole]")) el.hidden = el.dataset.sole !== variant;
    title.textContent = replace ? "Regenerate SCIM Key" : `Create ${LABELS[type]}`;
    soleGenerate.hidden = blocked;
    soleGenerate.textContent = replace ? "Regenerate" : "Generate Key";
    soleGenerate.className = replace ? "danger" : "primary";
    soleBack.textContent = fromRow ? "Cancel" : "Back";
    if (!dialog.open) dialog.showModal();
    showStep("sole");
    // Replacing a live key or being refused: the safe button has the focus.
    (replace || blocked ? soleBack : soleGenerate).focus();
  }

  soleBack.addEventListener("click", () => (flow?.fromRow ? dialog.close() : openChoice()));

  soleGenerate.addEventListener("click", async () => {
    const type = flow && flow.type;
    if (type !== "team_computer" && type !== "scim") return;
    const replace = flow.replace;
    soleError.textContent = "";
    const route = type === "scim" ? "/api/admin/scim-key" : "/api/admin/team-computer-key";
    const res = await G.busy(soleGenerate, () => G.api("POST", route));
    if (res.leaving || res.cancelled) return;
    if (res.status !== 201 || !res.data || !res.data.key) {
      // 409: one exists after all (made in another tab): the server says what to do.
      soleError.textContent = G.sentence(G.message(res.data, res.status), "That");
      return;
    }
    const message = type !== "scim" ? "Team Computer Key created"
      : replace ? "SCIM Key regenerated: the old one stopped working at once" : "SCIM Key created";
    await reveal(res.data, message);
  });

  typeForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const type = typeForm.querySelector("input[name=type]:checked")?.value;
    if (type === "public" && publicForm) openPublic(null, false);
    else if (type === "team_computer" || type === "scim") openSole(type, false);
  });

  // The new secret, once: the list is refreshed underneath while it shows.
  async function reveal(created, message) {
    dialog.close();
    G.refresh();
    const shown = G.revealSecret({
      title: `Your new ${created.type_label}`,
      label: created.type_label,
      value: created.key,
      expiresAt: created.expires_at,
      usage: USAGE[created.type],
    });
    G.toast(message);
    await shown;
  }

  document.getElementById("create-key-open").addEventListener("click", (ev) => {
    // The shared [data-open] handler opens the dialog; this puts it at its first step.
    ev.stopPropagation();
    openChoice();
  });
  dialog.addEventListener("close", () => { flow = null; });

  // ---------------------------------------------------------------- a key's row
  const keyPath = (row, action) => `/api/admin/keys/${encodeURIComponent(row.dataset.keyId)}${action ? "/" + action : ""}`;
  // "Public API Key deploy-bot"; the one-per-organisation keys are named after their type.
  const what = (row) => (row.dataset.keyName === row.dataset.typeLabel
    ? row.dataset.typeLabel
    : `${row.dataset.typeLabel} ${row.dataset.keyName}`);

  async function setEnabled(row, enable) {
    const res = await G.api("POST", keyPath(row, enable ? "enable" : "disable"));
    if (res.leaving || res.cancelled) return;
    if (res.status !== 200) {
      G.toast(G.sentence(G.message(res.data, res.status), "That"), "error");
      return;
    }
    G.toast(enable
      ? `${what(row)} enabled: it works again`
      : `${what(row)} disabled: it stopped working at once. Enable it again at any time.`);
    const other = enable ? "key-disable" : "key-enable";
    await G.refresh(`tr[data-key-id="${CSS.escape(row.dataset.keyId)}"] .${other}`);
  }

  async function remove(row, btn) {
    if (btn.getAttribute("aria-disabled") === "true") {
      G.toast(btn.dataset.why, "info");
      return;
    }
    if (!(await G.ask(deleteDialog, { what: what(row) }))) return;
    const res = await G.api("DELETE", keyPath(row));
    if (res.leaving || res.cancelled) return;
    if (res.status === 204 || res.status === 404) {
      // 404: deleted already (in another tab, say); either way it is gone.
      G.toast(`${what(row)} deleted`);
      await G.refresh();
    } else {
      // 409: still enabled after all (enabled again elsewhere): the server says why.
      G.toast(G.sentence(G.message(res.data, res.status), "That"), "error");
      await G.refresh();
    }
  }

  panel.addEventListener("click", (ev) => {
    const btn = ev.target.closest("button");
    const row = btn && btn.closest("tr[data-key-id]");
    if (!row) return;
    if (btn.classList.contains("key-disable")) return setEnabled(row, false);
    if (btn.classList.contains("key-enable")) return setEnabled(row, true);
    if (btn.classList.contains("key-delete")) return remove(row, btn);
    if (btn.classList.contains("key-regenerate")) return openSole("scim", true);
    if (btn.classList.contains("key-duplicate")) {
      return openPublic({
        id: row.dataset.keyId,
        name: row.dataset.keyName,
        permissions: row.dataset.permissions.split(" ").filter(Boolean),
        expiration: row.dataset.expiration,
      }, true);
    }
  });
})();
