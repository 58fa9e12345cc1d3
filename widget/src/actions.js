// What a choice does: store it, forget what was withdrawn, prove it, apply it.
import { scan } from "./blocker.js";
import { forget } from "./cleanup.js";
import { emit } from "./events.js";
import { consentUpdate } from "./gcm.js";
import { fullConfig } from "./load.js";
import { postReceipt, renderReceipts } from "./receipts.js";
import { KEYS, getConsent, gpcApplies, saveChoice, state } from "./store.js";
import { closeDialog, dropCustomize, hideBanner, openDialog, readSwitches } from "./ui.js";

/**
 * Applies the current consent to the page: Consent Mode update, activation of what is granted,
 * receipt panels, then the change notifications.
 */
export function apply() {
  const consent = getConsent();
  consentUpdate(consent);
  scan(document);
  renderReceipts();
  emit(consent);
}

/**
 * Makes a choice: writes the cookie (new receipt id), deletes the cookies and storage of every
 * service refused, closes the layers, posts the receipt, applies the consent.
 * @param {string} action accept-all | reject-all | save | close | embed
 * @param {Object<string, boolean>} consent
 */
export function choose(action, consent) {
  saveChoice(consent);
  // What to delete is in the services' details of the full configuration.
  fullConfig().then(() => {
    const { services } = getConsent();
    for (const category of state.config.categories) {
      for (const service of category.services) if (services[service.key] === false) forget(service);
    }
  }, () => {});
  postReceipt(action);
  closeDialog();
  hideBanner();
  apply();
}

/**
 * Opens the preferences dialog once the full configuration is there; when the privacy center
 * cannot be reached the banner's other choices remain and "Customize" goes away.
 * @param {Element|null} from the control that opened it
 */
export function openPreferences(from) {
  fullConfig().then(() => openDialog(from), dropCustomize);
}

/**
 * The consent for "accept all": everything, except what Global Privacy Control refuses.
 * @returns {Object<string, boolean>}
 */
function acceptAll() {
  const consent = allSet(true);
  if (gpcApplies()) consent.advertising = consent.social = false;
  return consent;
}

/**
 * @param {boolean} value
 * @returns {Object<string, boolean>}
 */
function allSet(value) {
  const consent = {};
  for (const key of KEYS) consent[key] = value;
  return consent;
}

/**
 * Handles a click anywhere on the page: the widget's controls are found by their data attributes.
 * @param {MouseEvent} event
 * @param {(opener: Element) => void} show opens the preferences dialog once ready
 */
export function onClick(event, show) {
  const target = /** @type {Element} */ (event.target);
  if (!target || !target.closest) return;
  const opener = target.closest("[data-pc-open]");
  if (opener) {
    event.preventDefault();
    show(opener);
    return;
  }
  if (!state.config) return;
  const allow = target.closest("[data-pc-allow]");
  const control = target.closest("[data-pc-action]");
  if (allow) {
    // "social" allows the category's services, "social:youtube" that one service.
    const [key, one] = allow.getAttribute("data-pc-allow").split(":");
    const consent = getConsent();
    const category = state.config.categories.find((item) => item.key === key);
    if (KEYS.includes(key)) {
      consent[key] = true;
      for (const service of category.services || []) {
        if (!one || service.key === one) consent.services[service.key] = true;
      }
      choose("embed", consent);
    }
  } else if (target.closest("[data-pc-x]")) {
    closeDialog();
  } else if (control) {
    const action = control.getAttribute("data-pc-action");
    if (action === "customize") openPreferences(control);
    else if (action === "accept-all") choose(action, acceptAll());
    else if (action === "reject-all" || action === "close") choose(action, allSet(false));
    else if (action === "save") choose(action, readSwitches());
  }
}
