// When a live view's WebSocket reconnects after it closed. One backoff for the Live and Gym
// views: 1 s, doubling to 15 s, back to 1 s only after a socket that stayed open long enough to
// have been a working connection (a socket the server opens and closes at once, as it does
// while this address is locked out for rejected tokens, must not reset it), and never sooner
// than the server's "wait N s" of a 4429 close.
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 15000;
const STEADY_MS = 10000;       // open this long: the connection worked, start again from 1 s
const TOO_MANY_ATTEMPTS = 4429;  // the server's close code mirroring HTTP 429

export function newBackoff() {
  return { retryMs: RECONNECT_MIN_MS, openedAtMs: null };
}

export function opened(backoff) {
  backoff.openedAtMs = Date.now();
}

// The delay before the next attempt after `close` (a CloseEvent); advances the backoff.
export function nextDelayMs(backoff, close) {
  const steady = backoff.openedAtMs !== null && Date.now() - backoff.openedAtMs >= STEADY_MS;
  backoff.openedAtMs = null;
  let delayMs = steady ? RECONNECT_MIN_MS : backoff.retryMs;
  if (close.code === TOO_MANY_ATTEMPTS) {
    const wait = /wait (\d+) s/.exec(close.reason || "");
    delayMs = Math.max(delayMs, wait ? Number(wait[1]) * 1000 : RECONNECT_MAX_MS);
  }
  backoff.retryMs = Math.min(Math.max(delayMs, RECONNECT_MIN_MS) * 2, RECONNECT_MAX_MS);
  return delayMs;
}
