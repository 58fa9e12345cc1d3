// Blocking and activation of <script type="text/plain" data-consent> and <iframe data-consent data-src>.
import { h, format } from "./dom.js";
import { granted, state } from "./store.js";

const BLOCKED =
  'script[type="text/plain"][data-consent]:not([data-pc-done]),iframe[data-consent]:not([data-pc-done])';
const SKIPPED = ["type", "data-consent"];

// Activations run one after the other, in document order, across calls.
let queue = Promise.resolve();

/**
 * Activates the granted blocked elements in (and including) `root`, in document order, and
 * puts a placeholder before each refused iframe.
 * @param {Document|Element} root
 */
export function scan(root) {
  const found = root.matches && root.matches(BLOCKED) ? [root] : [];
  for (const el of [...found, ...root.querySelectorAll(BLOCKED)]) {
    if (granted(el.dataset.consent)) {
      el.setAttribute("data-pc-done", "");
      // A failure is reported but never stops the elements after it.
      queue = queue.then(() => activate(el)).catch((error) => console.error(error));
    } else if (el.tagName === "IFRAME") {
      addPlaceholder(/** @type {HTMLIFrameElement} */ (el));
    }
  }
}

/**
 * Watches the document so that elements added later obey the same rule.
 * @param {(node: Element) => void} [also] called too for each added element
 */
export function watch(also) {
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType === 1) {
          scan(/** @type {Element} */ (node));
          if (also) also(/** @type {Element} */ (node));
        }
      }
    }
  }).observe(document, { childList: true, subtree: true });
}

/**
 * Runs one element: a script is replaced by a live copy (its nonce kept), an iframe gets its
 * source. Resolves when an external script has loaded or failed, to keep the order.
 * @param {Element} el
 * @returns {Promise<void>|void}
 */
function activate(el) {
  if (!el.isConnected) return;
  if (el.tagName === "IFRAME") {
    const placeholder = el.previousElementSibling;
    if (el.hasAttribute("data-pc-ph") && placeholder && placeholder.classList.contains("pc-placeholder")) {
      placeholder.remove();
      el.removeAttribute("data-pc-ph");
      /** @type {HTMLIFrameElement} */ (el).hidden = false;
    }
    const src = /** @type {HTMLElement} */ (el).dataset.src;
    if (src) /** @type {HTMLIFrameElement} */ (el).src = src;
    return;
  }
  const original = /** @type {HTMLScriptElement} */ (el);
  const script = document.createElement("script");
  for (const { name, value } of original.attributes) {
    if (!SKIPPED.includes(name)) script.setAttribute(name, value);
  }
  script.nonce = original.nonce;
  script.text = original.text;
  const loaded = script.src
    ? new Promise((resolve) => {
        script.onload = script.onerror = resolve;
      })
    : undefined;
  original.replaceWith(script);
  return loaded;
}

/**
 * Hides a refused iframe behind a placeholder saying who provides it, with a button to allow it.
 * @param {HTMLIFrameElement} iframe
 */
function addPlaceholder(iframe) {
  if (iframe.hasAttribute("data-pc-ph")) return;
  const { texts, categories } = state.config;
  const key = iframe.dataset.consent;
  const category = categories.find((item) => item.key === key.split(":")[0]);
  let provider = iframe.dataset.provider;
  try {
    provider = provider || new URL(iframe.dataset.src, location.href).hostname;
  } catch (error) {
    provider = provider || "";
  }
  const text = format(texts.placeholderText, {
    provider,
    category: category ? category.name : key,
  });
  iframe.before(
    h(
      "div",
      { class: "pc-placeholder", lang: state.config.language },
      h("p", {}, text),
      h("button", { type: "button", class: "pc-btn", "data-pc-allow": key }, texts.placeholderButton),
    ),
  );
  iframe.setAttribute("data-pc-ph", "");
  iframe.hidden = true;
}
