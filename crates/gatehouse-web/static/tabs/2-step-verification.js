// 2-Step Verification tab (Manage MFA Settings): Use Authenticator (QR code, the setup
// key behind "Can't scan the QR code?", the first code), the recovery codes shown once,
// removing the authenticator, turning 2-step verification off and making new recovery
// codes. A change that needs a recent sign-in asks "Confirm it's you" inside G.api.
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
    if (btn.classList.contains("factor-remove")) {
      const row = btn.closest("[data-factor-id]");
      const name = row.dataset.factorName;
      if (!(await G.ask(el("remove-totp-dialog"), { name }))) return;
      await change("DELETE", "/api/mfa/totp/" + encodeURIComponent(row.dataset.factorId), `${name} removed`);
      el("totp-start")?.focus();
    }
  });
})();
