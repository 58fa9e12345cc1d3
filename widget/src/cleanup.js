// Withdrawal: forget what a refused service stored on this site.
import { cookieNames, expireCookie } from "./cookies.js";
import { PENDING } from "./receipts.js";

/**
 * A matcher for a registry name pattern, where `*` stands for any characters.
 * @param {string} pattern
 * @returns {RegExp}
 */
export function patternToRegExp(pattern) {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`);
}

/**
 * Deletes the cookies the registry lists for a service (on every path and domain they may live
 * on) and the localStorage/sessionStorage keys matching its storage or cookie patterns (never
 * the widget's own pending receipts).
 * Scripts that already run cannot be unloaded; what they stored is removed.
 * @param {{cookies?: Array<{name: string, domain?: string|null}>, storage?: string[]}} service
 */
export function forget(service) {
  const cookies = (service.cookies || []).map((cookie) => [
    patternToRegExp(cookie.name),
    cookie.domain,
  ]);
  for (const name of cookieNames()) {
    for (const [regexp, domain] of cookies) if (regexp.test(name)) expireCookie(name, domain);
  }
  const keys = (service.storage || []).map(patternToRegExp).concat(cookies.map(([regexp]) => regexp));
  for (const area of ["localStorage", "sessionStorage"]) {
    try {
      const storage = window[area];
      for (const key of Object.keys(storage)) {
        if (key !== PENDING && keys.some((regexp) => regexp.test(key))) storage.removeItem(key);
      }
    } catch (error) {
      // Storage disabled by the browser: nothing to forget.
    }
  }
}
