// gateway-client.js: the agent websocket of the event gateway, for browser dashboards.
// One ES module, no dependency, no build step: `import { GatewayClient } from "/gateway-client.js"`.
//
// What it does for the page:
// - authenticates with a first `auth` frame (a browser cannot set headers on a websocket);
// - reconnects after any drop with exponential backoff and jitter, resuming after the last
//   event it delivered (`lastEventId`): nothing missing, nothing twice; when the gateway no
//   longer holds that far back, `onRecovered({recovered: false})` tells the page to reload;
// - backs off for longer (`backoff.rateLimitedMs`) after the gateway closed it for flooding
//   (4429), and asks the page for a new token once after a refused one (4001, 4003) instead
//   of trying the same token again and again;
// - asks the page for a new token (`refreshToken`) before the current one expires, and sends
//   it as a `refresh` frame (or uses it for the next connection);
// - answers heartbeats, and treats a connection that missed two of them as dead;
// - keeps the page's `subscribe` narrowing (as the gateway confirmed it) and `status` across
//   reconnections.
// See docs/browser-client.md for the options and callbacks.

const DEFAULTS = {
  history: null, // {seconds, limit}: recent events replayed on the first connection
  backoff: { initialMs: 500, maxMs: 30000, rateLimitedMs: 10000 },
  refreshBeforeSeconds: 60,
};

// Closes after which reconnecting cannot help.
const FINAL_CLOSES = {
  4400: "malformed", // a frame the gateway refused: a bug to fix, not to retry
};
// Closes refusing the token: worth one more try only with a new token from the page.
const TOKEN_REFUSALS = {
  4001: "unauthorized", // bad, expired or missing credentials
  4003: "forbidden", // the token grants no hub
};
const CLOSE_RATE_LIMITED = 4429; // this client sent frames faster than the gateway allows

export const STATES = Object.freeze(["idle", "connecting", "open", "reconnecting", "closed"]);

function defaultUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

function noop() {}

export class GatewayClient {
  /**
   * @param {object} options
   * @param {string} [options.url] websocket URL (default: `/ws` on the page's own host)
   * @param {string|(() => string|Promise<string>)} options.token the agent JWT, or a function
   *   returning it
   * @param {() => string|Promise<string>} [options.refreshToken] a new JWT for the same agent,
   *   called ahead of expiry; without it the session ends when the token expires
   * @param {{hubIds?: string[], conversationIds?: string[], events?: string[]}} [options.subscribe]
   * @param {{seconds: number, limit?: number}} [options.history]
   * @param {{initialMs?: number, maxMs?: number, rateLimitedMs?: number}} [options.backoff]
   * @param {number} [options.refreshBeforeSeconds]
   * @param {(event: object, info: {replayed: boolean}) => void} [options.onEvent]
   * @param {(presence: {hubId: string, agents: object[]}) => void} [options.onPresence]
   * @param {(state: string, detail: object) => void} [options.onState]
   * @param {(ready: object) => void} [options.onReady]
   * @param {(result: {recovered: boolean, count: number, history: boolean}) => void} [options.onRecovered]
   * @param {(error: {code: string, message: string}) => void} [options.onError]
   */
  constructor(options) {
    if (!options || !options.token) throw new TypeError("GatewayClient needs a token");
    this.options = { ...DEFAULTS, ...options, backoff: { ...DEFAULTS.backoff, ...options.backoff } };
    this.url = options.url || defaultUrl();
    this.state = "idle";
    this.lastEventId = null;
    this.session = null; // the last `ready` frame
    this.expiresAt = null; // ms since the epoch
    this._token = typeof options.token === "string" ? options.token : null;
    // What the next `auth` frame narrows to, and which fields the page ever narrowed.
    this._narrowing = narrowingFields(options.subscribe || {});
    this._narrowed = new Set(Object.keys(this._narrowing));
    this._narrowingUnsent = false;
    this._status = null;
    this._ws = null;
    this._attempt = 0;
    this._timers = { reconnect: null, refresh: null, watchdog: null };
    this._replaying = false;
    this._historyPending = false;
    this._refreshing = null;
    this._refused = null; // {token, reason, code} of a refusal not yet followed by `ready`
    this._generation = 0; // bumped by close() and restart(): an attempt under way is dropped
  }

  /** Open the connection (once; the client reconnects by itself afterwards). */
  connect() {
    if (this.state !== "idle" && this.state !== "closed") return this;
    this._historyPending = Boolean(this.options.history) && this.lastEventId === null;
    this._open();
    return this;
  }

  /** Close for good: no reconnection. */
  close() {
    this._teardown();
    this._setState("closed", { reason: "closed" });
  }

  /**
   * Start over without resuming: the page threw its view away (after `recovered: false`) and
   * wants a fresh one, with the recent history when `options.history` asks for it.
   */
  restart() {
    this._teardown();
    this.lastEventId = null;
    this.session = null;
    this._attempt = 0;
    this._refused = null;
    this.state = "idle";
    return this.connect();
  }

  /** Set the agent's status ("available", "busy", "unavailable"); kept across reconnections. */
  setStatus(status) {
    this._status = status;
    this._send({ type: "status", status });
  }

  /**
   * Narrow the session within the token; the fields not given stay as they are, as on the
   * gateway. What the gateway confirms (`onSubscribed`) is kept across reconnections; a
   * refusal (`onError`) changes nothing. While disconnected, it goes with the next `auth`.
   */
  subscribe(narrowing) {
    const fields = narrowingFields(narrowing || {});
    for (const name of Object.keys(fields)) this._narrowed.add(name);
    if (this.state === "open") {
      this._send({ type: "subscribe", ...fields });
    } else {
      this._narrowing = { ...this._narrowing, ...fields };
      this._narrowingUnsent = true; // unless an `auth` frame takes it, sent once ready
    }
  }

  // -- connection ----------------------------------------------------------------------------

  async _open() {
    const generation = this._generation;
    this._setState(this.session ? "reconnecting" : "connecting", { attempt: this._attempt });
    let token;
    try {
      token = await this._currentToken();
    } catch (error) {
      if (generation !== this._generation) return;
      this._report({ code: "token_unavailable", message: String(error && error.message || error) });
      this._scheduleReconnect();
      return;
    }
    // Closed or restarted while the page's token function ran: this attempt is void.
    if (generation !== this._generation) return;
    if (this._refused && token === this._refused.token) {
      const { reason, code } = this._refused;
      this._setState("closed", { reason, code }); // the page has no other token to offer
      return;
    }
    const ws = new WebSocket(this.url);
    this._ws = ws;
    ws.onopen = () => ws.send(JSON.stringify(this._authFrame(token)));
    ws.onmessage = (message) => this._receive(ws, message);
    ws.onclose = (close) => this._closed(ws, close.code, close.reason);
    ws.onerror = noop; // a close event always follows
  }

  async _currentToken() {
    if (this._token && !this._expiresSoon(this._token)) return this._token;
    const { token, refreshToken } = this.options;
    const source = typeof token === "function" && !this._token ? token : refreshToken;
    this._token = typeof source === "function" ? await source() : null;
    if (!this._token) throw new Error("no token");
    return this._token;
  }

  _expiresSoon(token) {
    const exp = tokenExpiry(token);
    return exp !== null && exp - Date.now() < 5000 && typeof this.options.refreshToken === "function";
  }

  _authFrame(token) {
    const frame = { type: "auth", token, ...this._narrowing };
    this._narrowingUnsent = false;
    if (this.lastEventId) {
      frame.lastEventId = this.lastEventId;
    } else if (this._historyPending) {
      frame.historySeconds = this.options.history.seconds;
      if (this.options.history.limit) frame.historyLimit = this.options.history.limit;
    }
    this._replaying = Boolean(frame.lastEventId || frame.historySeconds);
    return frame;
  }

  _receive(ws, message) {
    if (ws !== this._ws) return;
    let frame;
    try {
      frame = JSON.parse(message.data);
    } catch {
      return;
    }
    this._armWatchdog();
    switch (frame.type) {
      case "ready":
        return this._ready(frame);
      case "event":
        return this._event(frame.event);
      case "recovered":
        this._replaying = false;
        this._historyPending = false;
        // Nothing replayed to resume after, or a resume the gateway could not honour (it
        // went live from where this session joined): resume from that point next time.
        if (this._liveFrom && (this.lastEventId === null || !frame.recovered)) {
          this.lastEventId = this._liveFrom;
        }
        return this._call("onRecovered", {
          recovered: frame.recovered,
          count: frame.count,
          history: !this._resumed,
        });
      case "presence":
        return this._call("onPresence", { hubId: frame.hubId, agents: frame.agents });
      case "ping":
        return this._send({ type: "pong" });
      case "refreshed":
        this.expiresAt = Date.parse(frame.expiresAt);
        return this._scheduleRefresh();
      case "subscribed":
        this._narrowing = this._confirmed(frame);
        return this._call("onSubscribed", frame);
      case "error":
        if (frame.error && frame.error.code === "expired_token") this._refreshNow();
        return this._report(frame.error || { code: "error", message: "" });
      default:
        return undefined; // frames added later are ignored, not fatal
    }
  }

  _ready(frame) {
    this.session = frame;
    this._resumed = Boolean(this.lastEventId);
    // Where this session went live: a connection that drops before its first event resumes
    // from here, so events published while it was away still arrive.
    this._liveFrom = typeof frame.lastEventId === "string" ? frame.lastEventId : null;
    if (!this._replaying && this.lastEventId === null) this.lastEventId = this._liveFrom;
    this.expiresAt = Date.parse(frame.expiresAt);
    this._heartbeatMs = (frame.heartbeatSeconds || 25) * 1000;
    this._attempt = 0;
    this._refused = null;
    this._armWatchdog();
    this._scheduleRefresh();
    this._setState("open", { sessionId: frame.sessionId, resumed: this._resumed });
    if (this._status && this._status !== "available") this._send({ type: "status", status: this._status });
    if (this._narrowingUnsent) {
      this._narrowingUnsent = false;
      this._send({ type: "subscribe", ...this._narrowing });
    }
    this._call("onReady", frame);
  }

  // The session's scope as the gateway confirmed it, in the fields the page narrowed: the
  // others stay unsaid, so that a new token's grant applies to them in full.
  _confirmed(frame) {
    const narrowing = {};
    for (const name of this._narrowed) {
      if (Array.isArray(frame[name]) && !(name === "events" && frame[name].join() === "*")) {
        narrowing[name] = frame[name];
      }
    }
    return narrowing;
  }

  _event(event) {
    if (!event || typeof event.id !== "string") return;
    if (this.lastEventId !== null && event.id <= this.lastEventId) return; // ids sort as strings
    this.lastEventId = event.id;
    this._call("onEvent", event, { replayed: this._replaying });
  }

  _closed(ws, code, reason) {
    if (ws !== this._ws) return;
    this._ws = null;
    this._detach(ws);
    clearTimeout(this._timers.refresh);
    clearTimeout(this._timers.watchdog);
    if (this.state === "closed") return;
    if (FINAL_CLOSES[code]) {
      this._setState("closed", { reason: FINAL_CLOSES[code], code });
      return;
    }
    if (TOKEN_REFUSALS[code]) {
      // One new token from the page per refusal: if it is refused too before any `ready`,
      // or the page has no token function, asking again would only loop.
      const canAsk = typeof this.options.refreshToken === "function" || typeof this.options.token === "function";
      if (!canAsk || this._refused) {
        this._setState("closed", { reason: TOKEN_REFUSALS[code], code });
        return;
      }
      this._refused = { token: this._token, reason: TOKEN_REFUSALS[code], code };
      this._token = null; // fetch a new one before trying again
    }
    const attempt = this._attempt;
    const delayMs = this._scheduleReconnect(code);
    this._setState("reconnecting", { code, reason, attempt, delayMs });
  }

  // The delay before the next attempt: exponential backoff with jitter, and after a close
  // for flooding (4429) at least `rateLimitedMs`, so a page bug cannot flood in a loop.
  _scheduleReconnect(code) {
    if (this.state === "closed") return null;
    const { initialMs, maxMs, rateLimitedMs } = this.options.backoff;
    const ceiling = Math.min(maxMs, initialMs * 2 ** this._attempt);
    let delay = ceiling / 2 + Math.random() * (ceiling / 2);
    if (code === CLOSE_RATE_LIMITED) delay = Math.max(delay, rateLimitedMs * (1 + Math.random() / 2));
    this._attempt += 1;
    clearTimeout(this._timers.reconnect);
    this._timers.reconnect = setTimeout(() => this._open(), delay);
    return delay;
  }

  // A connection that heard nothing (not even a ping) for two heartbeats is dead, even
  // if the browser has not noticed yet: drop it and reconnect.
  _armWatchdog() {
    clearTimeout(this._timers.watchdog);
    if (!this._heartbeatMs) return;
    const ws = this._ws;
    this._timers.watchdog = setTimeout(() => {
      if (ws !== this._ws) return;
      ws.close(4000, "no heartbeat");
      this._closed(ws, 1006, "no heartbeat");
    }, this._heartbeatMs * 2 + 5000);
  }

  // -- token refresh -------------------------------------------------------------------------

  _scheduleRefresh() {
    clearTimeout(this._timers.refresh);
    if (typeof this.options.refreshToken !== "function" || !this.expiresAt) return;
    const left = this.expiresAt - Date.now();
    const ahead = Math.min(this.options.refreshBeforeSeconds * 1000, left / 2);
    this._timers.refresh = setTimeout(() => this._refreshNow(), Math.max(0, left - ahead));
  }

  async _refreshNow() {
    if (typeof this.options.refreshToken !== "function" || this._refreshing) return;
    const ws = this._ws;
    this._refreshing = (async () => {
      try {
        const token = await this.options.refreshToken();
        this._token = token;
        if (ws === this._ws) this._send({ type: "refresh", token });
      } catch (error) {
        this._report({ code: "refresh_failed", message: String(error && error.message || error) });
        // Try again shortly while the old token still lasts.
        clearTimeout(this._timers.refresh);
        if (this.expiresAt && this.expiresAt > Date.now()) {
          this._timers.refresh = setTimeout(() => this._refreshNow(), 5000);
        }
      } finally {
        this._refreshing = null;
      }
    })();
  }

  // -- plumbing --------------------------------------------------------------------------------

  _send(frame) {
    const ws = this._ws;
    if (ws && ws.readyState === WebSocket.OPEN && this.state === "open") ws.send(JSON.stringify(frame));
  }

  _detach(ws) {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
  }

  _teardown() {
    this._generation += 1;
    for (const timer of Object.values(this._timers)) clearTimeout(timer);
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      this._detach(ws);
      ws.close(1000, "client closed");
    }
  }

  _setState(state, detail) {
    this.state = state;
    this._call("onState", state, detail || {});
  }

  _report(error) {
    this._call("onError", error);
  }

  _call(name, ...args) {
    const callback = this.options[name];
    if (typeof callback !== "function") return;
    try {
      callback(...args);
    } catch (error) {
      // A page's callback bug must not break the connection.
      setTimeout(() => {
        throw error;
      });
    }
  }
}

// The narrowing fields given (`hubIds`, `conversationIds`, `events`), nothing else.
function narrowingFields(narrowing) {
  const fields = {};
  for (const name of ["hubIds", "conversationIds", "events"]) {
    if (narrowing[name] !== undefined && narrowing[name] !== null) fields[name] = [...narrowing[name]];
  }
  return fields;
}

/** The `exp` of a JWT in ms (read, not verified: the gateway verifies), or null. */
export function tokenExpiry(token) {
  const claims = tokenClaims(token);
  return claims && typeof claims.exp === "number" ? claims.exp * 1000 : null;
}

/** The claims of a JWT, unverified, for display (agent id, hubs, expiry); null if unreadable. */
export function tokenClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}
