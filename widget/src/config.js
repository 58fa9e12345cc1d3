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

/**
 * Adds the widget's stylesheet to the page.
 * @param {string} href
 * @returns {Promise<void>} settles when the sheet is loaded (or failed), so nothing shows unstyled
 */
export function loadStylesheet(href) {
  return new Promise((resolve) => {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    link.onload = link.onerror = () => resolve();
    document.head.append(link);
  });
}
