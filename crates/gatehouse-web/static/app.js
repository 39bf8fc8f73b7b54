// Gatehouse UI behaviour. No inline scripts (the CSP forbids them); state-changing
// calls send the page's CSRF token in X-CSRF-Token.
"use strict";

function csrfToken() {
  const m = document.querySelector('meta[name="csrf-token"]');
  return m ? m.getAttribute("content") : "";
}

async function api(method, path, body) {
  const headers = { "X-CSRF-Token": csrfToken() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  if (res.status !== 204) {
    try { data = await res.json(); } catch (_) { data = null; }
  }
  return { status: res.status, data };
}

function setupLogin() {
  const form = document.getElementById("login-form");
  if (!form) return;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = document.getElementById("login-error");
    err.textContent = "";
    const username = document.getElementById("username").value;
    const password = document.getElementById("password").value;
    const { status, data } = await api("POST", "/api/auth/login", { username, password });
    if (status === 200) {
      window.location.assign("/account/authentication/api-keys");
      return;
    }
    err.textContent = (data && data.message) || "Sign-in failed (" + status + ")";
  });
}

function setupSignOut() {
  const btn = document.getElementById("sign-out");
  if (!btn) return;
  btn.addEventListener("click", async () => {
    await api("POST", "/api/auth/logout");
    window.location.assign("/login");
  });
}

function showError(id, data, status) {
  const el = document.getElementById(id);
  if (el) el.textContent = (data && data.message) || "Request failed (" + status + ")";
}

// Shows a freshly created secret once, with a copy button.
function showCreatedKey(data) {
  const panel = document.getElementById("api-key-created");
  document.getElementById("api-key-secret").textContent = data.key;
  document.getElementById("api-key-copy-status").textContent = "";
  document.getElementById("api-key-form").hidden = true;
  panel.hidden = false;
  panel.scrollIntoView();
}

function setupApiKeys() {
  const form = document.getElementById("api-key-form");
  if (!form) return;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    document.getElementById("api-keys-error").textContent = "";
    const exp = document.getElementById("api-key-expiration").value;
    const permissions = Array.from(form.querySelectorAll('input[name="permission"]:checked')).map((c) => c.value);
    const body = {
      name: document.getElementById("api-key-name").value,
      expires_in_days: exp === "none" ? null : Number(exp),
      permissions,
    };
    const { status, data } = await api("POST", "/api/api-keys", body);
    if (status === 201) showCreatedKey(data);
    else showError("api-keys-error", data, status);
  });
  document.getElementById("api-key-copy").addEventListener("click", async () => {
    const secret = document.getElementById("api-key-secret").textContent;
    const status = document.getElementById("api-key-copy-status");
    try {
      await navigator.clipboard.writeText(secret);
      status.textContent = "Copied to the clipboard";
    } catch (_) {
      status.textContent = "Copy failed: select the key and copy it by hand";
    }
  });
  document.getElementById("api-key-done").addEventListener("click", () => {
    // The secret leaves the page for good.
    document.getElementById("api-key-secret").textContent = "";
    window.location.reload();
  });

  const dialog = document.getElementById("delete-key-dialog");
  let pendingDelete = null;
  document.getElementById("delete-key-cancel").addEventListener("click", () => dialog.close());
  document.getElementById("delete-key-confirm").addEventListener("click", async () => {
    if (!pendingDelete) return;
    const { status, data } = await api("DELETE", "/api/api-keys/" + encodeURIComponent(pendingDelete));
    dialog.close();
    if (status === 204) window.location.reload();
    else showError("api-keys-error", data, status);
  });

  const table = document.getElementById("api-keys-table");
  if (!table) return;
  table.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button");
    const row = ev.target.closest("tr[data-key-id]");
    if (!btn || !row) return;
    const id = encodeURIComponent(row.dataset.keyId);
    document.getElementById("api-keys-error").textContent = "";
    if (btn.classList.contains("key-delete")) {
      pendingDelete = row.dataset.keyId;
      document.getElementById("delete-key-name").textContent = row.dataset.keyName;
      dialog.showModal();
      return;
    }
    let res;
    if (btn.classList.contains("key-disable")) res = await api("POST", "/api/api-keys/" + id + "/disable");
    else if (btn.classList.contains("key-enable")) res = await api("POST", "/api/api-keys/" + id + "/enable");
    else if (btn.classList.contains("key-duplicate")) {
      res = await api("POST", "/api/api-keys/" + id + "/duplicate", {});
      if (res.status === 201) {
        showCreatedKey(res.data);
        return;
      }
    } else return;
    if (res.status === 200) window.location.reload();
    else showError("api-keys-error", res.data, res.status);
  });
}

// "2025-01-02T03:04:05Z" → "2025-01-02 03:04 UTC", the format the tables use.
function utcMinutes(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso || "";
  return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

function setupTokens() {
  const form = document.getElementById("token-form");
  if (!form) return;
  const panel = document.getElementById("token-created");
  const secret = document.getElementById("token-secret");
  const copyStatus = document.getElementById("token-copy-status");
  for (const el of panel.querySelectorAll(".origin")) el.textContent = window.location.origin;

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    document.getElementById("tokens-error").textContent = "";
    const button = document.getElementById("token-create");
    const body = { expires_in_hours: Number(document.getElementById("token-expiration").value) };
    const name = document.getElementById("token-name").value.trim();
    if (name) body.name = name;
    button.disabled = true;
    let res;
    try {
      res = await api("POST", "/api/tokens", body);
    } catch (_) {
      res = { status: 0, data: { message: "Cannot reach the server; try again." } };
    } finally {
      button.disabled = false;
    }
    if (res.status !== 201 || !res.data || !res.data.token) {
      showError("tokens-error", res.data, res.status);
      return;
    }
    // Shown once: the token lives only in this field until "Done" reloads the page.
    secret.value = res.data.token;
    const expires = document.getElementById("token-expires");
    expires.dateTime = res.data.expires_at;
    expires.textContent = utcMinutes(res.data.expires_at);
    copyStatus.textContent = "";
    form.hidden = true;
    panel.hidden = false;
    panel.scrollIntoView();
    secret.focus();
    secret.select();
  });

  document.getElementById("token-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(secret.value);
      copyStatus.textContent = "Copied to the clipboard";
    } catch (_) {
      secret.focus();
      secret.select();
      copyStatus.textContent = "Copy failed: the token is selected, copy it by hand";
    }
  });
  // Leaving the page (even into the back/forward cache) drops the token too.
  window.addEventListener("pagehide", () => {
    secret.value = "";
    panel.hidden = true;
    form.hidden = false;
  });
  document.getElementById("token-done").addEventListener("click", () => {
    // The token leaves the page for good.
    secret.value = "";
    window.location.reload();
  });

  const dialog = document.getElementById("revoke-token-dialog");
  let pendingRevoke = null;
  dialog.addEventListener("close", () => { pendingRevoke = null; });
  document.getElementById("revoke-token-cancel").addEventListener("click", () => dialog.close());
  document.getElementById("revoke-token-confirm").addEventListener("click", async () => {
    const id = pendingRevoke;
    if (!id) return;
    const { status, data } = await api("DELETE", "/api/tokens/" + encodeURIComponent(id));
    dialog.close();
    // 404: it was already revoked or has expired; either way it is gone.
    if (status === 204 || status === 404) window.location.reload();
    else showError("tokens-error", data, status);
  });

  const table = document.getElementById("tokens-table");
  if (!table) return;
  table.addEventListener("click", (ev) => {
    const btn = ev.target.closest("button.token-revoke");
    const row = ev.target.closest("tr[data-token-id]");
    if (!btn || !row) return;
    document.getElementById("tokens-error").textContent = "";
    pendingRevoke = row.dataset.tokenId;
    document.getElementById("revoke-token-name").textContent = row.dataset.tokenName;
    document.getElementById("revoke-token-expires").textContent = row.dataset.tokenExpires;
    dialog.showModal();
  });
}

// The server prefixes a validation message with the field's name ("key: this is a
// private key; …"); the key's messages are whole sentences, so show them without it.
function sshKeyMessage(data, status) {
  const msg = (data && data.message) || "Request failed (" + status + ")";
  if (data && data.field === "key" && msg.startsWith("key: ")) return msg.slice(5);
  return msg;
}

// Copies text; falls back to a hidden textarea and execCommand where the async
// clipboard API is missing or refused.
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (_) {
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "visually-hidden";
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
    ta.remove();
    return ok;
  }
}

function setupSshKeys() {
  const form = document.getElementById("ssh-key-form");
  if (!form) return;
  const error = document.getElementById("ssh-keys-error");
  const nameField = document.getElementById("ssh-key-name");
  const keyField = document.getElementById("ssh-key-text");
  const clearError = () => {
    error.textContent = "";
    nameField.removeAttribute("aria-invalid");
    keyField.removeAttribute("aria-invalid");
  };

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError();
    const button = document.getElementById("ssh-key-add");
    // Surrounding blank lines and spaces (as left by copying a whole file) are dropped;
    // the server judges everything else.
    const body = { name: nameField.value.trim(), key: keyField.value.trim() };
    button.disabled = true;
    let res;
    try {
      res = await api("POST", "/api/ssh-keys", body);
    } catch (_) {
      res = { status: 0, data: { message: "Cannot reach the server; try again." } };
    } finally {
      button.disabled = false;
    }
    if (res.status === 201) {
      window.location.reload();
      return;
    }
    error.textContent = sshKeyMessage(res.data, res.status);
    const field = res.data && res.data.field;
    if (field === "name") {
      nameField.setAttribute("aria-invalid", "true");
      nameField.focus();
    } else if (field === "key" || res.status === 409) {
      // 409: the name or the key is already there; the message says which.
      const target = /name/.test(error.textContent) ? nameField : keyField;
      target.setAttribute("aria-invalid", "true");
      target.focus();
    }
  });

  const dialog = document.getElementById("delete-ssh-key-dialog");
  let pendingDelete = null;
  dialog.addEventListener("close", () => { pendingDelete = null; });
  document.getElementById("delete-ssh-key-cancel").addEventListener("click", () => dialog.close());
  document.getElementById("delete-ssh-key-confirm").addEventListener("click", async () => {
    const id = pendingDelete;
    if (!id) return;
    let res;
    try {
      res = await api("DELETE", "/api/ssh-keys/" + encodeURIComponent(id));
    } catch (_) {
      res = { status: 0, data: { message: "Cannot reach the server; try again." } };
    }
    dialog.close();
    // 404: it was already deleted (in another tab, say); either way it is gone.
    if (res.status === 204 || res.status === 404) window.location.reload();
    else error.textContent = sshKeyMessage(res.data, res.status);
  });

  const table = document.getElementById("ssh-keys-table");
  if (!table) return;
  table.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button");
    const row = ev.target.closest("tr[data-ssh-key-id]");
    if (!btn || !row) return;
    clearError();
    if (btn.classList.contains("ssh-key-delete")) {
      pendingDelete = row.dataset.sshKeyId;
      document.getElementById("delete-ssh-key-name").textContent = row.dataset.sshKeyName;
      document.getElementById("delete-ssh-key-fingerprint").textContent = row.dataset.fingerprint;
      dialog.showModal();
      return;
    }
    if (!btn.classList.contains("ssh-key-copy")) return;
    const status = row.querySelector(".ssh-key-copy-status");
    status.textContent = "";
    let line = row.dataset.publicKey;
    if (!line) {
      const res = await api("GET", "/api/ssh-keys/" + encodeURIComponent(row.dataset.sshKeyId));
      line = res.status === 200 && res.data ? res.data.public_key : "";
      if (!line) {
        error.textContent = sshKeyMessage(res.data, res.status);
        return;
      }
    }
    if (await copyText(line)) {
      status.textContent = "Copied";
      clearTimeout(status.timer);
      status.timer = setTimeout(() => { status.textContent = ""; }, 4000);
    } else {
      status.textContent = "Copy failed: copy the line from your .pub file";
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupLogin();
  setupSignOut();
  setupApiKeys();
  setupTokens();
  setupSshKeys();
});
