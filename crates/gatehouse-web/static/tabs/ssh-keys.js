// SSH Keys tab: Add Key opens the form (the server's refusals are shown on the field
// they concern), the copy button copies the authorized_keys line, delete asks first.
"use strict";

(() => {
  const G = window.Gatehouse;
  const panel = document.getElementById("tab-panel");
  const dialog = document.getElementById("ssh-key-dialog");
  const form = document.getElementById("ssh-key-form");
  const nameField = document.getElementById("ssh-key-name");
  const keyField = document.getElementById("ssh-key-text");
  const submit = document.getElementById("ssh-key-add");

  document.getElementById("ssh-key-add-open").addEventListener("click", () => {
    form.reset();
    G.clearErrors(form);
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    G.clearErrors(form);
    // Surrounding blank lines and spaces (as left by copying a whole file) are dropped;
    // the server judges everything else.
    const body = { name: nameField.value.trim(), key: keyField.value.trim() };
    const res = await G.busy(submit, () => G.api("POST", "/api/ssh-keys", body));
    if (res.leaving) return;
    if (res.status === 201) {
      dialog.close();
      G.toast(`SSH key ${body.name} added`);
      await G.refresh();
      return;
    }
    const msg = G.message(res.data, res.status);
    const field = res.data && res.data.field;
    // 409: the name or the key is already there; the message says which.
    let target = null;
    if (field === "name") target = nameField;
    else if (field === "key" || res.status === 409) target = /name/.test(msg) ? nameField : keyField;
    G.fieldError(form, target, msg);
  });

  const deleteDialog = document.getElementById("delete-ssh-key-dialog");
  panel.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button");
    const row = ev.target.closest("tr[data-ssh-key-id]");
    if (!btn || !row) return;
    const name = row.dataset.sshKeyName;
    if (btn.classList.contains("ssh-key-delete")) {
      if (!(await G.ask(deleteDialog, { name, fingerprint: row.dataset.fingerprint }))) return;
      const res = await G.api("DELETE", "/api/ssh-keys/" + encodeURIComponent(row.dataset.sshKeyId));
      if (res.leaving) return;
      // 404: it was already deleted (in another tab, say); either way it is gone.
      if (res.status === 204 || res.status === 404) {
        G.toast(`SSH key ${name} deleted`);
        await G.refresh();
      } else {
        G.toast(G.message(res.data, res.status), "error");
      }
      return;
    }
    if (!btn.classList.contains("ssh-key-copy")) return;
    const status = row.querySelector(".ssh-key-copy-status");
    status.textContent = "";
    if (await G.copy(row.dataset.publicKey)) {
      status.textContent = "Copied";
      clearTimeout(status.timer);
      status.timer = setTimeout(() => { status.textContent = ""; }, 4000);
    } else {
      G.toast("Copy failed: copy the line from your .pub file", "error");
    }
  });
})();
