// The board page: the generated protocol module, the tagwire client, the DOM.
//
// Query parameters: `name` (default a random guest name), `transport`
// (auto | websocket | sse, default auto), `encoding` (text | binary) and
// `color` (the colour of your lines, one of the schema's `Color`s; default ink).
//
// Cursors are presence (SPEC §9.8): the page connects as a member of the
// board's cursors (a key kept in sessionStorage, so a reload is the same
// member), sets its cursor with `setPresence`, and draws the others from
// `client.presence`. Last week's page still sends `Move` messages; their
// `Moved` copies are drawn too, and fade when they stop.
//
// Last week's page, before colours and reactions, is frozen in demo/web-v1/
// and served at /v1/; docs/DEMO.md ("Old and new pages") shows the two side
// by side.

import { connect, type OutdatedNotice, type Status } from "tagwire";
import { Color, Package, type ClientMessage, type PresenceState, type ServerMessage } from "./gen/board.js";

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`index.html has no #${id}`);
  return found;
}

const statusPill = element("status", HTMLSpanElement);
const transportPill = element("transport", HTMLSpanElement);
const instancePill = element("instance", HTMLSpanElement);
const deployButton = element("deploy", HTMLButtonElement);
const banner = element("banner", HTMLDivElement);
const board = element("board", HTMLElement);
const lines = element("lines", HTMLOListElement);
const form = element("say", HTMLFormElement);
const input = element("text", HTMLInputElement);
const note = element("note", HTMLSpanElement);
const colorPicker = element("color", HTMLSelectElement);
const reactions = element("reactions", HTMLOListElement);
const reactButtons = element("react", HTMLDivElement);
const update = element("update", HTMLDivElement);

const params = new URLSearchParams(location.search);
const name = (params.get("name") ?? "").trim() || `guest-${Math.floor(1000 + Math.random() * 9000)}`;
const transport = oneOf(params.get("transport"), ["auto", "websocket", "sse"] as const, "auto");
const encoding = oneOf(params.get("encoding"), ["text", "binary"] as const, "text");
/** The schema's colours, in declaration order. */
const colors = Object.keys(Color) as Color[];
colorPicker.value = oneOf(params.get("color"), colors, "ink");
element("me", HTMLElement).textContent = name;

function oneOf<T extends string>(value: string | null, allowed: readonly T[], fallback: T): T {
  return allowed.find((a) => a === value) ?? fallback;
}

/** The room the server makes this page a present member of (demo/src/app.rs). */
const CURSORS = "cursors";
/** The schema's `@len(1..=24)` on a cursor's name, in characters. */
const cursorName = Array.from(name).slice(0, 24).join("");
/** This page's member key: the same across reloads of this tab. */
const member = memberKey();

function memberKey(): string {
  const stored = sessionStorage.getItem("tagwire-board-member");
  if (stored !== null && /^[0-9a-f]{32}$/.test(stored)) return stored;
  const key = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  sessionStorage.setItem("tagwire-board-member", key);
  return key;
}

const scheme = location.protocol === "https:" ? "wss" : "ws";
const query = `member=${member}&name=${encodeURIComponent(cursorName)}`;
const client = connect(`${scheme}://${location.host}/ws?${query}`, Package, { transport, encoding });

/**
 * Every status this page went through, every banner it showed and every
 * "protocol outdated" notice it got: for DevTools and the browser tests.
 */
const history: { statuses: Status[]; banners: string[]; outdated: OutdatedNotice[] } = {
  statuses: [],
  banners: [],
  outdated: [],
};
Object.assign(globalThis, { board: { client, history, member } });

// ---- status and the deploy banner ----

let countdown: ReturnType<typeof setInterval> | undefined;

function bannerText(s: Extract<Status, { state: "reconnecting" }>): string {
  const seconds = Math.max(0, Math.ceil((s.at - Date.now()) / 1000));
  const why =
    s.reason === "deploy"
      ? s.message || "Server updating"
      : s.reason === "heartbeat"
        ? "The server stopped answering"
        : s.reason === "closed"
          ? `Connection closed (${s.code ?? "no code"})`
          : "Connection lost";
  return seconds > 0 ? `${why}, reconnecting in ${seconds} s…` : `${why}, reconnecting…`;
}

function showBanner(text: string, kind: "wait" | "stop"): void {
  banner.textContent = text;
  banner.dataset["kind"] = kind;
  banner.hidden = false;
  if (history.banners.at(-1) !== text) history.banners.push(text);
}

function render(s: Status): void {
  history.statuses.push(s);
  statusPill.dataset["state"] = s.state;
  if (countdown !== undefined) clearInterval(countdown);
  countdown = undefined;
  switch (s.state) {
    case "connecting":
      statusPill.textContent = s.attempt > 1 ? `Connecting (attempt ${s.attempt})…` : "Connecting…";
      transportPill.textContent = s.transport;
      break;
    case "open":
      statusPill.textContent = "Connected";
      transportPill.textContent = s.transport;
      banner.hidden = true;
      client.send({ message: "Join", version: 1, value: { name } });
      break;
    case "reconnecting":
      statusPill.textContent = "Reconnecting";
      instancePill.textContent = "server –";
      delete instancePill.dataset["instance"];
      showBanner(bannerText(s), "wait");
      countdown = setInterval(() => showBanner(bannerText(s), "wait"), 250);
      break;
    case "closed":
      statusPill.textContent = "Closed";
      showBanner(`Disconnected${s.reason ? `: ${s.reason}` : ""} (${s.code ?? "no code"}). Reload to try again.`, "stop");
      break;
  }
}

client.on("status", render);
render(client.status);

// ---- a newer server ----

// The server runs a newer schema than this page and had something for it
// that this page's protocol cannot express (a message added since, with no
// older version to convert to). Everything else keeps working; the page is
// out of date, so offer a reload. It stays up through reconnects.
client.on("outdated", (notice) => {
  history.outdated.push(notice);
  update.title = `${notice.message} v${notice.version} (${notice.header}): ${notice.reason}`;
  update.hidden = false;
});

element("reload", HTMLButtonElement).addEventListener("click", () => location.reload());

// ---- messages ----

/** Cursors of last week's pages (`Moved`), by name; they fade when they stop. */
const cursors = new Map<string, { dot: HTMLElement; seen: number }>();
/** Cursors of pages with presence, by member key: here exactly while the member is. */
const present = new Map<string, HTMLElement>();

function said(who: string, text: string, instance: number, color: Color): void {
  const li = document.createElement("li");
  li.dataset["name"] = who;
  li.dataset["text"] = text;
  li.dataset["color"] = color;
  const b = document.createElement("b");
  b.textContent = who;
  const via = document.createElement("small");
  via.textContent = `#${instance}`;
  via.title = `accepted by server #${instance}`;
  li.append(b, " ", text, " ", via);
  if (who === name) li.classList.add("mine");
  lines.append(li);
  li.scrollIntoView({ block: "nearest" });
}

/** The newest reactions first; older ones drop off. */
function reacted(who: string, emoji: string): void {
  const li = document.createElement("li");
  li.dataset["name"] = who;
  li.dataset["emoji"] = emoji;
  li.title = `${who} reacted`;
  li.textContent = `${emoji} ${who}`;
  reactions.prepend(li);
  while (reactions.children.length > 12) reactions.lastElementChild?.remove();
}

function cursorDot(who: string): HTMLElement {
  const dot = document.createElement("span");
  dot.className = "cursor";
  dot.textContent = who;
  board.append(dot);
  return dot;
}

function place(dot: HTMLElement, x: number, y: number): void {
  dot.style.left = `${x / 10}%`;
  dot.style.top = `${y / 10}%`;
}

function moved(who: string, x: number, y: number): void {
  let cursor = cursors.get(who);
  if (cursor === undefined) {
    cursor = { dot: cursorDot(who), seen: 0 };
    cursor.dot.dataset["v1"] = "";
    cursors.set(who, cursor);
  }
  cursor.seen = Date.now();
  place(cursor.dot, x, y);
}

/** Draws (or moves) another member's cursor; this page's own is the pointer itself. */
function showPresent(key: string, state: PresenceState): void {
  if (key === member) return;
  let dot = present.get(key);
  if (dot === undefined) {
    dot = cursorDot(state.value.name);
    dot.dataset["member"] = key;
    present.set(key, dot);
  }
  dot.textContent = state.value.name;
  place(dot, state.value.x, state.value.y);
}

function hidePresent(key: string): void {
  present.get(key)?.remove();
  present.delete(key);
}

client.on("presence", (change) => {
  if (change.room !== CURSORS) return;
  switch (change.kind) {
    case "snapshot":
      for (const key of [...present.keys()]) if (!change.members.has(key)) hidePresent(key);
      for (const [key, state] of change.members) showPresent(key, state);
      break;
    case "join":
    case "update":
      showPresent(change.member, change.state);
      break;
    case "leave":
      hidePresent(change.member);
      break;
  }
});

// Cursors of people who stopped moving fade out.
setInterval(() => {
  for (const [who, cursor] of cursors) {
    if (Date.now() - cursor.seen > 10_000) {
      cursor.dot.remove();
      cursors.delete(who);
    }
  }
}, 1000);

client.on("message", (m: ServerMessage) => {
  switch (m.message) {
    case "Joined":
      instancePill.textContent = `server #${m.value.instance}`;
      instancePill.dataset["instance"] = String(m.value.instance);
      break;
    case "Said":
      // The server sends this page Said v2; v1 is for pages built before it.
      said(m.value.name, m.value.text, m.value.instance, m.version === 2 ? m.value.color : "ink");
      break;
    case "Moved":
      moved(m.value.name, m.value.x, m.value.y);
      break;
    case "Reacted":
      reacted(m.value.name, m.value.emoji);
      break;
  }
});

// ---- sending ----

function send(m: ClientMessage): void {
  try {
    client.send(m);
  } catch (e) {
    note.textContent = `Not sent: ${e instanceof Error ? e.message : String(e)}`;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (text === "") return;
  // Sent now, or queued while reconnecting and sent after the next hello.
  const color = oneOf(colorPicker.value, colors, "ink");
  send({ message: "Say", version: 2, value: { name, text, color } });
  input.value = "";
});

reactButtons.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("button") : null;
  const emoji = button?.dataset["emoji"];
  if (emoji !== undefined) send({ message: "React", version: 1, value: { name, emoji } });
});

// The cursor is this page's presence state: the client sends at most one per
// 50 ms, always the latest (the last move is never dropped), and after a
// reconnect the latest again.
board.addEventListener("pointermove", (event) => {
  const area = board.getBoundingClientRect();
  const at = (v: number, size: number): number => Math.round(Math.min(1, Math.max(0, v / size)) * 1000);
  const x = at(event.clientX - area.left, area.width);
  const y = at(event.clientY - area.top, area.height);
  try {
    client.setPresence(CURSORS, { message: "Cursor", version: 1, value: { name: cursorName, x, y } });
  } catch (e) {
    note.textContent = `Cursor not sent: ${e instanceof Error ? e.message : String(e)}`;
  }
});

deployButton.addEventListener("click", () => {
  deployButton.disabled = true;
  note.textContent = "Starting a new server…";
  fetch("/deploy", { method: "POST" })
    .then(async (response) => {
      const body: unknown = await response.json();
      if (response.ok && typeof body === "object" && body !== null && "serving" in body) {
        note.textContent = `Server #${String(body.serving)} is up; the old one drains now.`;
      } else {
        note.textContent = `Deploy refused (${response.status}).`;
      }
    })
    .catch((e: unknown) => {
      note.textContent = `Deploy failed: ${e instanceof Error ? e.message : String(e)}`;
    })
    .finally(() => {
      deployButton.disabled = false;
    });
});
