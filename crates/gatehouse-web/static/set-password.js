// The set-password page: a new member chooses their first password with the one-time link
// an admin handed them (/set-password#gsp_…). The secret lives in the fragment, which the
// browser never sends; it is read once, taken out of the address bar and history at once,
// and sent only in the body of POST /api/auth/set-password. No session and no CSRF token
// are involved: the link itself is the credential.
"use strict";

(() => {
  const G = window.Gatehouse;
  // SECURITY: first thing, before anything can read or share the address.
  const take = () => {
    const s = window.location.hash.slice(1);
    if (window.location.hash) history.replaceState(null, "", window.location.pathname);
    return s;
  };
  let secret = take();

  const form = document.getElementById("set-password-form");
  const start = document.getElementById("set-password-start");
  const dead = document.getElementById("set-password-dead");
  const done = document.getElementById("set-password-done");
  const fresh = document.getElementById("set-password-new");
  const confirm = document.getElementById("set-password-confirm");
  const line = (id) => document.getElementById(id);

  const showDead = () => {
    secret = "";
    form.hidden = true;
    start.hidden = true;
    done.hidden = true;
    dead.hidden = false;
    document.title = "Link not valid · Gatehouse";
    line("set-password-dead-login").focus();
  };

  // What the admin panel hands out: gsp_ and URL-safe characters. Anything else cannot
  // be a link, so there is nothing to try.
  const begin = () => {
    if (!/^gsp_[A-Za-z0-9_-]{16,200}$/.test(secret)) return showDead();
    G.clearErrors(form);
    form.reset();
    dead.hidden = true;
    done.hidden = true;
    start.hidden = false;
    form.hidden = false;
    document.title = "Choose your password · Gatehouse";
    fresh.focus();
  };
  begin();
  // A second link opened in this tab changes only the fragment, which loads no page.
  window.addEventListener("hashchange", () => {
    if (!window.location.hash) return;
    secret = take();
    begin();
  });

  // Leaving the page (even into the back/forward cache) drops the secret.
  window.addEventListener("pagehide", () => { secret = ""; fresh.value = ""; confirm.value = ""; });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    G.clearErrors(form);
    if (fresh.value.length < 12) return G.fieldError(form, fresh, "Use at least 12 characters.", line("set-password-new-error"));
    if (fresh.value !== confirm.value) return G.fieldError(form, confirm, "The two passwords differ.", line("set-password-confirm-error"));
    const res = await G.busy(line("set-password-submit"),
      () => G.api("POST", "/api/auth/set-password", { link: secret, password: fresh.value }, { signIn: false, reauth: false }));
    if (res.status === 200 && res.data) {
      secret = "";
      form.reset();
      form.hidden = true;
      start.hidden = true;
      line("set-password-username").textContent = res.data.username;
      done.hidden = false;
      document.title = "Password set · Gatehouse";
      line("set-password-login").focus();
      return;
    }
    const field = res.data && res.data.field;
    if (field === "link") return showDead();
    const msg = G.message(res.data, res.status);
    // A weak password: the link still works, so the form stays for another try.
    if (field === "password") return G.fieldError(form, fresh, G.sentence(msg, "The password"), line("set-password-new-error"));
    G.fieldError(form, null, G.sentence(msg, "That"));
  });
})();
