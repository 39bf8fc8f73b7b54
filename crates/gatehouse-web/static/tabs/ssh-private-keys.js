// SSH Private Keys tab: New SSH Private Key (a Passphrase field appears when the pasted
// key is encrypted, or when the server asks for one), the created dialog with the public
// half to install, the connection test with its trust-on-first-use host key step, and
// delete. Refusals are shown under the field they concern. The key text and passphrase
// never reach a URL, storage or the console, and leave the form once the server has them.
"use strict";

(() => {
  const G = window.Gatehouse;
  const byId = (id) => document.getElementById(id);
  const panel = byId("tab-panel");
  const dialog = byId("ssh-private-key-dialog");
  const form = byId("ssh-private-key-form");
  const nameField = byId("spk-name");
  const descField = byId("spk-description");
  const keyField = byId("spk-key");
  const fileField = byId("spk-file");
  const ppWrap = byId("spk-passphrase-field");
  const ppField = byId("spk-passphrase");
  const submit = byId("spk-create");
  // The largest key file the server accepts (16 KiB).
  const MAX_KEY_FILE = 16 * 1024;
  // Each request field: its input, the line under it for refusals, and how a refusal
  // that starts with "must …" or "is …" names it.
  const fields = {
    name: [nameField, "spk-name-error", "The name"],
    description: [descField, "spk-description-error", "The description"],
    private_key: [keyField, "spk-key-error", "The key"],
    passphrase: [ppField, "spk-passphrase-error", "The passphrase"],
  };
  // The server asked for a passphrase (a key format the check below does not know).
  let askedForPassphrase = false;

  // Whether a pasted key is protected by a passphrase; the server has the last word.
  // OpenSSH keys name their cipher right after the magic ("none" when unprotected);
  // PEM keys say so in a header or in their type.
  function encrypted(text) {
    if (/^Proc-Type:\s*4,\s*ENCRYPTED/m.test(text) || /-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text)) return true;
    const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)(?:-----END|$)/.exec(text);
    if (!m) return false;
    try {
      // 64 base64 characters are 48 bytes: the magic, the length and any cipher name.
      const raw = atob(m[1].replace(/\s+/g, "").slice(0, 64));
      const magic = "openssh-key-v1\0";
      if (!raw.startsWith(magic)) return false;
      const at = magic.length;
      const len = ((raw.charCodeAt(at) << 24) | (raw.charCodeAt(at + 1) << 16) | (raw.charCodeAt(at + 2) << 8) | raw.charCodeAt(at + 3)) >>> 0;
      return raw.slice(at + 4, at + 4 + len) !== "none";
    } catch (_) {
      return false;
    }
  }

  function updatePassphrase() {
    const show = askedForPassphrase || encrypted(keyField.value);
    ppWrap.hidden = !show;
    if (!show) ppField.value = "";
  }

  function clearSecrets() {
    keyField.value = "";
    ppField.value = "";
  }

  // A refusal under the field it names in `table`, or under the form when it names none.
  function refuse(formEl, table, field, message) {
    const f = table[field];
    if (!f) return G.fieldError(formEl, null, G.sentence(message, "The request"));
    G.fieldError(formEl, f[0], G.sentence(message, f[2]), byId(f[1]));
  }

  keyField.addEventListener("input", updatePassphrase);
  byId("spk-file-open").addEventListener("click", () => fileField.click());
  fileField.addEventListener("change", async () => {
    const f = fileField.files && fileField.files[0];
    fileField.value = "";
    if (!f) return;
    G.clearErrors(form);
    if (f.size > MAX_KEY_FILE) {
      refuse(form, fields, "private_key", "This file is too large to be a private key file (at most 16 KiB); choose the key file itself.");
      return;
    }
    try {
      keyField.value = await f.text();
    } catch (_) {
      refuse(form, fields, "private_key", "The file could not be read; paste its contents instead.");
      return;
    }
    updatePassphrase();
    (ppWrap.hidden ? submit : ppField).focus();
  });

  byId("ssh-private-key-add-open").addEventListener("click", () => {
    form.reset();
    clearSecrets();
    askedForPassphrase = false;
    updatePassphrase();
    G.clearErrors(form);
  });
  // SECURITY: a closed form keeps no key or passphrase, and neither does a page left
  // (even into the back/forward cache).
  dialog.addEventListener("close", () => {
    clearSecrets();
    askedForPassphrase = false;
    updatePassphrase();
  });
  window.addEventListener("pagehide", () => {
    clearSecrets();
    if (dialog.open) dialog.close();
  });

  const created = byId("spk-created-dialog");
  const createdStatus = byId("spk-created-copy-status");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    G.clearErrors(form);
    const body = { name: nameField.value.trim(), private_key: keyField.value.trim() };
    const description = descField.value.trim();
    if (description) body.description = description;
    if (!ppWrap.hidden && ppField.value) body.passphrase = ppField.value;
    // SECURITY: the passphrase is typed again after any refusal; the key text stays so
    // that a wrong passphrase can be corrected.
    ppField.value = "";
    const res = await G.busy(submit, () => G.api("POST", "/api/ssh-private-keys", body));
    if (res.leaving) {
      clearSecrets();
      return;
    }
    if (res.cancelled) return;
    if (res.status === 201 && res.data) {
      clearSecrets();
      dialog.close();
      byId("spk-created-name").textContent = res.data.name;
      byId("spk-created-public-key").textContent = res.data.public_key;
      byId("spk-created-fingerprint").textContent = res.data.fingerprint;
      createdStatus.textContent = "";
      G.open(created);
      byId("spk-created-done").focus();
      await G.refresh();
      return;
    }
    const msg = G.message(res.data, res.status);
    let field = res.data && res.data.field;
    // 409: the name or the key is stored already; the message says which.
    if (!field && res.status === 409) field = /name/.test(msg) ? "name" : "private_key";
    if (field === "passphrase") {
      askedForPassphrase = true;
      updatePassphrase();
    }
    refuse(form, fields, field, msg);
  });
  byId("spk-created-copy").addEventListener("click", async () => {
    const ok = await G.copy(byId("spk-created-public-key").textContent);
    createdStatus.textContent = ok ? "Copied" : "Copy failed: select the line and copy it";
  });

  // ---------------------------------------------------------------- connection test
  const testDialog = byId("spk-test-dialog");
  const testForm = byId("spk-test-form");
  const hostField = byId("spk-test-host");
  const portField = byId("spk-test-port");
  const userField = byId("spk-test-user");
  const result = byId("spk-test-result");
  const hostKey = byId("spk-hostkey");
  const mismatch = byId("spk-mismatch");
  const trustBtn = byId("spk-test-trust");
  const runBtn = byId("spk-test-run");
  const testFields = {
    host: [hostField, "spk-test-host-error", "The host"],
    port: [portField, "spk-test-port-error", "The port"],
    username: [userField, "spk-test-user-error", "The username"],
  };
  // The key under test, and the request to send again once its host key is trusted.
  let testing = null;
  let trustRequest = null;

  // `host:port` as OpenSSH writes it, with an IPv6 address in brackets.
  const where = (host, port) => `${String(host).includes(":") ? `[${host}]` : host}:${port}`;
  // The server's result messages start with the host or user, so only a full stop is added.
  const withStop = (text) => (/[.!?]$/.test(text) ? text : text + ".");

  function showResult(kind, title, message) {
    result.className = "result " + kind;
    byId("spk-test-result-title").textContent = title;
    byId("spk-test-result-message").textContent = message;
    result.hidden = false;
  }

  function resetTest() {
    result.hidden = true;
    result.className = "result";
    hostKey.hidden = true;
    mismatch.hidden = true;
    trustBtn.hidden = true;
    runBtn.hidden = false;
    trustRequest = null;
    G.clearErrors(testForm);
  }
  for (const f of [hostField, portField, userField]) f.addEventListener("input", resetTest);

  // What each finished test is called.
  const OUTCOMES = {
    success: ["ok", "Connection succeeded"],
    authentication_refused: ["fail", "The host refused the key"],
    unreachable: ["fail", "The host could not be reached"],
    timeout: ["fail", "The connection timed out"],
  };

  async function runTest(body) {
    resetTest();
    showResult("pending", `Connecting to ${where(body.host, body.port)}…`, "This can take a few seconds.");
    runBtn.disabled = true;
    const res = await G.busy(trustBtn, () =>
      G.api("POST", `/api/ssh-private-keys/${encodeURIComponent(testing)}/test`, body));
    runBtn.disabled = false;
    result.hidden = true;
    if (res.leaving || res.cancelled) return;
    const d = res.data || {};
    if (res.status === 200) {
      const [kind, title] = OUTCOMES[d.result] || ["fail", "The test failed"];
      let message = withStop(d.message || "");
      if (d.pinned && d.host_key_fingerprint) {
        message += ` The host key ${d.host_key_fingerprint} is now remembered for this host.`;
      }
      showResult(kind, title, message);
      // The list's "Last used" changes with a successful test.
      if (d.result === "success") await G.refresh();
      return;
    }
    if (res.status === 409 && d.error === "host_key_unknown" && d.fingerprint) {
      byId("spk-hostkey-host").textContent = where(d.host || body.host, d.port || body.port);
      byId("spk-hostkey-type").textContent = d.key_type || "";
      byId("spk-hostkey-fingerprint").textContent = d.fingerprint;
      // SECURITY: the fingerprint sent back is the one shown, for exactly this request.
      trustRequest = { ...body, trust_host_key: d.fingerprint };
      hostKey.hidden = false;
      runBtn.hidden = true;
      trustBtn.hidden = false;
      trustBtn.focus();
      return;
    }
    if (res.status === 409 && d.error === "host_key_mismatch") {
      byId("spk-mismatch-host").textContent = where(d.host || body.host, d.port || body.port);
      byId("spk-mismatch-expected").textContent = d.expected || "";
      byId("spk-mismatch-presented").textContent = d.presented || d.fingerprint || "";
      // Nothing here goes on past a changed key; changing the host or user starts over.
      mismatch.hidden = false;
      runBtn.hidden = true;
      mismatch.scrollIntoView({ block: "nearest" });
      return;
    }
    refuse(testForm, testFields, d.field, G.message(d, res.status));
  }
  testForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    runTest({ host: hostField.value.trim(), port: Number(portField.value || 22), username: userField.value.trim() });
  });
  trustBtn.addEventListener("click", () => {
    if (trustRequest) runTest(trustRequest);
  });

  // ---------------------------------------------------------------- rows
  const deleteDialog = byId("delete-spk-dialog");
  panel.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button");
    const row = ev.target.closest("tr[data-spk-id]");
    if (!btn || !row) return;
    const name = row.dataset.spkName;
    if (btn.classList.contains("spk-test")) {
      testing = row.dataset.spkId;
      byId("spk-test-key").textContent = name;
      resetTest();
      G.open(testDialog);
      return;
    }
    if (btn.classList.contains("spk-delete")) {
      if (!(await G.ask(deleteDialog, { name, fingerprint: row.dataset.fingerprint }))) return;
      const res = await G.api("DELETE", "/api/ssh-private-keys/" + encodeURIComponent(row.dataset.spkId));
      if (res.leaving) return;
      // 404: it was deleted already (in another tab, say); either way it is gone.
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
      G.toast("Copy failed: ssh-keygen -y -f <key file> prints the same public key", "error");
    }
  });
})();
