// The README's TypeScript quickstart, type-checked and run against the generated ui module.
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { decodeServerMessageText, encodeClientMessageText, encodeServerMessageText } from "../generated/ui.js";

test("README quickstart: decode, narrow in a switch, send", () => {
  const sent: string[] = [];
  const seen: string[] = [];
  const render = (tree: Uint8Array, theme: string | undefined) => seen.push(`render ${tree.length} ${theme}`);
  const patch = (id: string, bytes: Uint8Array) => seen.push(`patch ${id} ${bytes.length}`);
  const socket = {
    onmessage: (_event: { data: string }) => {},
    send: (frame: string) => sent.push(frame),
  };

  socket.onmessage = (event) => {
    const m = decodeServerMessageText(event.data); // throws DecodeError with kind and position
    switch (m.message) {
      case "RenderUi":
        if (m.version === 2) render(m.value.tree, m.value.theme); // narrowed to RenderUiV2
        break;
      case "UpdateUi":
        patch(m.value.id, m.value.patch); // Uint8Array
        break;
    }
  };
  socket.send(
    encodeClientMessageText({ message: "Click", version: 1, value: { target: "ok", at: { x: 1, y: 2 }, buttons: [0] } }),
  );

  socket.onmessage({ data: "ab|main|PGI-" });
  socket.onmessage({
    data: encodeServerMessageText({
      message: "RenderUi",
      version: 2,
      value: { id: "main", tree: new Uint8Array([1, 2]), theme: "dark", attrs: new Map() },
    }),
  });
  assert.deepEqual(seen, ["patch main 3", "render 2 dark"]);
  assert.deepEqual(sent, ["ae|ok|1|2|1|0"]);
});
