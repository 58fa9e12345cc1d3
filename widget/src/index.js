// The consent widget: <script src=".../widget/consent.js" data-site="KEY" defer></script>
import { onClick, apply } from "./actions.js";
import { scan, watch } from "./blocker.js";
import { baseOf, fetchConfig, languageOf, loadStylesheet, ownScript } from "./config.js";
import { on } from "./events.js";
import { consentDefault } from "./gcm.js";
import { renderReceipts, retryPending } from "./receipts.js";
import { getConsent, loadChoice, state } from "./store.js";
import { openDialog, showBanner } from "./ui.js";

if (!(window.PrivacyCenter && window.PrivacyCenter.__loaded)) init();

/** Sets up the widget once: Consent Mode default first, the public API, then the rest. */
function init() {
  consentDefault();
  const ready = start(ownScript()).catch((error) => {
    console.warn(error.message);
    return false;
  });
  const show = (/** @type {Element|null} */ opener) => {
    ready.then((ok) => ok && openDialog(opener || document.activeElement));
  };
  window.PrivacyCenter = { __loaded: true, getConsent, show: () => show(null), on };
  document.addEventListener("click", (event) => onClick(event, show));
}

/**
 * Loads the configuration and the stylesheet, posts the receipts still pending, applies a stored
 * choice or shows the banner.
 * Until then nothing blocked runs.
 * @param {HTMLScriptElement|null} script
 * @returns {Promise<boolean>} true once ready
 */
async function start(script) {
  const site = script && script.dataset.site;
  if (!site) throw new Error('privacy center: the widget script needs a data-site="…" attribute');
  state.base = baseOf(script.src);
  state.config = await fetchConfig(state.base, site, languageOf(script));
  retryPending();
  const styled = state.config.stylesheet ? loadStylesheet(state.config.stylesheet) : undefined;
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
