// The two layers: the banner (non-modal) and the preferences dialog (modal).
import { keepRoom } from "./config.js";
import { h } from "./dom.js";
import { trapFocus } from "./focus.js";
import { getConsent, gpcApplies, state } from "./store.js";

let banner = null;
let overlay = null;
let release = null;
let opener = null;

const button = (action, label) =>
  h("button", { type: "button", class: "pc-btn", "data-pc-action": action }, label);

const policyLink = (texts) => h("a", { href: state.config.policyUrl }, texts.policyLink);

const gpcNotice = (texts) => gpcApplies() && h("p", { class: "pc-gpc" }, texts.gpcNotice);

/**
 * Shows the first layer at the top of the page's focus order (it sits at the bottom of the
 * screen). Its first Tab stop is its first choice; the policy link and "continue without
 * accepting" (shown at the top right) come after the choices.
 */
export function showBanner() {
  if (banner) return;
  const { texts } = state.config;
  banner = h(
    "section",
    { class: "pc-banner", role: "region", "aria-labelledby": "pc-bt", lang: state.config.language },
    h("h2", { id: "pc-bt" }, texts.bannerTitle),
    h("p", {}, texts.bannerText),
    gpcNotice(texts),
    h(
      "div",
      { class: "pc-actions" },
      button("accept-all", texts.acceptAll),
      button("reject-all", texts.rejectAll),
      button("customize", texts.customize),
    ),
    h("p", {}, policyLink(texts)),
    h("button", { type: "button", class: "pc-close", "data-pc-action": "close" }, texts.close),
  );
  document.body.prepend(banner);
  document.documentElement.classList.add("pc-banner-open");
  keepRoom(banner);
}

/** Without the configuration (privacy center unreachable) the banner offers no "Customize". */
export function dropCustomize() {
  const customize = banner && banner.querySelector('[data-pc-action="customize"]');
  if (!customize) return;
  if (document.activeElement === customize) banner.querySelector(".pc-btn").focus();
  customize.remove();
}

/** Removes the banner (after a choice). */
export function hideBanner() {
  if (!banner) return;
  banner.remove();
  banner = null;
  document.documentElement.classList.remove("pc-banner-open");
}

/**
 * Opens the preferences dialog with the current choice filled in; focus moves into it.
 * @param {Element|null} [from] the control that opened it, focused again on close
 */
export function openDialog(from) {
  if (overlay) return;
  const { texts, categories } = state.config;
  const consent = getConsent();
  opener = from || document.activeElement;
  const dialog = h(
    "div",
    {
      class: "pc-dialog",
      role: "dialog",
      "aria-modal": "true",
      "aria-labelledby": "pc-dt",
      lang: state.config.language,
    },
    h("button", { type: "button", class: "pc-x", "aria-label": texts.closeDialog, "data-pc-x": true }, "×"),
    h("h2", { id: "pc-dt" }, texts.dialogTitle),
    h("p", {}, texts.dialogText, " ", policyLink(texts)),
    gpcNotice(texts),
    h("ul", { class: "pc-cats" }, categories.map((category) => categoryRow(category, consent, texts))),
    h(
      "div",
      { class: "pc-actions" },
      button("accept-all", texts.acceptAll),
      button("reject-all", texts.rejectAll),
      button("save", texts.save),
    ),
  );
  dialog.addEventListener("change", follow);
  overlay = h("div", { class: "pc-overlay" }, dialog);
  document.body.append(overlay);
  document.documentElement.classList.add("pc-lock");
  release = trapFocus(dialog, closeDialog);
}

/**
 * One category of the dialog: its switch, purpose and the cookies it sets.
 * @param {any} category
 * @param {Object<string, boolean>} consent
 * @param {any} texts
 * @returns {HTMLElement}
 */
function categoryRow(category, consent, texts) {
  const { key, required } = category;
  const id = "pc-c-" + key;
  const cookies = category.cookies || [];
  return h(
    "li",
    { class: "pc-cat" },
    h(
      "div",
      { class: "pc-row" },
      h("input", {
        type: "checkbox",
        role: "switch",
        class: "pc-sw",
        id,
        "data-pc-category": key,
        "aria-describedby": (required ? "pc-on " : "") + id + "-d",
        checked: required || consent[key],
        disabled: required,
      }),
      h("label", { for: id }, category.name),
      required && h("span", { class: "pc-on", id: "pc-on" }, texts.alwaysOn),
    ),
    !required &&
      h(
        "ul",
        { class: "pc-cats" },
        (category.services || []).map((service) =>
          h(
            "li",
            {},
            h("input", {
              type: "checkbox",
              role: "switch",
              class: "pc-sw",
              id: `${id}-${service.key}`,
              "data-pc-service": service.key,
              checked: consent.services[service.key],
            }),
            h("label", { for: `${id}-${service.key}` }, service.name),
          ),
        ),
      ),
    h("p", { id: id + "-d" }, category.description),
    cookies.length > 0 &&
      h(
        "details",
        {},
        h("summary", {}, texts.cookiesUsed),
        h(
          "ul",
          { class: "pc-ck" },
          cookies.map((cookie) =>
            h(
              "li",
              {},
              h("strong", {}, cookie.name),
              `, ${cookie.provider}, ${cookie.lifetime}`,
              h("span", { class: "pc-cp" }, cookie.purpose),
            ),
          ),
        ),
      ),
  );
}

/**
 * Keeps a category's switches together: the category's switch turns all its services on or
 * off; a category is on when one of its services is.
 * @param {Event} event
 */
function follow(event) {
  const input = /** @type {HTMLInputElement} */ (event.target);
  const row = input.closest(".pc-cat");
  const services = [...row.querySelectorAll("[data-pc-service]")];
  if (input.dataset.pcCategory) for (const service of services) service.checked = input.checked;
  else row.querySelector("[data-pc-category]").checked = services.some((service) => service.checked);
}

/**
 * The consent set by the dialog's switches, per category and per service.
 * @returns {any}
 */
export function readSwitches() {
  const consent = getConsent();
  for (const input of document.querySelectorAll(".pc-dialog .pc-sw")) {
    const { pcCategory, pcService } = input.dataset;
    if (pcCategory) consent[pcCategory] = input.checked;
    else consent.services[pcService] = input.checked;
  }
  return consent;
}

/** Closes the dialog without saving; focus returns to the control that opened it. */
export function closeDialog() {
  if (!overlay) return;
  release();
  overlay.remove();
  overlay = null;
  document.documentElement.classList.remove("pc-lock");
  if (opener && opener.isConnected && opener.focus) opener.focus();
  opener = null;
}
