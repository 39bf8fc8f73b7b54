// 2-Step Verification tab (Manage MFA Settings): Use Authenticator (QR code, the setup
// key behind "Can't scan the QR code?", the first code), the recovery codes shown once,
// removing the authenticator, security keys (added through the browser's WebAuthn,
// renamed, removed), turning 2-step verification off and making new recovery codes. A
// change that needs a recent sign-in asks "Confirm it's you" inside G.api.
"use strict";

(() => {
  const G = window.Gatehouse;
  const panel = document.getElementById("tab-panel");
  const el = (id) => document.getElementById(id);
  const setup = el("totp-setup-dialog");
  const form = el("totp-form");
  const qr = el("totp-qr");
  const secretBox = el("totp-secret-box");
  const secretField = el("totp-secret");
  const toggle = el("totp-secret-toggle");
  const codeField = el("totp-code");
  const enable = el("totp-enable");
  // The enrolment being confirmed ({ factor_id, ... }); null once the dialog closes.
  let enrolment = null;

  // SECURITY: the setup key and its QR code leave the page with the dialog.
  function wipeSetup() {
    enrolment = null;
    qr.removeAttribute("src");
    secretField.textContent = "";
    secretBox.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    el("totp-secret-status").textContent = "";
    form.reset();
    G.clearErrors(form);
  }
  setup.addEventListener("close", wipeSetup);
  window.addEventListener("pagehide", () => { if (setup.open) setup.close(); });

  async function startSetup(button) {
    const res = await G.busy(button, () => G.api("POST", "/api/mfa/totp"));
    if (res.leaving || res.cancelled) return;
    if (res.status !== 201 || !res.data || !res.data.qr_svg) {
      G.toast(G.message(res.data, res.status), "error");
      return;
    }
    wipeSetup();
    enrolment = res.data;
    // SECURITY: the SVG is drawn by our own server, and shown as an image: an <img>
    // never runs script or loads anything an SVG names (the CSP allows data: images only).
    qr.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(res.data.qr_svg);
    secretField.textContent = res.data.secret;
    G.open(setup);
    codeField.focus();
  }

  toggle.addEventListener("click", () => {
    const show = secretBox.hidden;
    secretBox.hidden = !show;
    toggle.setAttribute("aria-expanded", String(show));
  });

  // Selects the key's text, for copying by hand.
  const selectKey = () => {
    const range = document.createRange();
    range.selectNodeContents(secretField);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  };

  el("totp-secret-copy").addEventListener("click", async () => {
    const status = el("totp-secret-status");
    if (await G.copy(secretField.textContent.replace(/\s+/g, ""))) {
      status.textContent = "Copied to the clipboard";
    } else {
      selectKey();
      status.textContent = "Copy failed: the key is selected, copy it by hand";
    }
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    G.clearErrors(form);
    const code = codeField.value.replace(/\s+/g, "");
    if (!/^\d{6}$/.test(code)) return G.fieldError(form, codeField, "Enter the 6-digit code your authenticator app shows.");
    if (!enrolment) return;
    const res = await G.busy(enable, () =>
      G.api("POST", "/api/mfa/totp/confirm", { code, factor_id: enrolment.factor_id }));
    if (res.leaving || res.cancelled) return;
    if (res.status !== 200 || !res.data) {
      const field = res.data && res.data.field;
      G.fieldError(form, field === "code" ? codeField : null, G.sentence(G.message(res.data, res.status), "That code"));
      return;
    }
    // The session was re-issued with the second factor: a new cookie and CSRF token.
    G.setCsrf(res.data.csrf_token);
    setup.close();
    await G.refresh();
    if (res.data.recovery_codes) {
      await showCodes(res.data.recovery_codes, {
        title: "MFA setup successful",
        intro: "2-Step Verification is on. From now on, signing in asks for a code from your authenticator app.",
      });
    }
    // After the codes' dialog, which says so itself: a toast would cover it on a phone.
    G.toast("2-Step Verification is on");
    document.getElementById("recovery-regenerate")?.focus();
  });

  // ------------------------------------------------------------------ recovery codes
  const codesDialog = el("recovery-dialog");
  const codesList = el("recovery-codes");
  const saved = el("recovery-saved");
  const done = el("recovery-done");
  const codesStatus = el("recovery-status");
  let shownCodes = [];
  let codesClosed = null;

  const codesText = () =>
    "Gatehouse recovery codes for " + (el("current-user")?.textContent.trim() || "your account") + " at " +
    window.location.host + "\n" + "Each code signs you in once. Made " + new Date().toISOString().slice(0, 16).replace("T", " ") +
    " UTC.\n\n" + shownCodes.join("\n") + "\n";

  // Shows a set of codes once; resolves when the user, having ticked the box, presses Done.
  function showCodes(codes, { title, intro }) {
    shownCodes = codes.slice();
    el("recovery-dialog-title").textContent = title;
    el("recovery-dialog-intro").textContent = intro;
    codesList.replaceChildren(...codes.map((c) => {
      const li = document.createElement("li");
      li.textContent = c;
      return li;
    }));
    saved.checked = false;
    done.disabled = true;
    codesStatus.textContent = "";
    codesDialog.showModal();
    el("recovery-copy").focus();
    return new Promise((resolve) => { codesClosed = resolve; });
  }

  // SECURITY: Escape would drop codes not yet saved; only Done closes, once ticked.
  codesDialog.addEventListener("cancel", (ev) => ev.preventDefault());
  saved.addEventListener("change", () => { done.disabled = !saved.checked; });
  el("recovery-copy").addEventListener("click", async () => {
    codesStatus.textContent = (await G.copy(shownCodes.join("\n")))
      ? "Copied to the clipboard"
      : "Copy failed: select the codes and copy them by hand";
  });
  el("recovery-download").addEventListener("click", () => {
    G.download("gatehouse-recovery-codes.txt", codesText());
    codesStatus.textContent = "Saved as gatehouse-recovery-codes.txt in your downloads";
  });
  done.addEventListener("click", () => {
    if (!saved.checked) return;
    shownCodes = [];
    codesList.replaceChildren();
    codesDialog.close();
    const resolve = codesClosed;
    codesClosed = null;
    resolve?.();
  });
  window.addEventListener("pagehide", () => {
    shownCodes = [];
    codesList.replaceChildren();
    if (codesDialog.open) codesDialog.close();
  });

  // ------------------------------------------------------------------ changes
  // A removal or turning off: a toast and the page's state again, or the server's reason.
  async function change(method, path, ok) {
    const res = await G.api(method, path);
    if (res.leaving || res.cancelled) return null;
    if (res.status === 204 || res.status === 201 || (method === "DELETE" && res.status === 404)) {
      if (ok) G.toast(ok);
      await G.refresh();
      return res;
    }
    G.toast(G.message(res.data, res.status), "error");
    return null;
  }

  // ------------------------------------------------------------------ security keys
  // The methods the page lists now (authenticator apps and security keys).
  const methodsLeft = () => panel.querySelectorAll("#totp-list .factor, #security-key-list .factor").length;

  const keyDialog = el("add-security-key-dialog");
  const keyForm = el("security-key-form");
  const keyName = el("security-key-name");
  const keySubmit = el("security-key-submit");
  keyDialog.addEventListener("close", () => { keyForm.reset(); G.clearErrors(keyForm); });

  function openAddKey() {
    keyForm.reset();
    G.clearErrors(keyForm);
    if (!G.webauthnReady()) {
      G.open(keyDialog);
      G.fieldError(keyForm, null, "This browser cannot use security keys. Try a current Chrome, Edge, Firefox or Safari.");
      keySubmit.disabled = true;
      return;
    }
    keySubmit.disabled = false;
    G.open(keyDialog);
  }

  keyForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    G.clearErrors(keyForm);
    const name = keyName.value.trim();
    if (!name) return G.fieldError(keyForm, keyName, "Give the key a name, such as YubiKey 5C.");
    await G.busy(keySubmit, async () => {
      const start = await G.api("POST", "/api/mfa/webauthn/register/start");
      if (start.leaving || start.cancelled) return;
      if (start.status !== 200 || !start.data || !start.data.options) {
        G.fieldError(keyForm, null, G.sentence(G.message(start.data, start.status), "That"));
        return;
      }
      const answer = await G.webauthn("create", start.data.options);
      if (answer.error) return G.fieldError(keyForm, null, answer.error);
      const res = await G.api("POST", "/api/mfa/webauthn/register/finish",
        { ceremony: start.data.ceremony, name, credential: answer.credential });
      if (res.leaving || res.cancelled) return;
      if (res.status !== 201 || !res.data) {
        const field = res.data && res.data.field;
        G.fieldError(keyForm, field === "name" ? keyName : null,
          G.sentence(G.message(res.data, res.status), field === "name" ? "The name" : "That"));
        return;
      }
      // The session was re-issued recording the key: a new cookie and CSRF token.
      G.setCsrf(res.data.csrf_token);
      keyDialog.close();
      await G.refresh();
      if (res.data.recovery_codes) {
        await showCodes(res.data.recovery_codes, {
          title: "MFA setup successful",
          intro: "2-Step Verification is on. From now on, signing in asks for your security key after your password.",
        });
      }
      G.toast(`${res.data.key.name} added`);
      el("security-key-add")?.focus();
    });
  });

  const renameDialog = el("rename-security-key-dialog");
  const renameForm = el("rename-key-form");
  const renameName = el("rename-key-name");
  let renaming = null;
  renameDialog.addEventListener("close", () => { renaming = null; G.clearErrors(renameForm); });

  function openRename(row) {
    renaming = row.dataset.keyId;
    G.clearErrors(renameForm);
    renameName.value = row.dataset.keyName;
    G.open(renameDialog);
    renameName.select();
  }

  renameForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    G.clearErrors(renameForm);
    const name = renameName.value.trim();
    if (!name) return G.fieldError(renameForm, renameName, "Give the key a name.");
    if (!renaming) return;
    const id = renaming;
    const res = await G.busy(el("rename-key-submit"), () =>
      G.api("PATCH", "/api/mfa/webauthn/" + encodeURIComponent(id), { name }));
    if (res.leaving || res.cancelled) return;
    if (res.status !== 204) {
      const field = res.data && res.data.field;
      G.fieldError(renameForm, field === "name" ? renameName : null,
        G.sentence(G.message(res.data, res.status), "The name"));
      return;
    }
    renameDialog.close();
    G.toast(`Renamed to ${name}`);
    await G.refresh();
    document.querySelector(`[data-key-id="${CSS.escape(id)}"] .key-rename`)?.focus();
  });

  panel.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button");
    if (!btn || btn.closest("dialog")) return;
    if (btn.id === "totp-start") return startSetup(btn);
    if (btn.id === "two-step-off-open") {
      if (!(await G.ask(el("turn-off-dialog")))) return;
      await change("DELETE", "/api/mfa", "2-Step Verification is off");
      el("totp-start")?.focus();
      return;
    }
    if (btn.id === "recovery-regenerate") {
      if (!(await G.ask(el("regenerate-dialog")))) return;
      const res = await change("POST", "/api/mfa/recovery-codes", null);
      if (!res || !res.data) return;
      await showCodes(res.data.recovery_codes, {
        title: "New recovery codes",
        intro: "Your previous recovery codes no longer work. These are the ones to keep.",
      });
      el("recovery-regenerate")?.focus();
      return;
    }
    if (btn.id === "security-key-add") return openAddKey();
    if (btn.classList.contains("key-rename")) return openRename(btn.closest("[data-key-id]"));
    if (btn.classList.contains("key-remove")) {
      const row = btn.closest("[data-key-id]");
      const name = row.dataset.keyName;
      el("remove-key-last").hidden = methodsLeft() > 1;
      if (!(await G.ask(el("remove-security-key-dialog"), { name }))) return;
      await change("DELETE", "/api/mfa/webauthn/" + encodeURIComponent(row.dataset.keyId), `${name} removed`);
      el("security-key-add")?.focus();
      return;
    }
    if (btn.classList.contains("factor-remove")) {
      const row = btn.closest("[data-factor-id]");
      const name = row.dataset.factorName;
      // Only the last method turns 2-step verification off; security keys may remain.
      el("remove-totp-last").hidden = methodsLeft() > 1;
      if (!(await G.ask(el("remove-totp-dialog"), { name }))) return;
      await change("DELETE", "/api/mfa/totp/" + encodeURIComponent(row.dataset.factorId), `${name} removed`);
      el("totp-start")?.focus();
    }
  });
})();
