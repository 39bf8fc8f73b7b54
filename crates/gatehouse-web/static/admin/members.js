// Members section of the admin panel: change a member's role (the select, then Save),
// disable and enable (each confirmed in a dialog), and reset 2-Step Verification with a
// reason; Add member and a new set-password link, each link shown once in the shared
// secret panel. Every change goes through /api/admin/members/…; refusals (the last owner, an
// admin touching an owner) show the server's message. Shared pieces come from
// window.Gatehouse.
"use strict";

(() => {
  const G = window.Gatehouse;
  const panel = document.getElementById("section-panel");
  const disableDialog = document.getElementById("disable-member-dialog");
  const enableDialog = document.getElementById("enable-member-dialog");
  const resetDialog = document.getElementById("reset-2sv-dialog");
  const resetForm = document.getElementById("reset-2sv-form");
  const reason = document.getElementById("reset-2sv-reason");
  const roleNames = { owner: "an owner", admin: "an admin", member: "a member" };
  // The member whose 2-Step Verification the open dialog resets.
  let resetting = null;

  const path = (row, action) => `/api/admin/members/${encodeURIComponent(row.dataset.memberId)}${action ? "/" + action : ""}`;
  const rowSelector = (row) => `tr[data-member-id="${CSS.escape(row.dataset.memberId)}"]`;

  // The Save button shows only while the select differs from the member's role.
  panel.addEventListener("change", (ev) => {
    const select = ev.target.closest("select.role-select");
    const row = select && select.closest("tr[data-member-id]");
    if (!row) return;
    row.querySelector(".role-save").hidden = select.value === row.dataset.role;
  });

  async function saveRole(row) {
    const select = row.querySelector("select.role-select");
    const save = row.querySelector(".role-save");
    const name = row.dataset.username;
    const res = await G.busy(save, () => G.api("POST", path(row, "role"), { role: select.value }));
    if (res.leaving || res.cancelled) return;
    if (res.status === 200) {
      G.toast(`${name} is now ${roleNames[res.data.role] || res.data.role}`);
      await G.refresh(`${rowSelector(row)} select.role-select`);
      return;
    }
    // Refused (the last owner, say): the member keeps their role, and the page says why.
    select.value = row.dataset.role;
    save.hidden = true;
    G.toast(G.sentence(G.message(res.data, res.status), "That"), "error");
    select.focus();
  }

  async function setDisabled(row, disable) {
    const name = row.dataset.username;
    if (!(await G.ask(disable ? disableDialog : enableDialog, { name }))) return;
    const res = await G.api("POST", path(row, disable ? "disable" : "enable"));
    if (res.leaving || res.cancelled) return;
    if (res.status !== 200) {
      G.toast(G.sentence(G.message(res.data, res.status), "That"), "error");
      return;
    }
    G.toast(disable
      ? `${name} is disabled: their sessions, tokens and API keys stopped working`
      : `${name} is enabled again`);
    await G.refresh(`${rowSelector(row)} .${disable ? "member-enable" : "member-disable"}`);
  }

  function openReset(row) {
    resetting = row;
    resetForm.reset();
    G.clearErrors(resetForm);
    for (const el of resetDialog.querySelectorAll('[data-slot="name"]')) el.textContent = row.dataset.username;
    G.open(resetDialog);
  }

  resetForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    G.clearErrors(resetForm);
    const row = resetting;
    if (!row) return;
    const why = reason.value.trim();
    if (!why) return G.fieldError(resetForm, reason, "Give a reason: it is recorded in the audit log.");
    const res = await G.busy(document.getElementById("reset-2sv-confirm"),
      () => G.api("POST", path(row, "reset-2sv"), { reason: why }));
    if (res.leaving || res.cancelled) return;
    if (res.status !== 200) {
      const field = res.data && res.data.field;
      G.fieldError(resetForm, field === "reason" ? reason : null, G.sentence(G.message(res.data, res.status), "The reason"));
      return;
    }
    resetDialog.close();
    const n = res.data.factors_removed;
    G.toast(`2-Step Verification of ${row.dataset.username} is reset (${n} ${n === 1 ? "method" : "methods"} removed); they are signed out everywhere`);
    await G.refresh(`${rowSelector(row)} select.role-select`);
  });
  resetDialog.addEventListener("close", () => { resetting = null; });

  // ---------------------------------------------------------------- adding members
  const addDialog = document.getElementById("add-member-dialog");
  const addForm = document.getElementById("add-member-form");
  const newLinkDialog = document.getElementById("new-link-dialog");

  // The one-time link in the show-once panel, with whom to give it to.
  async function showLink(username, data) {
    const shown = G.revealSecret({
      title: `Set-password link for ${username}`,
      label: "Set-password link",
      value: data.set_password_url,
      expiresAt: data.expires_at,
      usage: "set-password-link-usage",
    });
    for (const el of document.querySelectorAll("#secret-extra .link-for")) el.textContent = username;
    await shown;
  }

  if (addForm) {
    const input = (name) => addForm.elements[name];
    const line = (name) => document.getElementById(`add-member-${name.replace("_", "-")}-error`);
    const labels = { username: "The username", email: "The email address", display_name: "The display name", role: "The role" };
    addDialog.addEventListener("close", () => { addForm.reset(); G.clearErrors(addForm); });
    addForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      G.clearErrors(addForm);
      const username = input("username").value.trim();
      const email = input("email").value.trim();
      if (!username) return G.fieldError(addForm, input("username"), "Enter a username.", line("username"));
      if (!email) return G.fieldError(addForm, input("email"), "Enter an email address.", line("email"));
      const display = input("display_name").value.trim();
      const body = { username, email, role: input("role").value, ...(display ? { display_name: display } : {}) };
      const res = await G.busy(document.getElementById("add-member-submit"), () => G.api("POST", "/api/admin/members", body));
      if (res.leaving || res.cancelled) return;
      if (res.status === 201) {
        addDialog.close();
        G.toast(`${res.data.member.username} added: hand them their set-password link`);
        await showLink(res.data.member.username, res.data);
        await G.refresh(`tr[data-member-id="${CSS.escape(res.data.member.id)}"] .member-new-link`);
        return;
      }
      // 409: the username is taken; 422 names its field; 403 an owner only.
      const field = res.status === 409 ? "username" : res.data && res.data.field;
      const msg = G.message(res.data, res.status);
      if (field && labels[field]) G.fieldError(addForm, input(field), G.sentence(msg, labels[field]), line(field));
      else G.fieldError(addForm, null, G.sentence(msg, "That"));
    });
  }

  async function newLink(row) {
    const name = row.dataset.username;
    if (!(await G.ask(newLinkDialog, { name }))) return;
    const res = await G.api("POST", path(row, "password-link"));
    if (res.leaving || res.cancelled) return;
    if (res.status !== 200) {
      // 409: they have set a password meanwhile; the list then drops the action.
      G.toast(G.sentence(G.message(res.data, res.status), "That"), "error");
      await G.refresh();
      return;
    }
    await showLink(name, res.data);
    await G.refresh(`${rowSelector(row)} .member-new-link`);
  }

  panel.addEventListener("click", (ev) => {
    const btn = ev.target.closest("button");
    const row = btn && btn.closest("tr[data-member-id]");
    if (!row) return;
    if (btn.classList.contains("role-save")) return saveRole(row);
    if (btn.classList.contains("member-disable")) return setDisabled(row, true);
    if (btn.classList.contains("member-enable")) return setDisabled(row, false);
    if (btn.classList.contains("member-reset-2sv")) return openReset(row);
    if (btn.classList.contains("member-new-link")) return newLink(row);
  });
})();
