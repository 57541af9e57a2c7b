// The page: the generated protocol module (src/gen/{{package}}.ts, from
// `tagwire gen ts`) and the `tagwire` npm package's client.
import { connect } from "tagwire";
import { Package } from "./gen/{{package}}.js";

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const e = document.getElementById(id);
  if (!(e instanceof type)) throw new Error(`#${id} is missing from index.html`);
  return e;
}

const status = element("status", HTMLElement);
const lines = element("lines", HTMLOListElement);
const form = element("say", HTMLFormElement);
const author = element("author", HTMLInputElement);
const text = element("text", HTMLInputElement);

// Reconnects with backoff, answers the server's heartbeat, queues while offline.
const client = connect(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`, Package);

client.on("status", (s) => {
  status.dataset["state"] = s.state;
  status.textContent = s.state;
});

client.on("message", (m) => {
  // `m` is a ServerMessage: narrowing on `message` (and `version`) gives the fields' types.
  if (m.message === "Posted") {
    const li = document.createElement("li");
    const who = document.createElement("b");
    who.textContent = m.value.author;
    li.append(who, m.value.text);
    li.dataset["author"] = m.value.author;
    li.dataset["text"] = m.value.text;
    lines.append(li);
  }
});

client.on("error", ({ name, message }) => console.warn(`the server refused a message (${name}): ${message}`));

form.addEventListener("submit", (event) => {
  event.preventDefault();
  client.send({ message: "Post", version: 1, value: { author: author.value, text: text.value } });
  text.value = "";
});
