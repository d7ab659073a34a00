// Loaded right after the dashboard's module script, as a classic script (it runs even when
// a module cannot load). If any module of the page fails to load (the phone's network
// changed mid-load, the gateway restarted), the page stayed blank without a word: the module
// script's error event says so, and the page reloads once; if it fails again, the sign-in
// card says what happened. app.js clears the mark once it runs.
(() => {
  const RELOADED = "winkwatch.reloaded";
  const app = document.querySelector('script[type="module"][src$="/app.js"]');
  if (!app) return;
  app.addEventListener("error", () => {
    if (!sessionStorage.getItem(RELOADED)) {
      sessionStorage.setItem(RELOADED, "1");
      location.reload();
      return;
    }
    sessionStorage.removeItem(RELOADED);
    const said = document.getElementById("signin-error");
    if (said) said.textContent = "The dashboard could not load: the connection to the gateway dropped while it loaded. Check the phone is on the gym's network and reload the page.";
  });
})();
