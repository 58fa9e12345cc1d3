// Keeping keyboard focus inside a modal dialog.

// What the dialog holds (the widget builds it): links, buttons, switches, cookie details.
const FOCUSABLE = "a[href],button,input:not(:disabled),summary";

/**
 * The elements of `container` reachable with Tab, in order.
 * @param {Element} container
 * @returns {HTMLElement[]}
 */
export function focusables(container) {
  return [...container.querySelectorAll(FOCUSABLE)].filter(
    (el) => /** @type {HTMLElement} */ (el).getClientRects().length > 0,
  );
}

/**
 * Traps focus in `dialog`: moves focus in, wraps Tab and Shift+Tab, brings back focus that
 * leaves it, and calls `onEscape` on Esc.
 * @param {HTMLElement} dialog
 * @param {() => void} onEscape
 * @returns {() => void} releases the trap
 */
export function trapFocus(dialog, onEscape) {
  const onKey = (/** @type {KeyboardEvent} */ event) => {
    if (event.key === "Escape" || event.key === "Esc") {
      event.preventDefault();
      onEscape();
    } else if (event.key === "Tab") {
      const items = focusables(dialog);
      const first = items[0];
      const last = items[items.length - 1];
      const active = document.activeElement;
      if (event.shiftKey ? active === first || !dialog.contains(active) : active === last) {
        event.preventDefault();
        (event.shiftKey ? last : first).focus();
      }
    }
  };
  const onFocus = (/** @type {FocusEvent} */ event) => {
    if (!dialog.contains(/** @type {Node} */ (event.target))) focusables(dialog)[0].focus();
  };
  document.addEventListener("keydown", onKey, true);
  document.addEventListener("focusin", onFocus);
  focusables(dialog)[0].focus();
  return () => {
    document.removeEventListener("keydown", onKey, true);
    document.removeEventListener("focusin", onFocus);
  };
}
