// Proof of consent: the receipt posted for every choice, and the receipt panels of the page.
/* global __PC_BUILD__ */
import { h, nodes } from "./dom.js";
import { getConsent, gpcApplies, state } from "./store.js";

/** The widget's own build id, baked in by widget/build.mjs. */
const BUILD = __PC_BUILD__;

/**
 * Posts the receipt of the stored choice (fire and forget: the cookie is already written).
 * @param {string} action accept-all | reject-all | save | close | embed
 * @returns {Promise<any>} the server's answer, or null when it could not be recorded
 */
export function postReceipt(action) {
  const { config, stored } = state;
  const body = {
    receiptId: stored.r,
    visitorId: stored.id,
    site: config.site,
    policyVersion: config.policyVersion,
    build: BUILD,
    textsHash: config.textsHash,
    language: config.language,
    action,
    gpc: gpcApplies(),
    choices: getConsent(),
  };
  return fetch(config.apiUrl, {
    method: "POST",
    credentials: "omit",
    keepalive: true,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  })
    .then((response) => (response.ok ? response.json() : null))
    .catch(() => null);
}

/** Fills every [data-pc-receipt] element of the page with the current choice and its receipt. */
export function renderReceipts() {
  for (const panel of Array.from(document.querySelectorAll("[data-pc-receipt]"))) {
    panel.replaceChildren(...nodes(receiptPanel()));
  }
}

/**
 * The content of a receipt panel: title, then each category granted or refused and the link to
 * the receipt, or the "no choice yet" text.
 * @returns {Array}
 */
function receiptPanel() {
  const { config, stored, valid, base } = state;
  const { texts, language: lang } = config;
  const title = h("p", { class: "pc-rt", lang }, texts.receiptTitle);
  if (!valid) return [title, h("p", { lang }, texts.noChoice)];
  const consent = getConsent();
  const states = config.categories.map((category) => [
    h("dt", {}, category.name),
    h("dd", {}, consent[category.key] ? texts.granted : texts.refused),
  ]);
  const url = `${base}/api/v1/consents/${encodeURIComponent(stored.r)}`;
  return [
    title,
    h("dl", { class: "pc-rl", lang }, states),
    stored.r && h("p", { lang }, texts.receiptLabel, " ", h("a", { href: url }, stored.r)),
  ];
}
