// The public change notifications: `PrivacyCenter.on("change", fn)` and the `pc:change` event.

const listeners = [];

// Each listener gets its own copy: one cannot change what the others see.
const copy = (consent) => ({ ...consent, services: { ...consent.services } });

/**
 * Subscribes to an event of the widget (only "change" exists).
 * @param {string} type
 * @param {(consent: any) => void} fn the consent per category, and per service in `services`
 * @returns {() => void} a function that unsubscribes
 */
export function on(type, fn) {
  if (type === "change" && typeof fn === "function") listeners.push(fn);
  return () => {
    const at = listeners.indexOf(fn);
    if (at >= 0) listeners.splice(at, 1);
  };
}

/**
 * Tells the listeners and the document about an applied consent; a failing listener neither
 * stops the others nor the widget (its error is reported asynchronously).
 * @param {Object<string, boolean>} consent
 */
export function emit(consent) {
  for (const fn of listeners.slice()) {
    try {
      fn(copy(consent));
    } catch (error) {
      setTimeout(() => {
        throw error;
      });
    }
  }
  document.dispatchEvent(new CustomEvent("pc:change", { detail: copy(consent) }));
}
