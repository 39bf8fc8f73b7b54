// Tokens tab: Generate Token opens the form, Add Token mints one and shows it once with
// how to use it; Revoke asks first. Shared pieces come from window.Gatehouse.
"use strict";

(() => {
  const G = window.Gatehouse;
  const panel = document.getElementById("tab-panel");
  const dialog = document.getElementById("token-dialog");
  const form = document.getElementById("token-form");
  const submit = document.getElementById("token-create");

  document.getElementById("token-add-open").addEventListener("click", () => {
    form.reset();
    G.clearErrors(form);
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    G.clearErrors(form);
    const body = { expires_in_hours: Number(document.getElementById("token-expiration").value) };
    const name = document.getElementById("token-name").value.trim();
    if (name) body.name = name;
    const res = await G.busy(submit, () => G.api("POST", "/api/tokens", body));
    if (res.leaving) return;
    if (res.status !== 201 || !res.data || !res.data.token) {
      const field = res.data && res.data.field;
      G.fieldError(form, field === "name" ? document.getElementById("token-name") : null, G.message(res.data, res.status));
      return;
    }
    dialog.close();
    G.refresh();
    const shown = G.revealSecret({
      title: "Your new token",
      label: "Token",
      value: res.data.token,
      expiresAt: res.data.expires_at,
      usage: "token-usage",
    });
    G.toast(`Token ${res.data.name} added`);
    await shown;
  });

  const revokeDialog = document.getElementById("revoke-token-dialog");
  panel.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button.token-revoke");
    const row = ev.target.closest("tr[data-token-id]");
    if (!btn || !row) return;
    const name = row.dataset.tokenName;
    if (!(await G.ask(revokeDialog, { name, expires: row.dataset.tokenExpires }))) return;
    const res = await G.api("DELETE", "/api/tokens/" + encodeURIComponent(row.dataset.tokenId));
    if (res.leaving) return;
    // 404: it was already revoked or has expired; either way it is gone.
    if (res.status === 204 || res.status === 404) {
      G.toast(`Token ${name} revoked`);
      await G.refresh();
    } else {
      G.toast(G.message(res.data, res.status), "error");
    }
  });
})();
