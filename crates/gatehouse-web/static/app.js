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

document.addEventListener("DOMContentLoaded", () => {
  setupLogin();
  setupSignOut();
});
