// Setup, sign in another phone: a new token as a link and a QR code (made by the server) that
// opens the dashboard signed in. Read-only for a screen on the wall, admin for a coach.
import { escapeHtml } from "./format.js";
import { api } from "./http.js";
import { $ } from "./state.js";

async function showCode() {
  const role = $("signin-role").value;
  $("signin-code").innerHTML = "";
  try {
    const code = await api("/sign-in-codes", { method: "POST", json: { name: `phone sign-in (${role})`, role } });
    $("signin-code").innerHTML = `<div class="qr" aria-label="sign-in QR code">${code.qr_svg}</div>`
      + `<p class="muted">Scan with the phone's camera. ${role === "admin" ? "It can change everything." : "It can look, not change."}`
      + ` Revoke it with <code>winkwatch token revoke ${code.token_id}</code>.</p>`
      + `<p><a href="${escapeHtml(code.url)}" class="signin-link">open link</a></p>`;
  } catch (error) {
    $("signin-code").innerHTML = `<p class="error">${escapeHtml(error.message)}</p>`;
  }
}

export function wireSignInCode() {
  $("show-signin-code").addEventListener("click", showCode);
}
