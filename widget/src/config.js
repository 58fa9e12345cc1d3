/* global __PC_CSS__ */
// Where the widget comes from, and the site's configuration from the privacy center.

/**
 * The widget's own <script> element.
 * @returns {HTMLScriptElement|null}
 */
export function ownScript() {
  return /** @type {HTMLScriptElement|null} */ (
    document.currentScript || document.querySelector('script[src*="/widget/consent"]')
  );
}

/**
 * The privacy center's base URL, from the script's address (…/widget/consent.js).
 * @param {string} src
 * @returns {string}
 */
export function baseOf(src) {
  const url = new URL(src, location.href);
  return url.origin + url.pathname.replace(/(\/static)?\/widget\/[^/]*$/, "");
}

/**
 * The wanted language: data-lang, else <html lang>, else the browser's (primary subtag).
 * @param {HTMLScriptElement} script
 * @returns {string}
 */
export function languageOf(script) {
  const tag = script.dataset.lang || document.documentElement.lang || navigator.language || "";
  return tag.split(/[-_]/)[0].toLowerCase();
}

/**
 * Fetches the site's configuration (one cacheable request, no cookies).
 * @param {string} base
 * @param {string} site
 * @param {string} language
 * @returns {Promise<any>}
 */
export async function fetchConfig(base, site, language) {
  const query = language ? `?lang=${encodeURIComponent(language)}` : "";
  const response = await fetch(`${base}/api/v1/sites/${encodeURIComponent(site)}/config${query}`, {
    credentials: "omit",
  });
  if (!response.ok) throw new Error(`privacy center: config answered ${response.status}`);
  return response.json();
}

/** Filled in by the privacy center at the widget's stable address (see views.py). */
const BOOT = { b: "__PC_BOOT__" };

/**
 * The configuration the script carries for `site`, when it is in the wanted `language`: enough
 * for the banner, the placeholders and the receipt panels, without the dialog's texts and the
 * cookie details. Null when the script was served as built (hashed address) or for another
 * language: the configuration is fetched first then.
 * @param {string} site
 * @param {string} language
 * @returns {any}
 */
export function builtIn(site, language) {
  const boot = /** @type {any} */ (BOOT.b);
  if (typeof boot !== "object" || !boot.s[site] || (language && language !== boot.c.language)) return null;
  return {
    ...boot.c,
    site,
    policyVersion: boot.v,
    maxAgeSeconds: boot.s[site][0],
    cookieDomain: boot.s[site][1],
    gpc: boot.g,
  };
}

/** The page's room for the banner, set once its height is known (constructed sheets only). */
let room;

/**
 * Installs the widget's styles: a constructed stylesheet (no request, allowed by a strict CSP
 * without 'unsafe-inline'), else the built stylesheet of the same build.
 * @param {string} href the built stylesheet
 * @returns {Promise<void>|undefined}
 */
export function installStyles(href) {
  try {
    const sheet = new CSSStyleSheet();
    room = new CSSStyleSheet();
    sheet.replaceSync(__PC_CSS__);
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet, room];
  } catch (error) {
    return loadStylesheet(href);
  }
}

/**
 * Keeps room under the page's content for the banner while it shows: padding and scroll padding
 * at the bottom of the page equal to its height, followed as it changes, so that neither the
 * end of the page nor the element that has focus is ever under it.
 * @param {HTMLElement} banner
 */
export function keepRoom(banner) {
  if (room) {
    new ResizeObserver(() => {
      const height = banner.offsetHeight + "px";
      room.replaceSync(`.pc-banner-open{padding-bottom:${height};scroll-padding-bottom:${height}}`);
    }).observe(banner);
    // A focused textarea is scrolled only as far as its caret: bring all of it above the banner.
    addEventListener("focusin", (event) =>
      banner.isConnected && !banner.contains(event.target) && event.target.scrollIntoView({ block: "nearest" }),
    );
  }
}

/**
 * Adds the widget's stylesheet to the page.
 * @param {string} href
 * @returns {Promise<void>} settles when the sheet is loaded (or failed), so nothing shows unstyled
 */
function loadStylesheet(href) {
  return new Promise((resolve) => {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    link.onload = link.onerror = resolve;
    document.head.append(link);
  });
}
