// The WebSocket to flackd: one text message = one protocol line, both ways. Reconnects on
// its own (1 s doubling to 30 s, with jitter), at once when the browser says it is back
// online, and notices a dead socket by a PING when the window comes back into view.

const MAX_DELAY = 30;
const PONG_WAIT_MS = 10000;
const IDLE_PING_MS = 60000;
// The backoff starts again at 1 s only after a connection has lasted this long, so one
// that is closed right after registering does not come back every second for ever.
const STABLE_MS = 30000;

export function socketUrl(loc = window.location) {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws`;
}

/** Seconds to wait before try number `attempt` (0 first): 1, 2, 4 ... 30, times 0.8-1.2. */
export function backoffDelay(attempt, random = Math.random) {
  return Math.min(MAX_DELAY, 2 ** Math.min(attempt, 10)) * (0.8 + 0.4 * random());
}

export class Connection {
  /** handlers: open(), line(text), closed({code, clean}) -> false (stay closed) or the least
   * seconds to wait before reconnecting, waiting({at, attempt, online}) */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.pingTimer = null;
    this.idleTimer = null;
    this.pings = 0;
    this.stableTimer = null;
    this.wanted = false; // whether the page wants to be connected
    window.addEventListener('online', () => this.onOnline());
    window.addEventListener('offline', () => this.onOffline());
    window.addEventListener('focus', () => this.checkAlive());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.checkAlive();
    });
  }

  get open() {
    return !!this.socket && this.socket.readyState === WebSocket.OPEN;
  }

  /** Connect now (if not connected or connecting). */
  connect() {
    this.wanted = true;
    this.clearTimer();
    if (this.socket) return;
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this.lost({ code: 0, clean: false });
      return;
    }
    this.socket = socket;
    socket.addEventListener('open', () => {
      if (this.socket !== socket) return;
      this.touch();
      this.handlers.open();
    });
    socket.addEventListener('message', (event) => {
      if (this.socket !== socket || typeof event.data !== 'string') return;
      this.touch();
      this.handlers.line(event.data);
    });
    socket.addEventListener('close', (event) => {
      if (this.socket !== socket) return;
      this.lost({ code: event.code, clean: event.wasClean });
    });
  }

  send(line) {
    if (!this.open) return false;
    this.socket.send(line);
    return true;
  }

  /** The socket ended (or never opened): tell the client, then retry unless told not to. */
  lost(info) {
    this.socket = null;
    clearTimeout(this.pingTimer);
    clearTimeout(this.idleTimer);
    this.pingTimer = null;
    clearTimeout(this.stableTimer);
    this.stableTimer = null;
    const wait = this.handlers.closed(info);
    if (this.wanted && wait !== false) this.schedule(wait || 0);
  }

  /** Close on purpose (a page that stops: BYE RESUMED, QUIT); no reconnect. */
  stop() {
    this.wanted = false;
    this.clearTimer();
    this.drop();
  }

  /** Close the socket now; the close event arrives later, so say so at once. */
  drop() {
    const socket = this.socket;
    if (!socket) return;
    try {
      socket.close(1000);
    } catch {
      // already closing
    }
    this.lost({ code: 1000, clean: false });
  }

  /** Wait the backoff delay (at least `minSeconds`), then connect. */
  schedule(minSeconds = 0) {
    this.clearTimer();
    const online = navigator.onLine !== false;
    // Offline: the 'online' event reconnects; the timer is only a fallback. A server's
    // retry=<s> is a minimum: every page waits a little more than it, not all the same.
    const least = minSeconds * (1 + 0.4 * Math.random());
    const delay = online ? Math.max(least, backoffDelay(this.attempt)) : MAX_DELAY;
    this.attempt += 1;
    const at = Date.now() + delay * 1000;
    this.timer = window.setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay * 1000);
    this.handlers.waiting({ at, attempt: this.attempt, online });
  }

  clearTimer() {
    if (this.timer !== null) window.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Connected and registered: once that has lasted STABLE_MS, the next loss starts
   * again at 1 s. */
  resetBackoff() {
    clearTimeout(this.stableTimer);
    this.stableTimer = window.setTimeout(() => {
      this.stableTimer = null;
      this.attempt = 0;
    }, STABLE_MS);
  }

  reconnectNow() {
    this.wanted = true;
    this.drop();
    this.clearTimer();
    this.connect();
  }

  onOnline() {
    if (this.wanted && !this.socket) {
      this.attempt = 0;
      this.connect();
    } else {
      this.checkAlive();
    }
  }

  onOffline() {
    // The network is gone: the socket is dead or soon will be. Say so now and come back
    // on 'online' (resuming the session and catching up) instead of waiting for a timeout.
    if (this.socket) this.drop();
  }

  /** Any line proves the socket alive; after a minute of silence, ask. */
  touch() {
    clearTimeout(this.pingTimer);
    this.pingTimer = null;
    clearTimeout(this.idleTimer);
    this.idleTimer = window.setTimeout(() => this.checkAlive(), IDLE_PING_MS);
  }

  /** PING the server; no line at all within 10 s means the socket is dead. */
  checkAlive() {
    if (!this.open || this.pingTimer !== null) return;
    this.pings += 1;
    this.send(`PING alive-${this.pings}`);
    this.pingTimer = window.setTimeout(() => {
      this.pingTimer = null;
      this.drop();
    }, PONG_WAIT_MS);
  }
}
