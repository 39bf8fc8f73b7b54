// Gatehouse UI: the pieces every page and tab share, written once (window.Gatehouse):
// the API helper (with "Confirm it's you" and a retry when a change needs a recent
// sign-in), dialogs, toasts, relative times, the list refresh, filter bars, copy and
// download, and the show-once secret panel, the browser's WebAuthn ceremonies; plus
// sign-in (with a passkey, and a security key as its second step), sign-out and Change
// password. Each tab's own script is /static/tabs/<tab>.js (an admin panel section's,
// /static/admin/<section>.js), loaded after this one. No inline scripts (the CSP forbids
// them); state-changing calls send the page's CSRF token in X-CSRF-Token.
"use strict";

(() => {
  const G = {};
  window.Gatehouse = G;
  const HOME = "/account/authentication/api-keys";

  G.csrf = () => {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  };
  // A re-issued session (re-authentication, 2-step verification turned on) has a new
  // CSRF token: later calls send that one.
  G.setCsrf = (token) => {
    const m = document.querySelector('meta[name="csrf-token"]');
    if (m && token) m.setAttribute("content", token);
  };

  // The same rule as the server's `local_next`: a path on this site, never another host.
  G.localNext = (next) => {
    if (typeof next !== "string" || next.length > 512) return null;
    if (!next.startsWith("/") || next.startsWith("//") || /[\\\s\u0000-\u001f\u007f]/.test(next)) return null;
    if (next.startsWith("/api/") || next === "/login" || next.startsWith("/login?") || next.startsWith("/login/")) return null;
    return next;
  };

  // The session ended under the page: sign in again, then come back here.
  G.signIn = () => {
    const here = G.localNext(window.location.pathname + window.location.search);
    window.location.assign(here ? "/login?next=" + encodeURIComponent(here) : "/login");
  };

  // fetch with our conventions. Resolves to { status, data }; a network failure is status 0
  // with a message. A 401 means the session is gone: off to the sign-in page (unless
  // `signIn: false`, as the sign-in form itself says), and `leaving` is set. A 401
  // reauthentication_required asks "Confirm it's you" and sends the change again; if the
  // user cancels, `cancelled` is set. Callers do nothing more on either.
  G.api = async (method, path, body, opts = {}) => {
    const headers = { "X-CSRF-Token": G.csrf(), Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(path, {
        method, headers, credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (_) {
      return { status: 0, data: { message: "Cannot reach Gatehouse. Check your connection and try again." } };
    }
    let data = null;
    if (res.status !== 204) {
      try { data = await res.json(); } catch (_) { data = null; }
    }
    if (res.status === 401 && data && data.error === "reauthentication_required" && opts.reauth !== false) {
      if (!(await G.reauthenticate())) return { status: 401, data, cancelled: true };
      return G.api(method, path, body, { ...opts, reauth: false });
    }
    if (res.status === 401 && opts.signIn !== false) {
      G.signIn();
      return { status: 401, data, leaving: true };
    }
    return { status: res.status, data };
  };

  // The server's message, without the "field: " prefix it puts before validation reasons.
  G.message = (data, status) => {
    const msg = (data && data.message) || (status ? "Request failed (" + status + ")" : "Request failed");
    const prefix = data && data.field ? data.field + ": " : null;
    return prefix && msg.startsWith(prefix) ? msg.slice(prefix.length) : msg;
  };

  // The rules speak of a field in fragments ("is too common: …", "does not match: …"):
  // put `subject` in front of those, and capitalise the rest.
  G.sentence = (msg, subject) =>
    (/^(is|does|must|has|contains) /.test(msg) ? subject + " " + msg : msg.charAt(0).toUpperCase() + msg.slice(1));

  // ------------------------------------------------------------------ toasts
  // A popover, so a toast shows above an open modal dialog too.
  G.toast = (text, kind = "ok") => {
    const box = document.getElementById("toasts");
    if (!box) return;
    const t = document.createElement("div");
    t.className = "toast toast-" + kind;
    t.textContent = text;
    box.appendChild(t);
    try {
      if (box.matches(":popover-open")) box.hidePopover();
      box.showPopover();
    } catch (_) { /* no popover support: the fixed box still shows */ }
    setTimeout(() => {
      t.remove();
      if (!box.children.length && box.matches(":popover-open")) box.hidePopover();
    }, kind === "error" ? 9000 : 5000);
  };

  // ------------------------------------------------------------------ dialogs
  G.open = (dialog) => {
    if (!dialog.open) dialog.showModal();
    const first = dialog.querySelector("input:not([type=hidden]):not([hidden]), textarea, select");
    if (first) first.focus();
  };

  // Fills a confirmation dialog's [data-slot] elements and resolves true on [data-confirm].
  G.ask = (dialog, slots = {}) => new Promise((resolve) => {
    for (const [k, v] of Object.entries(slots)) {
      for (const el of dialog.querySelectorAll(`[data-slot="${k}"]`)) el.textContent = v;
    }
    const yes = dialog.querySelector("[data-confirm]");
    const done = (answer) => {
      yes.removeEventListener("click", onYes);
      dialog.removeEventListener("close", onClose);
      resolve(answer);
    };
    const onYes = () => { done(true); dialog.close(); };
    const onClose = () => done(false);
    yes.addEventListener("click", onYes);
    dialog.addEventListener("close", onClose);
    dialog.showModal();
    dialog.querySelector("[data-close]")?.focus();
  });

  document.addEventListener("click", (ev) => {
    const close = ev.target.closest("[data-close]");
    if (close) close.closest("dialog")?.close();
    const open = ev.target.closest("[data-open]");
    if (open) {
      const d = document.getElementById(open.dataset.open);
      if (d) G.open(d);
    }
  });

  // Marks a form's field invalid with the server's message; clears all marks first.
  G.clearErrors = (form) => {
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    for (const el of form.querySelectorAll(".error, .field-error")) el.textContent = "";
  };
  G.fieldError = (form, input, text, line) => {
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
    const target = line || form.querySelector(".error");
    if (target) target.textContent = text;
  };

  // Runs `work` with `button` disabled, so a double click does not send twice.
  G.busy = async (button, work) => {
    button.disabled = true;
    try { return await work(); } finally { button.disabled = false; }
  };

  // ------------------------------------------------------------------ times
  // "3 min ago", "in 23 h"; null past two months (the date itself says more).
  G.relative = (when, now = Date.now()) => {
    const s = Math.round((when - now) / 1000);
    const a = Math.abs(s);
    const say = (n, unit) => (s < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`);
    if (a < 45) return s <= 0 ? "just now" : "in a moment";
    if (a < 3600) return say(Math.max(1, Math.round(a / 60)), "min");
    if (a < 86400) return say(Math.round(a / 3600), "h");
    const d = Math.round(a / 86400);
    return d < 60 ? say(d, d === 1 ? "day" : "days") : null;
  };
  G.times = (root = document) => {
    for (const el of root.querySelectorAll("time[data-relative]")) {
      const t = Date.parse(el.dateTime);
      const text = Number.isNaN(t) ? null : G.relative(t);
      if (!el.dataset.absolute) el.dataset.absolute = el.textContent;
      el.textContent = text || el.dataset.absolute;
    }
  };

  // ------------------------------------------------------------------ list refresh
  // Re-renders the page's [data-refresh] regions from the server (the page renders its
  // lists once, in the templates), so an action's result shows without a reload. `only`
  // names the regions to replace when others may hold unsaved input.
  G.refresh = async (focusSelector, { only } = {}) => {
    let res;
    try {
      res = await fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    } catch (_) {
      G.toast("Cannot reach Gatehouse to update the list; reload the page.", "error");
      return false;
    }
    if (res.redirected && new URL(res.url).pathname === "/login") {
      G.signIn();
      return false;
    }
    if (!res.ok) return false;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    for (const el of document.querySelectorAll("[data-refresh][id]")) {
      if (only && !only.includes(el.id)) continue;
      const fresh = doc.getElementById(el.id);
      if (fresh) el.replaceWith(document.adoptNode(fresh));
    }
    const csrf = doc.querySelector('meta[name="csrf-token"]');
    const mine = document.querySelector('meta[name="csrf-token"]');
    if (csrf && mine) mine.setAttribute("content", csrf.getAttribute("content"));
    G.times();
    if (focusSelector) document.querySelector(focusSelector)?.focus();
    return true;
  };

  // ------------------------------------------------------------------ filter bars
  // A list's filter bar is a plain GET form; here it leaves the fields set to "All" out
  // of the address, so the URL names only the filters in use.
  function setupFilterBars() {
    for (const form of document.querySelectorAll("form.filters")) {
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const q = new URLSearchParams();
        for (const [k, v] of new FormData(form)) {
          if (typeof v === "string" && v.trim()) q.append(k, v.trim());
        }
        const query = q.toString();
        window.location.assign(form.getAttribute("action") + (query ? "?" + query : ""));
      });
    }
  }

  // ------------------------------------------------------------------ copy
  G.copy = async (text) => {
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
  };

  // A text file the browser saves (recovery codes): made in the page, never fetched.
  G.download = (filename, text) => {
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = filename;
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  // ------------------------------------------------------------------ confirm it's you
  // Asks for the password, or (2-step verification on) a code from the authenticator
  // app, and re-authenticates the session; resolves true when it did (the session and
  // its CSRF token are new), false when the user cancelled.
  G.reauthenticate = () => new Promise((resolve) => {
    const d = document.getElementById("reauth-dialog");
    if (!d) { resolve(false); return; }
    const form = document.getElementById("reauth-form");
    const password = document.getElementById("reauth-password");
    const code = document.getElementById("reauth-code");
    const sw = document.getElementById("reauth-switch");
    const submit = document.getElementById("reauth-submit");
    // The nav's status badge says whether an authenticator app is set up (refreshed with
    // it); security keys alone cannot answer here, the password does.
    const mfaOn = document.getElementById("two-step-status")?.dataset.totp === "true";
    let useCode = false;
    let confirmed = false;
    const show = () => {
      document.getElementById("reauth-password-field").hidden = useCode;
      document.getElementById("reauth-code-field").hidden = !useCode;
      sw.hidden = !mfaOn;
      sw.textContent = useCode ? "Use your password instead" : "Use a code from your authenticator app";
      (useCode ? code : password).focus();
    };
    const onSwitch = () => { useCode = !useCode; G.clearErrors(form); show(); };
    const onSubmit = async (ev) => {
      ev.preventDefault();
      G.clearErrors(form);
      const typed = code.value.replace(/\s+/g, "");
      if (useCode && !/^\d{6}$/.test(typed)) return G.fieldError(form, code, "Enter the 6-digit code your authenticator app shows.");
      if (!useCode && !password.value) return G.fieldError(form, password, "Enter your password.");
      const body = useCode ? { code: typed } : { password: password.value };
      const res = await G.busy(submit, () => G.api("POST", "/api/auth/reauthenticate", body, { reauth: false }));
      if (res.leaving) return;
      if (res.status === 200) {
        G.setCsrf(res.data && res.data.csrf_token);
        confirmed = true;
        d.close();
        return;
      }
      const field = res.data && res.data.field;
      G.fieldError(form, field === "code" ? code : field === "password" ? password : null,
        G.sentence(G.message(res.data, res.status), "That"));
    };
    const onClose = () => {
      sw.removeEventListener("click", onSwitch);
      form.removeEventListener("submit", onSubmit);
      d.removeEventListener("close", onClose);
      form.reset();
      G.clearErrors(form);
      resolve(confirmed);
    };
    form.reset();
    G.clearErrors(form);
    sw.addEventListener("click", onSwitch);
    form.addEventListener("submit", onSubmit);
    d.addEventListener("close", onClose);
    d.showModal();
    show();
  });

  // ------------------------------------------------------------------ show-once secret
  // Shows a new secret in the shared panel; resolves when the user presses Done, after
  // the secret has left the page. `usage` names a <template> shown under it.
  G.revealSecret = ({ title, label, value, expiresAt, usage }) => new Promise((resolve) => {
    const d = document.getElementById("secret-dialog");
    const field = document.getElementById("secret-value");
    const status = document.getElementById("secret-copy-status");
    const extra = document.getElementById("secret-extra");
    const expires = document.getElementById("secret-expires");
    document.getElementById("secret-title").textContent = title;
    document.getElementById("secret-label").textContent = label;
    field.value = value;
    status.textContent = "";
    expires.hidden = !expiresAt;
    if (expiresAt) {
      const t = expires.querySelector("time");
      t.dateTime = expiresAt;
      t.textContent = new Date(expiresAt).toISOString().slice(0, 16).replace("T", " ") + " UTC";
    }
    extra.replaceChildren();
    const tpl = usage && document.getElementById(usage);
    if (tpl) {
      extra.appendChild(tpl.content.cloneNode(true));
      for (const el of extra.querySelectorAll(".origin")) el.textContent = window.location.origin;
    }
    const wipe = () => {
      field.value = "";
      extra.replaceChildren();
    };
    d.secretWipe = wipe;
    d.secretDone = resolve;
    d.showModal();
    field.focus();
    field.select();
  });

  function setupSecretPanel() {
    const d = document.getElementById("secret-dialog");
    if (!d) return;
    const field = document.getElementById("secret-value");
    const status = document.getElementById("secret-copy-status");
    // SECURITY: Escape would drop a secret not yet copied; only Done closes the panel.
    d.addEventListener("cancel", (ev) => ev.preventDefault());
    document.getElementById("secret-copy").addEventListener("click", async () => {
      if (await G.copy(field.value)) {
        status.textContent = "Copied to the clipboard";
      } else {
        field.focus();
        field.select();
        status.textContent = "Copy failed: the text is selected, copy it by hand";
      }
    });
    document.getElementById("secret-done").addEventListener("click", () => {
      d.secretWipe?.();
      d.close();
      const done = d.secretDone;
      d.secretDone = null;
      done?.();
    });
    // Leaving the page (even into the back/forward cache) drops the secret too.
    window.addEventListener("pagehide", () => {
      d.secretWipe?.();
      if (d.open) d.close();
    });
  }

  // ------------------------------------------------------------------ webauthn
  // Whether this browser can use security keys and passkeys with the JSON options the
  // server sends (WebAuthn Level 3's parse…FromJSON and toJSON).
  G.webauthnReady = () =>
    typeof window.PublicKeyCredential === "function" &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function" &&
    window.isSecureContext;

  // Runs the browser's side of a ceremony: `options` is the server's {publicKey: …};
  // resolves to { credential } (credential.toJSON()) or { error } (a sentence).
  G.webauthn = async (kind, options) => {
    try {
      const publicKey = kind === "create"
        ? PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey)
        : PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey);
      const cred = kind === "create"
        ? await navigator.credentials.create({ publicKey })
        : await navigator.credentials.get({ publicKey });
      if (!cred) return { error: "The browser returned no answer from the security key. Try again." };
      return { credential: cred.toJSON() };
    } catch (e) {
      return { error: G.webauthnError(e, kind) };
    }
  };

  // The browser's refusals, as a person would put them.
  G.webauthnError = (e, kind) => {
    switch (e && e.name) {
      case "NotAllowedError":
        return "The request was cancelled or timed out. Try again, and touch your security key when it blinks.";
      case "InvalidStateError":
        return kind === "create"
          ? "This security key is registered already. Use another key, or keep the one you have."
          : "This security key cannot be used here. Try another one.";
      case "SecurityError":
        return "This page's address cannot use security keys. Open Gatehouse at its usual address and try again.";
      case "NotSupportedError":
        return "This security key or browser does not support what Gatehouse asks for. Try another key.";
      case "AbortError":
        return "The request was cancelled. Try again.";
      default:
        return "The security key did not work. Try again.";
    }
  };

  // ------------------------------------------------------------------ pages
  // The second step's page, with the ways the password step named (not secret).
  G.secondStepUrl = (methods, next) => {
    const q = [];
    if (Array.isArray(methods) && methods.length) {
      q.push("methods=" + methods.filter((m) => /^[a-z_]+$/.test(m)).join(","));
    }
    if (next) q.push("next=" + encodeURIComponent(next));
    return "/login/mfa" + (q.length ? "?" + q.join("&") : "");
  };

  // "Sign in with a passkey": the discoverable key names the account, and its user
  // verification (PIN or biometric) is the second factor; no password.
  function setupPasskey() {
    const box = document.getElementById("passkey-sign-in");
    if (!box || !G.webauthnReady()) return;
    box.hidden = false;
    const button = document.getElementById("passkey-start");
    const err = document.getElementById("passkey-error");
    button.addEventListener("click", async () => {
      err.textContent = "";
      const next = G.localNext(document.getElementById("login-next")?.value || "");
      await G.busy(button, async () => {
        const start = await G.api("POST", "/api/auth/passkey/start", undefined, { signIn: false });
        if (start.status !== 200 || !start.data || !start.data.options) {
          err.textContent = G.message(start.data, start.status);
          return;
        }
        const answer = await G.webauthn("get", start.data.options);
        if (answer.error) {
          err.textContent = answer.error;
          return;
        }
        const done = await G.api("POST", "/api/auth/passkey/finish",
          { ceremony: start.data.ceremony, credential: answer.credential }, { signIn: false });
        if (done.status === 200) {
          window.location.assign(next || HOME);
          return;
        }
        err.textContent = done.status === 401
          ? "That passkey was not accepted. Sign in with your password, or try another passkey."
          : G.sentence(G.message(done.data, done.status), "That");
      });
    });
  }

  // "Use your security key" on the second step: the pending sign-in's cookie goes with
  // both calls (it is scoped to /api/auth/login).
  function setupSecondStepKey() {
    const button = document.getElementById("login-key-start");
    if (!button) return;
    const err = document.getElementById("login-mfa-error");
    if (!G.webauthnReady()) {
      err.textContent = "This browser cannot use security keys. Use another way below.";
      return;
    }
    button.hidden = false;
    const next = G.localNext(document.getElementById("login-mfa")?.dataset.next || "");
    const expired = () => window.location.assign("/login?error=mfa_expired" + (next ? "&next=" + encodeURIComponent(next) : ""));
    button.addEventListener("click", async () => {
      err.textContent = "";
      await G.busy(button, async () => {
        const start = await G.api("POST", "/api/auth/login/webauthn/start", undefined, { signIn: false });
        if (start.status === 401) return expired();
        if (start.status !== 200 || !start.data || !start.data.options) {
          err.textContent = G.sentence(G.message(start.data, start.status), "That");
          return;
        }
        const answer = await G.webauthn("get", start.data.options);
        if (answer.error) {
          err.textContent = answer.error;
          return;
        }
        const done = await G.api("POST", "/api/auth/login/webauthn/finish",
          { ceremony: start.data.ceremony, credential: answer.credential }, { signIn: false });
        if (done.status === 200) {
          window.location.assign(next || HOME);
          return;
        }
        if (done.status === 401 && done.data && done.data.error === "unauthenticated") return expired();
        err.textContent = done.status === 401
          ? "That security key was not accepted. Try again with the key you added, or use another way below."
          : G.sentence(G.message(done.data, done.status), "That");
      });
    });
    button.focus();
  }

  function setupLogin() {
    const form = document.getElementById("login-form");
    if (!form) return;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = document.getElementById("login-error");
      const button = document.getElementById("login-submit");
      err.textContent = "";
      const username = form.elements.username.value;
      const password = form.elements.password.value;
      const { status, data } = await G.busy(button, () =>
        G.api("POST", "/api/auth/login", { username, password }, { signIn: false }));
      const next = G.localNext(form.elements.next.value);
      if (status === 200 && data && data.mfa_required) {
        // The password was right; the second step has its own page (as without JavaScript).
        window.location.assign(G.secondStepUrl(data.methods, next));
        return;
      }
      if (status === 200) {
        window.location.assign(next || HOME);
        return;
      }
      err.textContent = G.message(data, status);
      form.elements.password.select();
    });
  }

  function setupSignOut() {
    const btn = document.getElementById("sign-out");
    if (!btn) return;
    btn.addEventListener("click", async () => {
      await G.api("POST", "/api/auth/logout", undefined, { signIn: false });
      window.location.assign("/login");
    });
  }

  function setupPassword() {
    const form = document.getElementById("password-form");
    if (!form) return;
    const dialog = document.getElementById("password-dialog");
    const current = document.getElementById("password-current");
    const fresh = document.getElementById("password-new");
    const confirm = document.getElementById("password-confirm");
    const line = (id) => document.getElementById(id);
    dialog.addEventListener("close", () => { form.reset(); G.clearErrors(form); });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      G.clearErrors(form);
      if (!current.value) return G.fieldError(form, current, "Enter your current password.", line("password-current-error"));
      if (fresh.value.length < 12) return G.fieldError(form, fresh, "Use at least 12 characters.", line("password-new-error"));
      if (fresh.value !== confirm.value) return G.fieldError(form, confirm, "The two new passwords differ.", line("password-confirm-error"));
      const signOut = document.getElementById("password-sign-out").checked;
      const body = { current_password: current.value, new_password: fresh.value, sign_out_other_sessions: signOut };
      const res = await G.busy(document.getElementById("password-submit"),
        () => G.api("POST", "/api/auth/password", body));
      if (res.leaving) return;
      if (res.status === 204) {
        dialog.close();
        G.toast(signOut ? "Password changed; your other sessions are signed out" : "Password changed");
        // The session id rotated, and the CSRF token with it.
        await G.refresh();
        return;
      }
      const field = res.data && res.data.field;
      const msg = G.message(res.data, res.status);
      const sentence = (m) => G.sentence(m, "The new password");
      if (field === "current_password") G.fieldError(form, current, sentence(msg).replace(/^The new/, "The current"), line("password-current-error"));
      else if (field === "new_password") G.fieldError(form, fresh, sentence(msg), line("password-new-error"));
      else G.fieldError(form, null, msg);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    setupLogin();
    setupPasskey();
    setupSecondStepKey();
    setupSignOut();
    setupSecretPanel();
    setupPassword();
    setupFilterBars();
    G.times();
    setInterval(() => G.times(), 30_000);
  });
})();
