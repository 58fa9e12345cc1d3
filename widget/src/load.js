// The full configuration (dialog texts, cookie details), fetched only when it is needed.
import { fetchConfig } from "./config.js";
import { loadChoice, state } from "./store.js";
import { showBanner } from "./ui.js";

/** @type {Promise<void>|null} */
let loading = null;

/**
 * Fetches the site's full configuration once (again after a failure) and merges it into the
 * built-in one; a newer policy version than the script knew asks again.
 * @returns {Promise<void>} rejects when the privacy center cannot be reached
 */
export function fullConfig() {
  if (!loading) {
    const { config } = state;
    loading = fetchConfig(state.base, config.site, config.language).then(
      (fetched) => {
        const wasValid = state.valid;
        state.config = { ...config, ...fetched };
        if (wasValid && !loadChoice()) showBanner();
      },
      (error) => {
        loading = null;
        throw error;
      },
    );
  }
  return loading;
}
