// Google Consent Mode v2: the default before any tag, an update on every applied choice.

/** Pushes its Arguments object to the dataLayer (created when missing), exactly like Google's
 * gtag snippet. */
function gtag() {
  (window.dataLayer = window.dataLayer || []).push(arguments);
}

import { state } from "./store.js";

const grant = (on) => (on ? "granted" : "denied");

/**
 * Declares everything denied but functionality and security storage (runs synchronously,
 * before any tag can read the dataLayer).
 */
export function consentDefault() {
  gtag("consent", "default", {
    ...signals({}),
    wait_for_update: 500,
  });
}

/**
 * Sends a consent update for an applied choice.
 * @param {Object<string, boolean>} consent
 */
export function consentUpdate(consent) {
  gtag("consent", "update", signals(consent));
}

/**
 * The Consent Mode signals of a consent: each follows its category, or the services the
 * registry maps to it (granted when one of them is).
 * @param {any} consent
 * @returns {Object<string, string>}
 */
function signals(consent) {
  const mapped = {};
  for (const category of (state.config && state.config.categories) || []) {
    for (const service of category.services || []) {
      for (const signal of service.gcm || []) mapped[signal] = mapped[signal] || consent.services[service.key];
    }
  }
  const out = {
    ad_storage: grant(consent.advertising),
    ad_user_data: grant(consent.advertising),
    ad_personalization: grant(consent.advertising),
    analytics_storage: grant(consent.analytics),
    personalization_storage: grant(consent.personalization),
    functionality_storage: "granted",
    security_storage: "granted",
  };
  for (const signal in mapped) out[signal] = grant(mapped[signal]);
  return out;
}
