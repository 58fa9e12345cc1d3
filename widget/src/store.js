// The visitor's choice: kept in the first-party cookie `pc_consent`, read back on each page.
import { readCookie, writeCookie } from "./cookies.js";

/** The categories a visitor chooses (functional is always on). */
export const KEYS = ["analytics", "advertising", "personalization", "social"];

const COOKIE = "pc_consent";
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Shared state: the server's config, the base URL, and the stored choice. */
export const state = {
  /** @type {any} */ config: null,
  base: "",
  /** The last choice read or written, of any policy version: {v, id, r, t, c}. */
  /** @type {any} */ stored: null,
  /** Whether `stored` is a choice for the current policy version (the banner is not needed). */
  valid: false,
};

/**
 * @typedef {{functional: boolean, analytics: boolean, advertising: boolean,
 *   personalization: boolean, social: boolean}} Consent
 */

/**
 * The consent per category: functional always true, the others true only when chosen.
 * @returns {Consent}
 */
export function getConsent() {
  const chosen = (state.valid && state.stored.c) || {};
  const consent = { functional: true };
  for (const key of KEYS) consent[key] = !!chosen[key];
  return /** @type {any} */ (consent);
}

/**
 * Whether Global Privacy Control applies (the browser's signal, or the config request's).
 * @returns {boolean}
 */
export function gpcApplies() {
  return navigator.globalPrivacyControl === true || state.config.gpc === true;
}

/**
 * Whether a category may run now.
 * @param {string} key
 * @returns {boolean}
 */
export function granted(key) {
  return getConsent()[key] === true;
}

/**
 * Reads the `pc_consent` cookie into `state`; valid when it parses and is for the current policy.
 * @returns {boolean} whether a valid choice was found
 */
export function loadChoice() {
  try {
    const stored = JSON.parse(decodeURIComponent(readCookie(COOKIE) || ""));
    if (stored && typeof stored === "object") state.stored = stored;
  } catch (error) {
    // Absent or damaged: ask again.
  }
  // ≥: the script (cached up to an hour) may know an older version than the visitor chose for.
  state.valid = !!state.stored && state.stored.v >= state.config.policyVersion;
  return state.valid;
}

/**
 * Records a new choice in `state` and writes the cookie at once (a new receipt id each time;
 * the visitor id is kept).
 * @param {Object<string, boolean>} consent the wanted consent per category
 * @returns {{v: number, id: string, r: string, t: number, c: Object<string, number>}} the stored choice
 */
export function saveChoice(consent) {
  const { config } = state;
  const c = {};
  for (const key of KEYS) c[key] = consent[key] ? 1 : 0;
  const previous = state.stored;
  state.stored = {
    v: config.policyVersion,
    id: previous && UUID4.test(previous.id) ? previous.id : uuid(),
    r: uuid(),
    t: Math.floor(Date.now() / 1000),
    c,
  };
  state.valid = true;
  writeCookie(COOKIE, encodeURIComponent(JSON.stringify(state.stored)), {
    maxAge: config.maxAgeSeconds,
    domain: config.cookieDomain,
  });
  return state.stored;
}

/**
 * A random (version 4) UUID; `crypto.randomUUID` only exists on secure pages.
 * @returns {string}
 */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 15) | 64;
  bytes[8] = (bytes[8] & 63) | 128;
  const hex = Array.from(bytes, (byte) => (byte + 256).toString(16).slice(1)).join("");
  return hex.replace(/^(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");
}
