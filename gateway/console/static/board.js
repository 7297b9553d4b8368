// The console's view of the hubs: their agents, their conversations (newest activity first)
// and each conversation's timeline, built from activity events with render.js.

import { el, messageIds, receiptBadge, renderEvent, timeLabel } from "/console/render.js";

const MAX_ITEMS_PER_CONVERSATION = 500;
const MAX_CONVERSATIONS_PER_HUB = 500;
const TYPING_SHOWN_MS = 15000;

const $ = (id) => document.getElementById(id);

/** Hubs, their agents and conversations, and which conversation is on screen. */
export class Board {
  constructor(agentId) {
    this.agentId = agentId;
    this.hubs = new Map(); // hubId -> {section, agents, list, conversations: Map}
    this.selected = null;
  }

  hub(hubId) {
    let hub = this.hubs.get(hubId);
    if (hub) return hub;
    const agents = el("ul", { className: "agents", attrs: { "aria-label": `Agents of ${hubId}` } });
    const list = el("ul", { className: "conversations" });
    const section = el(
      "section",
      { className: "hub", attrs: { "data-hub": hubId } },
      el("h2", { text: hubId }),
      agents,
      list,
    );
    hub = { section, agents, list, conversations: new Map() };
    this.hubs.set(hubId, hub);
    const sections = [...this.hubs.keys()].sort();
    $("hubs").insertBefore(section, this.hubs.get(sections[sections.indexOf(hubId) + 1])?.section || null);
    return hub;
  }

  conversation(event) {
    const hub = this.hub(event.hubId);
    const id = event.conversationId ?? "";
    let conversation = hub.conversations.get(id);
    if (conversation) return conversation;
    const title = el("span", { className: "title", text: id || "(no conversation)" });
    const preview = el("span", { className: "preview" });
    const when = el("time");
    const badges = el("span", { className: "badges" });
    const entry = el(
      "button",
      { className: "conversation", attrs: { type: "button", "data-conversation": id, "data-hub": event.hubId } },
      title,
      badges,
      preview,
      when,
    );
    const timeline = el("ol", { className: "timeline", attrs: { "aria-live": "polite" } });
    conversation = {
      id,
      hubId: event.hubId,
      entry,
      title,
      preview,
      when,
      badges,
      timeline,
      lastEventId: "",
      channel: null,
      named: false,
      typingTimer: null,
      messages: new Map(), // provider message id -> timeline item
    };
    entry.addEventListener("click", () => this.select(conversation));
    hub.conversations.set(id, conversation);
    hub.list.prepend(el("li", {}, entry));
    if (hub.conversations.size > MAX_CONVERSATIONS_PER_HUB) this.dropOldest(hub);
    if (!this.selected) this.select(conversation);
    return conversation;
  }

  // The list is newest activity first: the oldest is last, unless it is the one on screen,
  // which stays (the next oldest goes), so the cap holds whichever conversation is selected.
  dropOldest(hub) {
    let item = hub.list.lastElementChild;
    while (item && hub.conversations.get(item.firstElementChild.dataset.conversation) === this.selected) {
      item = item.previousElementSibling;
    }
    if (!item) return;
    const conversation = hub.conversations.get(item.firstElementChild.dataset.conversation);
    clearTimeout(conversation.typingTimer);
    hub.conversations.delete(conversation.id);
    item.remove();
  }

  select(conversation) {
    this.selected?.entry.classList.remove("selected");
    this.selected = conversation;
    conversation.entry.classList.remove("unread");
    conversation.entry.classList.add("selected");
    this.header(conversation);
    $("timeline-holder").replaceChildren(conversation.timeline);
    this.showTyping(conversation);
    conversation.timeline.lastElementChild?.scrollIntoView({ block: "end" });
  }

  header(conversation) {
    $("conversation-title").textContent = conversation.title.textContent;
    $("conversation-meta").textContent = [conversation.hubId, conversation.channel, conversation.id]
      .filter(Boolean)
      .join(" · ");
  }

  add(event, { replayed }) {
    const conversation = this.conversation(event);
    if (event.type === "event:typing_on" || event.type === "event:typing_off") {
      if (!replayed) this.typing(conversation, event.type === "event:typing_on", event);
      return;
    }
    this.describe(conversation, event);
    const item = renderEvent(event);
    conversation.timeline.append(item);
    if (conversation.timeline.childElementCount > MAX_ITEMS_PER_CONVERSATION) {
      const trimmed = conversation.timeline.firstElementChild;
      trimmed.remove();
      for (const [id, shown] of conversation.messages) {
        if (shown === trimmed) conversation.messages.delete(id); // a later receipt finds none
      }
    }
    if (event.message) {
      for (const id of messageIds(event)) conversation.messages.set(id, item);
      if (conversation.typingTimer) this.typing(conversation, false);
    }
    if (event.receipt && event.receipt.messageId) {
      const target = conversation.messages.get(event.receipt.messageId);
      if (target && target.isConnected) {
        target.querySelector(".receipts").replaceChildren(receiptBadge(event));
      }
    }
    if (event.type.startsWith("consent:")) {
      const optedOut = event.type === "consent:optout";
      conversation.badges.replaceChildren(
        el("span", { className: `badge ${optedOut ? "optout" : "optin"}`, text: optedOut ? "opted out" : "opted in" }),
      );
    }
    if (event.id >= conversation.lastEventId) {
      conversation.lastEventId = event.id;
      const li = conversation.entry.parentElement;
      li.parentElement.prepend(li); // newest activity first
    }
    if (conversation === this.selected) {
      item.scrollIntoView({ block: "end" });
    } else if (!replayed) {
      conversation.entry.classList.add("unread");
    }
  }

  describe(conversation, event) {
    conversation.channel = event.channel || conversation.channel;
    const name = customerName(event);
    if (name && !conversation.named) {
      conversation.title.textContent = name;
      conversation.named = true;
    }
    const summary = preview(event);
    if (summary) conversation.preview.textContent = summary;
    conversation.when.textContent = timeLabel(event.occurredAt);
    if (conversation === this.selected) this.header(conversation);
  }

  typing(conversation, on, event) {
    clearTimeout(conversation.typingTimer);
    conversation.typingTimer = null;
    conversation.typingBy = null;
    if (on) {
      conversation.typingBy = (event.sender && event.sender.role) || "someone";
      conversation.typingTimer = setTimeout(() => this.typing(conversation, false), TYPING_SHOWN_MS);
    }
    conversation.entry.classList.toggle("typing", on);
    if (conversation === this.selected) this.showTyping(conversation);
  }

  showTyping(conversation) {
    const typing = $("typing");
    typing.hidden = !conversation.typingTimer;
    typing.textContent = conversation.typingTimer ? `${conversation.typingBy} is typing…` : "";
  }

  presence({ hubId, agents }) {
    const hub = this.hub(hubId);
    hub.agents.replaceChildren(
      ...agents.map((agent) =>
        el(
          "li",
          { attrs: { "data-agent": agent.agentId, "data-status": agent.status } },
          el("span", { className: "dot", attrs: { "aria-hidden": "true" } }),
          el("span", { className: "name", text: agent.name || agent.agentId }),
          agent.agentId === this.agentId ? el("span", { className: "muted", text: " (you)" }) : null,
          el("span", { className: "status", text: agent.status }),
        ),
      ),
    );
    const mine = agents.find((agent) => agent.agentId === this.agentId);
    if (mine) $("status").value = mine.status;
  }
}

function customerName(event) {
  const profile = event.data && event.data.conversationProperties && event.data.conversationProperties.profile;
  if (profile && typeof profile["full name"] === "string") return profile["full name"];
  for (const party of [event.sender, event.recipient]) {
    if (party && party.role === "customer" && typeof party.address === "string") return party.address;
  }
  return null;
}

function preview(event) {
  if (event.message) {
    const message = event.message;
    return typeof message.text === "string" ? message.text : `[${message.type}]`;
  }
  if (event.receipt) return `receipt: ${event.receipt.state}`;
  if (event.type.startsWith("consent:")) return event.type === "consent:optout" ? "opted out" : "opted in";
  return null;
}
