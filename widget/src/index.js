// The consent widget: <script src=".../widget/consent.js?lang=xx" data-site="KEY" defer></script>
/* global __PC_BUILD__ */
import { onClick, apply, openPreferences } from "./actions.js";
import { scan, watch } from "./blocker.js";
import { baseOf, builtIn, languageOf, installStyles, ownScript } from "./config.js";
import { on } from "./events.js";
import { consentDefault } from "./gcm.js";
import { fullConfig } from "./load.js";
import { pending, renderReceipts, retryPending } from "./receipts.js";
import { getConsent, loadChoice, state } from "./store.js";
import { showBanner } from "./ui.js";

if (!(window.PrivacyCenter && window.PrivacyCenter.__loaded)) init();

/** Sets up the widget once: Consent Mode default first, the public API, then the rest. */
function init() {
  consentDefault();
  const ready = start(ownScript()).catch((error) => {
    console.warn(error.message);
    return false;
  });
  const show = (/** @type {Element|null} */ opener) => {
    const from = opener || document.activeElement;
    ready.then((ok) => ok && openPreferences(from));
  };
  window.PrivacyCenter = { __loaded: true, getConsent, show: () => show(null), on };
  document.addEventListener("click", (event) => onClick(event, show));
}

/**
 * Shows the banner with what the script carries (no other request before it), or with the
 * fetched configuration when the script was served as built; applies a stored choice; posts
 * the receipts still pending. Until then nothing blocked runs.
 * @param {HTMLScriptElement|null} script
 * @returns {Promise<boolean>} true once ready
 */
async function start(script) {
  const site = script && script.dataset.site;
  if (!site) throw new Error("privacy center: the widget's script has no data-site");
  state.base = baseOf(script.src);
  const language = languageOf(script);
  const styled = installStyles(`${state.base}/widget/consent.${__PC_BUILD__}.css`);
  state.config = builtIn(site, language) || { site, language };
  if (!state.config.texts) await fullConfig();
  if (pending().length) retryPending();
  if (document.readyState === "loading") {
    await new Promise((resolve) => document.addEventListener("DOMContentLoaded", resolve, { once: true }));
  }
  const chosen = loadChoice();
  if (chosen) apply();
  else {
    scan(document);
    renderReceipts();
  }
  watch((node) => {
    if (node.matches("[data-pc-receipt]") || node.querySelector("[data-pc-receipt]")) renderReceipts();
  });
  await styled;
  if (!chosen) showBanner();
  return true;
}
