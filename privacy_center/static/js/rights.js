// Rights forms: tell at once when a chosen file is too large, instead of sending it and losing
// the form to a "too large" answer. Without JavaScript the server checks the same limits.
(() => {
  "use strict";
  for (const input of document.querySelectorAll("input[type=file][data-max-bytes]")) {
    const limit = Number(input.dataset.maxBytes);
    const error = document.getElementById(`${input.id}-error`);
    if (!limit || !error) continue;

    const describe = (withError) => {
      const ids = new Set((input.getAttribute("aria-describedby") || "").split(" "));
      ids.delete("");
      if (withError) ids.add(error.id);
      else ids.delete(error.id);
      if (ids.size) input.setAttribute("aria-describedby", [...ids].join(" "));
      else input.removeAttribute("aria-describedby");
    };

    // A newly chosen file replaces whatever was wrong with the previous choice.
    const check = () => {
      const file = input.files && input.files[0];
      const tooLarge = Boolean(file && file.size > limit);
      input.setCustomValidity(tooLarge ? input.dataset.tooLarge : "");
      if (tooLarge) {
        error.textContent = input.dataset.tooLarge;
        input.setAttribute("aria-invalid", "true");
      } else {
        error.textContent = "";
        input.removeAttribute("aria-invalid");
      }
      error.hidden = !tooLarge;
      describe(tooLarge);
      return !tooLarge;
    };

    input.addEventListener("change", check);
    input.form?.addEventListener("submit", (event) => {
      if (input.files && input.files.length && !check()) {
        event.preventDefault();
        input.focus();
      }
    });
  }
})();
