// Reading and writing first-party cookies.

/**
 * The raw value of a cookie of the page, or undefined.
 * @param {string} name
 * @returns {string|undefined}
 */
export function readCookie(name) {
  for (const pair of document.cookie.split(/;\s*/)) {
    const at = pair.indexOf("=");
    if (pair.slice(0, at) === name) return pair.slice(at + 1);
  }
}

/**
 * The names of the page's cookies.
 * @returns {string[]}
 */
export function cookieNames() {
  return document.cookie
    .split(/;\s*/)
    .map((pair) => pair.split("=")[0])
    .filter(Boolean);
}

/**
 * Whether `host` is `domain` or one of its subdomains.
 * @param {string} host
 * @param {string} domain with or without a leading dot
 * @returns {boolean}
 */
export function underDomain(host, domain) {
  const bare = domain.replace(/^\./, "");
  return host === bare || host.endsWith("." + bare);
}

/**
 * Writes a cookie for the whole site: path=/, SameSite=Lax, Secure on https pages, and the
 * given domain when the page's host is under it.
 * @param {string} name
 * @param {string} value already encoded
 * @param {{maxAge: number, domain?: string|null}} options
 */
export function writeCookie(name, value, { maxAge, domain }) {
  let cookie = `${name}=${value}; path=/; max-age=${maxAge}; SameSite=Lax`;
  if (location.protocol === "https:") cookie += "; Secure";
  if (domain && underDomain(location.hostname, domain)) cookie += "; domain=" + domain;
  document.cookie = cookie;
}

/**
 * Expires a cookie on every path prefix of the page and every domain it may have been set on:
 * no domain, the host, each parent domain, and `extraDomain` when given.
 * @param {string} name
 * @param {string|null} [extraDomain]
 */
export function expireCookie(name, extraDomain) {
  const labels = location.hostname.split(".");
  const domains = [""];
  for (let i = 0; i < labels.length - 1; i++) domains.push("." + labels.slice(i).join("."));
  domains.push(location.hostname);
  if (extraDomain) domains.push(extraDomain);
  const paths = ["/"];
  const segments = location.pathname.split("/");
  for (let i = 2; i <= segments.length; i++) {
    const path = segments.slice(0, i).join("/");
    paths.push(path, path + "/");
  }
  for (const domain of new Set(domains)) {
    for (const path of new Set(paths)) {
      document.cookie = `${name}=; max-age=0; path=${path}${domain && "; domain=" + domain}`;
    }
  }
}
