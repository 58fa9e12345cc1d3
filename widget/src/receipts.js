// Proof of consent: the receipt posted for every choice, and the receipt panels of the page.
/* global __PC_BUILD__ */
import { h, nodes } from "./dom.js";
import { fullConfig } from "./load.js";
import { getConsent, gpcApplies, state } from "./store.js";

/** The widget's own build id, baked in by widget/build.mjs. */
const BUILD = __PC_BUILD__;

/** localStorage key of the receipts not acknowledged yet: JSON array of posted bodies. */
export const PENDING = "pc_pending";
/** At most this many pending receipts are kept (the oldest is dropped). */
const KEPT = 5;
/** Answers that refuse the receipt itself: posting it again cannot help. */
const REFUSED = [400, 409, 413, 415, 422];
/** Whether this page has already planned its one delayed retry. */
let retrying = false;

/**
 * Posts the receipt of the stored choice. The cookie is already written; the body is kept in
 * localStorage until the server acknowledges it (or refuses it for good), and posted again with
 * the same receipt id once a little later on this page and on the next page load (also when
 * the privacy center could not be reached at all).
 * @param {string} action accept-all | reject-all | save | close | embed
 * @returns {Promise<any>} the server's answer, or null when it could not be recorded (yet)
 */
export function postReceipt(action) {
  const { config, stored } = state;
  const { services, ...choices } = getConsent();
  const body = {
    receiptId: stored.r,
    visitorId: stored.id,
    site: config.site,
    policyVersion: config.policyVersion,
    build: BUILD,
    textsHash: config.textsHash || null,
    language: config.language,
    action,
    gpc: gpcApplies(),
    choices,
    services,
  };
  keep(pending().concat(body));
  return fullConfig().then(() => send(body), later);
}

/**
 * Posts again every pending receipt (at widget start, then once more after a failure), once
 * the configuration is known: it says what the texts shown were.
 */
export function retryPending() {
  fullConfig().then(() => {
    for (const body of pending()) send(body);
  }, later);
}

/**
 * Plans the page's one retry, 5 seconds later.
 * @returns {null}
 */
function later() {
  if (!retrying) setTimeout(retryPending, 5000);
  retrying = true;
  return null;
}

/**
 * Posts one receipt body; forgets it once acknowledged (2xx) or refused (400, 409, 413, 415,
 * 422); otherwise (network error, 429, 5xx…) plans the page's one retry 5 seconds later.
 * @param {any} body
 * @returns {Promise<any>} the server's answer, or null
 */
function send(body) {
  // Chosen before the configuration came (the banner's texts are the configuration's).
  if (!body.textsHash) body.textsHash = state.config.textsHash;
  return fetch(state.config.apiUrl, {
    method: "POST",
    credentials: "omit",
    keepalive: true,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  })
    .catch(() => ({ status: 0 }))
    .then((response) => {
      if (!response.ok && !REFUSED.includes(response.status)) return later();
      keep(pending().filter((item) => item.receiptId !== body.receiptId));
      return response.ok ? response.json() : null;
    })
    .catch(() => null);
}

/**
 * The pending receipt bodies, oldest first (none when storage is unavailable or damaged).
 * @returns {any[]}
 */
export function pending() {
  try {
    const list = JSON.parse(localStorage.getItem(PENDING) || "[]");
    return Array.isArray(list) ? list.filter((item) => item && item.receiptId) : [];
  } catch (error) {
    return [];
  }
}

/**
 * Stores the pending receipt bodies (the last few), or removes the key when there is none.
 * Without storage (disabled, private mode, full) the receipt is posted once, as before.
 * @param {any[]} list
 */
function keep(list) {
  try {
    if (list.length) localStorage.setItem(PENDING, JSON.stringify(list.slice(-KEPT)));
    else localStorage.removeItem(PENDING);
  } catch (error) {
    // Storage unavailable: nothing kept.
  }
}

/** Fills every [data-pc-receipt] element of the page with the current choice and its receipt. */
export function renderReceipts() {
  for (const panel of document.querySelectorAll("[data-pc-receipt]")) {
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
