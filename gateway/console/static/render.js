// Activity events as DOM nodes. Everything an event carries came from a provider and is
// untrusted: it only ever reaches the page as text (`textContent`) or as a URL checked to be
// http(s) (links) or https/data:image (images). Nothing here touches innerHTML.

const SIZE_UNITS = ["B", "KB", "MB", "GB"];

/** An element with `className`, text, attributes and children; text is always text. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined && props.text !== null) node.textContent = String(props.text);
  for (const [name, value] of Object.entries(props.attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child) node.append(child);
  }
  return node;
}

function parsedUrl(value) {
  if (typeof value !== "string" || value.length > 8192) return null;
  try {
    return new URL(value, location.href);
  } catch {
    return null;
  }
}

/** The URL if it is one a link may open (http or https), else null: no javascript: links. */
export function linkUrl(value) {
  const url = parsedUrl(value);
  return url && (url.protocol === "https:" || url.protocol === "http:") ? url.href : null;
}

/** The URL if an image may be loaded from it (what the page's CSP allows), else null. */
export function imageUrl(value) {
  const url = parsedUrl(value);
  if (!url) return null;
  if (url.protocol === "https:" || url.origin === location.origin) return url.href;
  return url.protocol === "data:" && /^data:image\/(png|jpeg|gif|webp);/i.test(value) ? value : null;
}

function text(value) {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function link(value, label) {
  const href = linkUrl(value);
  const caption = text(label) || text(value);
  if (!href) return el("span", { className: "unsafe-link", text: caption });
  return el("a", {
    text: caption,
    attrs: { href, target: "_blank", rel: "noopener noreferrer" },
  });
}

function size(bytes) {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return "";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < SIZE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${SIZE_UNITS[unit]}`;
}

export function timeLabel(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  const today = new Date().toDateString() === when.toDateString();
  return today
    ? when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : when.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

// -- messages ------------------------------------------------------------------------------

function actions(list) {
  if (!Array.isArray(list) || !list.length) return null;
  const row = el("div", { className: "actions" });
  for (const action of list.slice(0, 20)) {
    if (!action || typeof action !== "object") continue;
    if (action.type === "link") {
      row.append(link(action.url, action.title));
    } else {
      row.append(
        el("span", {
          className: "action",
          text: text(action.title) || text(action.payload),
          attrs: { "data-action-type": text(action.type), title: text(action.payload) },
        }),
      );
    }
  }
  return row;
}

function card(item) {
  if (!item || typeof item !== "object") return el("div", { className: "card", text: text(item) });
  const picture = imageUrl(item.imageUrl || item.image);
  return el(
    "div",
    { className: "card" },
    picture ? el("img", { attrs: { src: picture, alt: text(item.title), loading: "lazy" } }) : null,
    item.title ? el("strong", { text: item.title }) : null,
    item.subtitle ? el("div", { className: "subtitle", text: item.subtitle }) : null,
    item.content ? el("p", { text: item.content }) : null,
    item.url ? link(item.url) : null,
    actions(item.actions),
  );
}

function textBody(message) {
  const body = el("div", { className: "body" });
  const content = text(message.text);
  if (content.startsWith("::")) {
    body.append(el("code", { className: "command", text: content }));
  } else {
    body.append(el("p", { className: "text", text: content }));
  }
  if (Array.isArray(message.items) && message.items.length) {
    body.append(el("ul", { className: "items" }, ...message.items.slice(0, 50).map((item) => el("li", {}, card(item)))));
  }
  const buttons = actions(message.actions);
  if (buttons) body.append(buttons);
  return body;
}

const MESSAGE_BODIES = {
  text: textBody,
  command: (message) =>
    el("div", { className: "body" }, el("code", { className: "command", text: message.text ?? message.command ?? "" })),
  image(message) {
    const src = imageUrl(message.url);
    return el(
      "figure",
      { className: "body" },
      src
        ? el("img", { attrs: { src, alt: text(message.alt) || text(message.title), loading: "lazy" } })
        : link(message.url, message.alt || "image"),
      message.title ? el("figcaption", { text: message.title }) : null,
    );
  },
  attachment: (message) =>
    el(
      "div",
      { className: "body attachment" },
      link(message.url, message.label || "attachment"),
      el("span", { className: "muted", text: [text(message.mimeType), size(message.size)].filter(Boolean).join(" · ") }),
    ),
  location(message) {
    const { latitude: lat, longitude: lon } = message;
    const numeric = typeof lat === "number" && typeof lon === "number" && Number.isFinite(lat + lon);
    const map = numeric ? `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}` : null;
    return el(
      "div",
      { className: "body location" },
      el("span", { className: "label", text: "Location" }),
      message.address ? el("span", { text: message.address }) : null,
      numeric ? link(map, `${lat.toFixed(5)}, ${lon.toFixed(5)}`) : null,
    );
  },
  card: (message) => el("div", { className: "body" }, card(message)),
  list: (message) => items("list", message),
  carousel: (message) => items("carousel", message),
  contact: (message) =>
    el(
      "div",
      { className: "body contact" },
      el("strong", { text: message.title || "Contact" }),
      el(
        "dl",
        {},
        ...(Array.isArray(message.properties) ? message.properties.slice(0, 50) : []).flatMap((p) => [
          el("dt", { text: p && p.key }),
          el("dd", { text: p && p.value }),
        ]),
      ),
    ),
};
for (const media of ["video", "audio", "youtube", "vimeo"]) {
  MESSAGE_BODIES[media] = (message) =>
    el("div", { className: "body media" }, el("span", { className: "muted", text: `${media}: ` }), link(message.url, message.label || message.title));
}

function items(kind, message) {
  const list = Array.isArray(message.items) ? message.items.slice(0, 50) : [];
  return el(
    "div",
    { className: `body ${kind}` },
    message.title ? el("strong", { text: message.title }) : null,
    el("ul", { className: `items ${kind}` }, ...list.map((item) => el("li", {}, card(item)))),
    actions(message.actions),
  );
}

function senderLabel(event) {
  const sender = event.sender || {};
  const who = sender.address || sender.name || sender.id || "";
  const role = sender.role || "unknown";
  return who ? `${role} · ${who}` : role;
}

/** The ids a receipt may name this message by (the providers' own message ids). */
export function messageIds(event) {
  const data = event.data || {};
  const message = event.message || {};
  return [message.id, data.messageId, data.message_id, data.MessageSid, data.SmsSid].filter(
    (id) => typeof id === "string" && id,
  );
}

function messageItem(event) {
  const message = event.message || {};
  const kind = typeof message.type === "string" ? message.type : "unknown";
  const render = MESSAGE_BODIES[text(message.text).startsWith("::") ? "command" : kind];
  const body = render ? render(message) : el("pre", { className: "body unknown", text: JSON.stringify(message, null, 2) });
  const role = (event.sender && event.sender.role) || "unknown";
  return el(
    "li",
    {
      className: `item message from-${role}`,
      attrs: { "data-message-type": kind, "data-message-ids": messageIds(event).join(" ") || null },
    },
    el("div", { className: "meta" }, el("span", { text: senderLabel(event) }), el("time", { text: timeLabel(event.occurredAt), attrs: { datetime: event.occurredAt } })),
    body,
    el("div", { className: "receipts" }),
  );
}

// -- receipts, consent, other events -------------------------------------------------------

export function receiptSummary(receipt) {
  const parts = [];
  if (receipt.previousState) parts.push(`was ${receipt.previousState}`);
  if (receipt.reasonCode || receipt.reasonDescription) {
    parts.push([receipt.reasonCode, receipt.reasonDescription].filter(Boolean).map(text).join(" "));
  }
  if (typeof receipt.price === "number") parts.push(`price ${receipt.price}`);
  return parts.join(" · ");
}

function receiptItem(event) {
  const receipt = event.receipt || {};
  const state = text(receipt.state) || event.type.slice("receipt:".length);
  return el(
    "li",
    { className: "item receipt", attrs: { "data-state": state } },
    el("span", { className: "label", text: "Receipt" }),
    el("span", { className: "state", text: state }),
    el("span", { className: "message-id", text: receipt.messageId ? `message ${text(receipt.messageId)}` : "" }),
    el("span", { className: "muted", text: receiptSummary(receipt) }),
    el("time", { text: timeLabel(event.occurredAt), attrs: { datetime: event.occurredAt } }),
  );
}

function consentItem(event) {
  const optedIn = event.type === "consent:optin";
  const keyword = event.data && event.data.keyword;
  return el(
    "li",
    { className: "item consent", attrs: { "data-consent": optedIn ? "optin" : "optout" } },
    el("span", { className: "label", text: optedIn ? "Opted in" : "Opted out" }),
    keyword ? el("span", { className: "muted", text: `keyword ${text(keyword)}` }) : null,
    el("time", { text: timeLabel(event.occurredAt), attrs: { datetime: event.occurredAt } }),
  );
}

function otherItem(event) {
  const detail = event.event || event.data || {};
  const summary = detail.payloadType ? `${text(detail.payloadType)}` : "";
  return el(
    "li",
    { className: "item event" },
    el("span", { className: "label", text: event.type }),
    summary ? el("span", { className: "muted", text: summary }) : null,
    el("time", { text: timeLabel(event.occurredAt), attrs: { datetime: event.occurredAt } }),
  );
}

/** The timeline entry of an event (typing indicators are not entries: see the console). */
export function renderEvent(event) {
  const family = event.type.split(":", 1)[0];
  const item =
    family === "message" && event.message
      ? messageItem(event)
      : family === "receipt" && event.receipt
        ? receiptItem(event)
        : family === "consent"
          ? consentItem(event)
          : otherItem(event);
  item.dataset.eventId = event.id;
  item.dataset.type = event.type;
  return item;
}

/** A receipt's state shown on the message it reports on. */
export function receiptBadge(event) {
  const state = text(event.receipt.state);
  return el("span", {
    className: "receipt-badge",
    text: state,
    attrs: { "data-state": state, title: receiptSummary(event.receipt) },
  });
}
