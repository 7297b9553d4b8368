// The agent console: sign in with a token, then watch the hubs' conversations live.
// Built on gateway-client.js; every piece of event data is rendered by render.js as text.

import { GatewayClient, tokenClaims } from "/gateway-client.js";
import { Board } from "/console/board.js";

const HISTORY = { seconds: 86400, limit: 500 }; // what a freshly opened page shows
const STATE_LABELS = {
  idle: "not connected",
  connecting: "connecting…",
  open: "connected",
  reconnecting: "reconnecting…",
  closed: "disconnected",
};

const $ = (id) => document.getElementById(id);

// -- signing in ----------------------------------------------------------------------------

let client = null;
let board = null;

function show(view) {
  $("login").hidden = view !== "login";
  $("app").hidden = view !== "app";
  for (const id of ["whoami", "status-control", "sign-out"]) $(id).hidden = view !== "app";
}

function banner(id, visible, message) {
  const node = $(id);
  node.hidden = !visible;
  if (message !== undefined) node.querySelector(".text").textContent = message;
}

function signIn(token, refreshToken) {
  const claims = tokenClaims(token);
  if (!claims || typeof claims.sub !== "string") {
    banner("banner-error", true, "That is not an agent token (a JWT).");
    return;
  }
  banner("banner-error", false);
  board = new Board(claims.sub);
  $("hubs").replaceChildren();
  $("timeline-holder").replaceChildren();
  for (const hubId of Array.isArray(claims.hubs) ? [...claims.hubs].sort() : []) board.hub(String(hubId));
  $("agent-name").textContent = claims.name || claims.sub;
  $("agent-hubs").textContent = Array.isArray(claims.hubs) ? claims.hubs.join(", ") : "";
  $("status").value = "available";
  show("app");
  client = new GatewayClient({
    token,
    refreshToken,
    history: HISTORY,
    onEvent: (event, info) => board.add(event, info),
    onPresence: (presence) => board.presence(presence),
    onState: connectionChanged,
    onRecovered: ({ recovered }) => banner("banner-history", !recovered),
    onError: (error) => {
      if (error.code === "expired_token" && !refreshToken) {
        banner("banner-error", true, "The token has expired: sign in again.");
      } else if (error.code !== "expired_token") {
        banner("banner-error", true, `${error.code}: ${error.message}`);
      }
    },
  }).connect();
}

function connectionChanged(state, detail) {
  const pill = $("connection");
  pill.dataset.state = state;
  pill.textContent = STATE_LABELS[state] || state;
  banner("banner-reconnecting", state === "reconnecting");
  if (state === "closed" && detail.reason !== "closed") {
    const reasons = {
      unauthorized: "The gateway refused the token (invalid or expired).",
      forbidden: "The token grants no hub.",
      malformed: "The gateway refused a frame from this page.",
    };
    signOut();
    banner("banner-error", true, reasons[detail.reason] || "Disconnected.");
  }
}

function signOut() {
  const current = client;
  client = null;
  current?.close();
  board = null;
  banner("banner-reconnecting", false);
  banner("banner-history", false);
  show("login");
}

async function mint(adminKey, body) {
  const response = await fetch("/agent/auth", {
    method: "PUT",
    headers: { Authorization: `Bearer ${adminKey}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = answer.error || {};
    throw new Error(`${error.code || response.status}: ${error.message || "the gateway refused"}`);
  }
  return answer.agentAuth.jwt;
}

function wire() {
  $("token-form").addEventListener("submit", (submit) => {
    submit.preventDefault();
    const token = $("token-input").value.trim();
    $("token-input").value = "";
    signIn(token);
  });
  $("mint-form").addEventListener("submit", async (submit) => {
    submit.preventDefault();
    // The admin key stays in this closure (to mint the refreshed tokens), never in storage.
    const adminKey = $("mint-admin-key").value;
    $("mint-admin-key").value = "";
    const body = {
      agentId: $("mint-agent").value.trim(),
      hubIds: $("mint-hubs").value.split(",").map((hub) => hub.trim()).filter(Boolean),
      ttlSeconds: Number($("mint-ttl").value) || 3600,
    };
    const name = $("mint-name").value.trim();
    if (name) body.name = name;
    try {
      const token = await mint(adminKey, body);
      signIn(token, () => mint(adminKey, body));
    } catch (error) {
      banner("banner-error", true, `Could not mint a token: ${error.message}`);
    }
  });
  $("status").addEventListener("change", () => client?.setStatus($("status").value));
  $("sign-out").addEventListener("click", signOut);
  $("reload").addEventListener("click", () => {
    banner("banner-history", false);
    const agentId = board.agentId;
    board = new Board(agentId);
    $("hubs").replaceChildren();
    $("timeline-holder").replaceChildren();
    client.restart();
  });
  $("dismiss-error").addEventListener("click", () => banner("banner-error", false));
}

function tokenFromFragment() {
  // `/console#token=JWT`: the fragment never reaches the server; it is taken off the address
  // bar at once so the token is not left in the history or a copied link.
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  return token;
}

wire();
const fromFragment = tokenFromFragment();
if (fromFragment) {
  signIn(fromFragment);
} else {
  show("login");
}
