// Policies section of the admin panel: reads the form into the whole policy document and
// saves it with PUT /api/admin/policy. The server is the judge: a refused field comes back
// as 422 naming it, shown at that field, and nothing is changed. Shared pieces come from
// window.Gatehouse.
"use strict";

(() => {
  const G = window.Gatehouse;
  const form = document.getElementById("policy-form");
  const save = document.getElementById("policy-save");
  // Read-only (no org:policy:write): the fields are disabled and there is no Save.
  if (!form || !save) return;

  const el = (name) => document.getElementById("policy-" + name);
  const errorLine = (name) => document.getElementById(`policy-${name}-error`);
  const checked = (name) => el(name).checked;
  const hoursOf = (name) => Number(el(name).value);

  // The input to focus for a field: a group of checkboxes focuses its first box.
  const focusable = (name) => {
    const e = el(name);
    return e && e.tagName === "FIELDSET" ? e.querySelector("input") : e;
  };

  // A cap's box: empty is the server's limit (null); anything else a whole number.
  const capOf = (name) => {
    const raw = el(name).value.trim();
    if (raw === "") return { value: null };
    if (!/^\d+$/.test(raw)) return { error: "Enter a whole number, or leave it empty for the server's limit." };
    return { value: Number(raw) };
  };

  function read() {
    const caps = {};
    for (const name of ["max_api_keys_per_account", "max_tokens_per_account", "max_ssh_keys_per_account", "max_ssh_private_keys_per_account"]) {
      const c = capOf(name);
      if (c.error) return { field: name, error: c.error };
      caps[name] = c.value;
    }
    const policy = {
      api_key_expirations: Array.from(form.querySelectorAll('input[name="api_key_expirations"]:checked'), (b) => b.value),
      api_key_default_expiration: el("api_key_default_expiration").value,
      api_key_user_choice: checked("api_key_user_choice"),
      token_max_hours: hoursOf("token_max_hours"),
      token_default_hours: hoursOf("token_default_hours"),
      token_user_choice: checked("token_user_choice"),
      require_disable_before_delete: checked("require_disable_before_delete"),
      require_mfa: checked("require_mfa"),
      enforce_security_key: checked("enforce_security_key"),
      passkey_sign_in: checked("passkey_sign_in"),
      security_key_models: el("security_key_models").value.split(",").map((m) => m.trim()).filter(Boolean),
      ...caps,
    };
    return { policy };
  }

  // The label a field's message starts with ("Default API key expiration must be …").
  const labelOf = (name) => {
    const box = form.querySelector(`[data-policy-field="${CSS.escape(name)}"]`);
    const label = box && box.querySelector("legend, label");
    return label ? label.textContent.trim() : "That";
  };

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    G.clearErrors(form);
    const read_ = read();
    if (read_.error) return G.fieldError(form, focusable(read_.field), read_.error, errorLine(read_.field));
    const res = await G.busy(save, () => G.api("PUT", "/api/admin/policy", read_.policy));
    if (res.leaving || res.cancelled) return;
    if (res.status === 200) {
      G.toast("Policies saved");
      return;
    }
    const field = res.data && res.data.field;
    const msg = G.message(res.data, res.status);
    if (field && errorLine(field)) {
      G.fieldError(form, focusable(field), G.sentence(msg, labelOf(field)), errorLine(field));
    } else {
      G.fieldError(form, null, G.sentence(msg, "That"));
    }
  });
})();
