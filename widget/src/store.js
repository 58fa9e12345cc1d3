// The visitor's choice: kept in the first-party cookie `pc_consent`, read back on each page.
import { readCookie, writeCookie } from "./cookies.js";

/** The categories a visitor chooses (functional is always on). */
export const KEYS = ["analytics", "advertising", "personalization", "social"];

const COOKIE = "pc_consent";
const UUID4 = /^[\da-f]{8}-[\da-f]{4}-4[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/;

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
 *   personalization: boolean, social: boolean, services: Object<string, boolean>}} Consent
 */

/**
 * The consent per category (functional always true, the others true only when chosen) and, in
 * `services`, per service of the registry: granted when its category is and it was not
 * switched off on its own.
 * @returns {Consent}
 */
export function getConsent() {
  const { c = {}, s = {} } = (state.valid && state.stored) || {};
  const consent = { functional: true, services: {} };
  for (const key of KEYS) consent[key] = !!c[key];
  for (const category of (state.config && state.config.categories) || []) {
    for (const { key } of category.services || []) consent.services[key] = consent[category.key] && s[key] !== 0;
  }
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
 * Whether a category ("analytics") or one of its services ("analytics:google-analytics") may
 * run now; a service the registry does not list runs only in the functional category.
 * @param {string} key
 * @returns {boolean}
 */
export function granted(key) {
  const [category, service] = key.split(":");
  const consent = getConsent();
  return consent[category] === true && (!service || category === "functional" || consent.services[service] === true);
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
 * the visitor id is kept). `s` keeps the services switched off in a granted category; a
 * category whose services are all off is refused.
 * @param {any} consent the wanted consent per category, and per service in `services` (when
 *   absent, each service follows its category)
 * @returns {{v: number, id: string, r: string, t: number, c: Object<string, number>, s: Object<string, number>}} the stored choice
 */
export function saveChoice(consent) {
  const { config } = state;
  const c = {};
  const s = {};
  const services = consent.services || {};
  for (const category of config.categories) {
    const keys = (category.services || []).map((service) => service.key);
    for (const key of keys) if (services[key] === false) s[key] = 0;
    c[category.key] = consent[category.key] && (!keys.length || keys.some((key) => s[key] !== 0)) ? 1 : 0;
  }
  delete c.functional;
  const previous = state.stored;
  state.stored = {
    v: config.policyVersion,
    id: previous && UUID4.test(previous.id) ? previous.id : uuid(),
    r: uuid(),
    t: Math.floor(Date.now() / 1000),
    c,
    s,
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
  return crypto.randomUUID
    ? crypto.randomUUID()
    : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (digit) =>
        (digit ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (digit / 4)))).toString(16),
      );
}
