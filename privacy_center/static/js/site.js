// Read-aloud of policy pages ("oral reading of this Policy"), with the browser's speech synthesis.
// The button stays hidden unless the browser has a voice for the page's language.
(() => {
  "use strict";
  const button = document.querySelector("[data-read-aloud]");
  const source = document.querySelector("[data-read-aloud-source]");
  const synth = window.speechSynthesis;
  if (!button || !source || !synth || typeof window.SpeechSynthesisUtterance !== "function") {
    return;
  }
  const language = document.documentElement.lang;
  let reading = false;

  const voiceFor = () =>
    synth.getVoices().find((voice) => voice.lang.toLowerCase().split(/[-_]/)[0] === language);

  const updateAvailability = () => {
    button.hidden = !voiceFor();
  };

  // Leaf blocks only, so nested lists are not read twice.
  const passages = () =>
    Array.from(source.querySelectorAll("h2, h3, h4, p, li, dt, dd, caption, th, td"))
      .filter((element) => !element.querySelector("p, li, dd, table"))
      .map((element) => element.textContent.replace(/\s+/g, " ").trim())
      .filter(Boolean);

  const stop = () => {
    reading = false;
    synth.cancel();
    button.textContent = button.dataset.labelStart;
    button.setAttribute("aria-pressed", "false");
  };

  const start = () => {
    const voice = voiceFor();
    const texts = passages();
    synth.cancel();
    texts.forEach((text, index) => {
      const utterance = new window.SpeechSynthesisUtterance(text);
      utterance.lang = voice ? voice.lang : language;
      if (voice) utterance.voice = voice;
      if (index === texts.length - 1) utterance.addEventListener("end", stop);
      synth.speak(utterance);
    });
    reading = true;
    button.textContent = button.dataset.labelStop;
    button.setAttribute("aria-pressed", "true");
  };

  button.setAttribute("aria-pressed", "false");
  button.addEventListener("click", () => (reading ? stop() : start()));
  updateAvailability();
  synth.addEventListener("voiceschanged", updateAvailability);
  window.addEventListener("pagehide", () => synth.cancel());
})();
