// SSH Private Keys tab: New SSH Private Key (a Passphrase field appears when the pasted
// key is encrypted, or when the server asks for one), the created dialog with the public
// half to install, the connection test with its trust-on-first-use host key step, and
// delete. The key text and passphrase are cleared from the form once the server has them.
"use strict";

(() => {
  const G = window.Gatehouse;
  const panel = document.getElementById("tab-panel");
  const dialog = document.getElementById("ssh-private-key-dialog");
  const form = document.getElementById("ssh-private-key-form");
  const nameField = document.getElementById("spk-name");
  const descField = document.getElementById("spk-description");
  const keyField = document.getElementById("spk-key");
  const fileField = document.getElementById("spk-file");
  const ppWrap = document.getElementById("spk-passphrase-field");
  const ppField = document.getElementById("spk-passphrase");
  const submit = document.getElementById("spk-create");

  // Whether a pasted key is protected by a passphrase (the server has the last word).
  function encrypted(text) {
    if (/Proc-Type: 4,ENCRYPTED/.test(text) || /BEGIN ENCRYPTED PRIVATE KEY/.test(text)) return true;
    const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END/.exec(text);
    if (!m) return false;
    try {
      const raw = atob(m[1].replace(/\s+/g, "").slice(0, 64));
      // "openssh-key-v1\0", then the cipher name as an SSH string.
      const at = 15;
      const len = (raw.charCodeAt(at) << 24) | (raw.charCodeAt(at + 1) << 16) | (raw.charCodeAt(at + 2) << 8) | raw.charCodeAt(at + 3);
      return raw.slice(at + 4, at + 4 + len) !== "none";
    } catch (_) {
      return false;
    }
  }
  function showPassphrase(show) {
    ppWrap.hidden = !show;
    if (!show) ppField.value = "";
  }
  keyField.addEventListener("input", () => showPassphrase(encrypted(keyField.value) || !ppWrap.hidden && ppField.value !== ""));
  fileField.addEventListener("change", async () => {
    const f = fileField.files && fileField.files[0];
    if (!f) return;
    if (f.size > 16 * 1024) {
      G.fieldError(form, keyField, "This file is too large to be a private key file (at most 16 KiB).");
    } else {
      keyField.value = await f.text();
      showPassphrase(encrypted(keyField.value));
    }
    fileField.value = "";
  });

  document.getElementById("ssh-private-key-add-open").addEventListener("click", () => {
    form.reset();
    showPassphrase(false);
    G.clearErrors(form);
  });
  dialog.addEventListener("close", () => {
    keyField.value = "";
    ppField.value = "";
  });

  const created = document.getElementById("spk-created-dialog");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    G.clearErrors(form);
    const body = { name: nameField.value.trim(), private_key: keyField.value.trim() };
    const description = descField.value.trim();
    if (description) body.description = description;
    if (!ppWrap.hidden && ppField.value) body.passphrase = ppField.value;
    const res = await G.busy(submit, () => G.api("POST", "/api/ssh-private-keys", body));
    ppField.value = "";
    if (res.leaving) return;
    if (res.status === 201) {
      keyField.value = "";
      dialog.close();
      document.getElementById("spk-created-name").textContent = res.data.name;
      document.getElementById("spk-created-public-key").textContent = res.data.public_key;
      document.getElementById("spk-created-copy-status").textContent = "";
      G.open(created);
      document.getElementById("spk-created-done").focus();
      created.addEventListener("close", () => G.refresh(), { once: true });
      return;
    }
    const msg = G.message(res.data, res.status);
    const field = res.data && res.data.field;
    let target = keyField;
    if (field === "name" || (res.status === 409 && /name/.test(msg))) target = nameField;
    else if (field === "description") target = descField;
    else if (field === "passphrase") {
      showPassphrase(true);
      target = ppField;
    }
    G.fieldError(form, target, msg);
  });
  document.getElementById("spk-created-copy").addEventListener("click", async () => {
    const ok = await G.copy(document.getElementById("spk-created-public-key").textContent);
    document.getElementById("spk-created-copy-status").textContent = ok ? "Copied" : "Copy failed: select the line and copy it";
  });

  // ---------------------------------------------------------------- connection test
  const testDialog = document.getElementById("spk-test-dialog");
  const testForm = document.getElementById("spk-test-form");
  const hostField = document.getElementById("spk-test-host");
  const portField = document.getElementById("spk-test-port");
  const userField = document.getElementById("spk-test-user");
  const result = document.getElementById("spk-test-result");
  const hostKey = document.getElementById("spk-hostkey");
  const mismatch = document.getElementById("spk-mismatch");
  const trustBtn = document.getElementById("spk-test-trust");
  const runBtn = document.getElementById("spk-test-run");
  let testing = null;
  let offered = null;

  function resetTest() {
    result.textContent = "";
    result.className = "result";
    hostKey.hidden = true;
    mismatch.hidden = true;
    trustBtn.hidden = true;
    offered = null;
    G.clearErrors(testForm);
  }
  for (const f of [hostField, portField, userField]) f.addEventListener("input", resetTest);

  async function runTest(trust) {
    resetTest();
    const body = { host: hostField.value.trim(), port: Number(portField.value || 22), username: userField.value.trim() };
    if (trust) body.trust_host_key = trust;
    const btn = trust ? trustBtn : runBtn;
    result.textContent = "Connecting…";
    const res = await G.busy(btn, () => G.api("POST", `/api/ssh-private-keys/${encodeURIComponent(testing)}/test`, body));
    result.textContent = "";
    if (res.leaving) return;
    const d = res.data || {};
    if (res.status === 200) {
      result.textContent = d.message + (d.pinned ? ` The host key ${d.host_key_fingerprint} is now pinned.` : "");
      result.className = "result " + (d.result === "success" ? "ok" : "fail");
      if (d.result === "success") G.refresh();
      return;
    }
    if (res.status === 409 && d.error === "host_key_unknown") {
      document.getElementById("spk-hostkey-host").textContent = `${d.host}:${d.port}`;
      document.getElementById("spk-hostkey-type").textContent = d.key_type || "";
      document.getElementById("spk-hostkey-fingerprint").textContent = d.fingerprint || "";
      offered = d.fingerprint;
      hostKey.hidden = false;
      trustBtn.hidden = false;
      trustBtn.focus();
      return;
    }
    if (res.status === 409 && d.error === "host_key_mismatch") {
      document.getElementById("spk-mismatch-expected").textContent = d.expected || "";
      document.getElementById("spk-mismatch-presented").textContent = d.presented || "";
      mismatch.hidden = false;
      return;
    }
    const field = { host: hostField, port: portField, username: userField }[d.field] || null;
    G.fieldError(testForm, field, G.message(d, res.status));
  }
  testForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    runTest(null);
  });
  trustBtn.addEventListener("click", () => offered && runTest(offered));

  // ---------------------------------------------------------------- rows
  const deleteDialog = document.getElementById("delete-spk-dialog");
  panel.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button");
    const row = ev.target.closest("tr[data-spk-id]");
    if (!btn || !row) return;
    const name = row.dataset.spkName;
    if (btn.classList.contains("spk-test")) {
      testing = row.dataset.spkId;
      document.getElementById("spk-test-key").textContent = name;
      resetTest();
      G.open(testDialog);
      return;
    }
    if (btn.classList.contains("spk-delete")) {
      if (!(await G.ask(deleteDialog, { name, fingerprint: row.dataset.fingerprint }))) return;
      const res = await G.api("DELETE", "/api/ssh-private-keys/" + encodeURIComponent(row.dataset.spkId));
      if (res.leaving) return;
      if (res.status === 204 || res.status === 404) {
        G.toast(`SSH private key ${name} deleted`);
        await G.refresh();
      } else {
        G.toast(G.message(res.data, res.status), "error");
      }
      return;
    }
    if (!btn.classList.contains("spk-copy")) return;
    const status = row.querySelector(".spk-copy-status");
    status.textContent = "";
    if (await G.copy(row.dataset.publicKey)) {
      status.textContent = "Copied";
      clearTimeout(status.timer);
      status.timer = setTimeout(() => { status.textContent = ""; }, 4000);
    } else {
      G.toast("Copy failed", "error");
    }
  });
})();
