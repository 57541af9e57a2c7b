//! Message versions, the `ServerMessage` / `ClientMessage` unions with their
//! frame encoders and decoders, the header table and the fingerprint.

use super::{Code, Gen, json_string, screaming_snake};
use crate::ir::{Direction, MessageVersion};

/// One direction's union: its name, doc and the messages it holds.
struct Side<'a> {
    name: &'static str,
    doc: &'static str,
    sender: &'static str,
    messages: Vec<&'a MessageVersion>,
}

fn header_of(m: &MessageVersion) -> String {
    m.header.map_or_else(|| "??".to_string(), |h| h.to_string())
}

impl Gen<'_> {
    pub(super) fn message(&self, c: &mut Code, m: &MessageVersion) {
        let name = m.type_name();
        let header = header_of(m);
        c.item();
        c.line(format!("/** Header of `{name}`. */"));
        c.line(format!(
            "export const {} = {};",
            screaming_snake(&name),
            json_string(&header)
        ));
        let mut doc = m.docs.clone();
        if !doc.is_empty() {
            doc.push(String::new());
        }
        let sender = match m.direction {
            _ if m.presence => "a room member's presence state",
            Direction::Server => "sent by the server",
            Direction::Client => "sent by the client",
            Direction::Both => "sent by either side",
        };
        let kind = if m.presence { "Presence" } else { "Message" };
        doc.push(format!(
            "{kind} `{}` version {}, header `{header}`, {sender}.",
            m.name, m.version
        ));
        self.struct_decl(c, &name, &doc, &m.fields);
        self.struct_functions(c, &name, &m.fields);
        self.validate_struct(
            c,
            &name,
            &m.fields,
            "The first value of this message that breaks a constraint of the schema (SPEC §6.4), or `undefined`. Encoders throw `ConstraintError` and decoders `DecodeError` (`constraint_violation`) for it.",
        );
    }

    pub(super) fn protocol(&self, c: &mut Code) {
        let messages = &self.package.messages;
        let sides = [
            Side {
                name: "ServerMessage",
                doc: "Every message the server sends: what a client decodes and a server encodes.",
                sender: "server",
                messages: messages
                    .iter()
                    .filter(|m| m.direction.server_sends())
                    .collect(),
            },
            Side {
                name: "ClientMessage",
                doc: "Every message the client sends: what a server decodes and a client encodes.",
                sender: "client",
                messages: messages
                    .iter()
                    .filter(|m| m.direction.client_sends())
                    .collect(),
            },
        ];
        if sides.iter().any(|s| !s.messages.is_empty()) {
            c.item();
            c.line(format!(
                "const $binaryWriter = /* @__PURE__ */ new {}();",
                self.rt("BinaryWriter")
            ));
        }
        for side in &sides {
            if side.messages.is_empty() {
                self.empty_side(c, side);
            } else {
                self.side(c, side);
            }
        }

        let mut sorted: Vec<&MessageVersion> = messages.iter().collect();
        sorted.sort_by_key(|m| m.header.map(|h| h.index()));
        c.item();
        c.line("/**");
        c.line(" * Every message version of this package in header order, with who may");
        c.line(" * send it (`\"server\"`, `\"client\"` or `\"both\"`).");
        c.line(" */");
        c.open("export const HEADERS: readonly {");
        c.line("readonly header: string;");
        c.line("readonly message: string;");
        c.line("readonly version: number;");
        c.line("readonly direction: \"server\" | \"client\" | \"both\";");
        if sorted.is_empty() {
            c.close("}[] = [];");
        } else {
            c.close("}[] = [");
            c.indent += 1;
            for m in sorted {
                c.line(format!(
                    "{{ header: {}, message: {}, version: {}, direction: {} }},",
                    screaming_snake(&m.type_name()),
                    json_string(&m.name),
                    m.version,
                    json_string(m.direction.as_str())
                ));
            }
            c.close("];");
        }
        self.presence(c, messages);
        c.item();
        c.line("/**");
        c.line(" * Hash of this package's wire shape (every message version's header and");
        c.line(" * fields): peers with equal fingerprints agree on every frame.");
        c.line(" */");
        c.line(format!(
            "export const PROTOCOL_FINGERPRINT = {};",
            json_string(&self.package.fingerprint)
        ));
        self.package_bundle(c);
    }

    /// `PRESENCE_HEADERS` and `PresenceState`: the `presence` declarations,
    /// which the client keeps per room and member (`never` and `[]` without any).
    fn presence(&self, c: &mut Code, messages: &[MessageVersion]) {
        let mut sorted: Vec<&MessageVersion> = messages.iter().filter(|m| m.presence).collect();
        sorted.sort_by_key(|m| m.header.map(|h| h.index()));
        let headers: Vec<String> = sorted
            .iter()
            .map(|m| screaming_snake(&m.type_name()))
            .collect();
        c.item();
        c.line("/**");
        c.line(" * The headers of this package's presence states (`presence` declarations),");
        c.line(" * in header order: the frames a room member's presence may hold.");
        c.line(" */");
        c.line(format!(
            "export const PRESENCE_HEADERS: readonly string[] = [{}];",
            headers.join(", ")
        ));
        let mut names: Vec<&str> = Vec::new();
        for m in &sorted {
            if !names.contains(&m.name.as_str()) {
                names.push(&m.name);
            }
        }
        c.item();
        c.line("/** A room member's presence state, as `setPresence` sends it and `presence(room)` holds it. */");
        if names.is_empty() {
            c.line("export type PresenceState = never;");
        } else {
            let cases: Vec<String> = names
                .iter()
                .map(|n| format!("{{ message: {} }}", json_string(n)))
                .collect();
            c.line(format!(
                "export type PresenceState = Extract<ServerMessage, {}>;",
                cases.join(" | ")
            ));
        }
        c.item();
        c.line("/** Whether `m` is a presence state (its header is one of `PRESENCE_HEADERS`). */");
        c.open("export function isPresenceState(m: ServerMessage): m is PresenceState {");
        c.line("return PRESENCE_HEADERS.includes(headerOfServerMessage(m));");
        c.close("}");
    }

    /// `Package`: what the runtime's client needs of this module (its name,
    /// fingerprint and headers for the hello, and the frame codecs), so an
    /// application writes `connect(url, Package)`.
    fn package_bundle(&self, c: &mut Code) {
        let mut sorted: Vec<&MessageVersion> = self.package.messages.iter().collect();
        sorted.sort_by_key(|m| m.header.map(|h| h.index()));
        let headers: Vec<String> = sorted
            .iter()
            .map(|m| screaming_snake(&m.type_name()))
            .collect();
        c.item();
        c.line("/**");
        c.line(" * This package as the runtime sees it: `connect(url, Package)` opens a");
        c.line(" * client that sends `ClientMessage` and receives `ServerMessage`; the hello");
        c.line(" * names `name`, `fingerprint` and every header in `headers`.");
        c.line(" */");
        c.open(format!(
            "export const Package: {}<ServerMessage, ClientMessage, PresenceState> = {{",
            self.rt("Package")
        ));
        c.line(format!("name: {},", json_string(&self.package.name)));
        c.line("fingerprint: PROTOCOL_FINGERPRINT,");
        c.line(format!("headers: [{}],", headers.join(", ")));
        c.line("presence: PRESENCE_HEADERS,");
        c.line("isPresence: isPresenceState,");
        c.line("encodeClientText: encodeClientMessageText,");
        c.line("encodeClientBinary: encodeClientMessageBinary,");
        c.line("decodeServerText: decodeServerMessageText,");
        c.line("decodeServerBinary: decodeServerMessageBinary,");
        c.close("};");
    }

    /// A direction without messages: `never`, and functions that reject
    /// everything (decoders after the frame's size and header checks, as in
    /// Rust).
    fn empty_side(&self, c: &mut Code, side: &Side<'_>) {
        let name = side.name;
        let limits = self.rt("Limits");
        let default_limits = self.rt("DEFAULT_LIMITS");
        let encode_error = self.rt("EncodeError");
        let none = json_string(&format!(
            "tagwire: package `{}` has no {} messages",
            self.package.name, side.sender
        ));
        c.item();
        c.line("/**");
        c.line(format!(" * {}", side.doc));
        c.line(" *");
        c.line(format!(
            " * This package has no {} messages, so this is `never`: encoding is",
            side.sender
        ));
        c.line(" * unreachable and decoding rejects every frame (`unknown_header`, once");
        c.line(" * the frame's size and header bytes are checked).");
        c.line(" */");
        c.line(format!("export type {name} = never;"));
        c.item();
        c.open(format!(
            "export function headerOf{name}(_m: {name}): string {{"
        ));
        c.line(format!("throw new {encode_error}({none});"));
        c.close("}");
        for (suffix, ret) in [("Text", "string"), ("Binary", "Uint8Array")] {
            c.item();
            c.open(format!(
                "export function encode{name}{suffix}(_m: {name}): {ret} {{"
            ));
            c.line(format!("throw new {encode_error}({none});"));
            c.close("}");
        }
        for (suffix, frame, reader) in [
            ("Text", "string", self.rt("TextReader")),
            ("Binary", "Uint8Array", self.rt("BinaryReader")),
        ] {
            c.item();
            c.open(format!(
                "export function decode{name}{suffix}(frame: {frame}, limits: {limits} = {default_limits}): {name} {{"
            ));
            c.line(format!(
                "throw new {reader}(frame, limits).unknownHeader();"
            ));
            c.close("}");
        }
        c.item();
        c.open(format!(
            "export function toJson{name}(_m: {name}): unknown {{"
        ));
        c.line(format!("throw new {encode_error}({none});"));
        c.close("}");
        c.item();
        c.open(format!(
            "export function fromJson{name}(json: unknown, path = \"$\"): {name} {{"
        ));
        c.line(format!(
            "throw {}(path, {}, json);",
            self.helper("$err"),
            json_string(&format!(
                "a {} message (this package has none)",
                side.sender
            ))
        ));
        c.close("}");
    }

    /// `switch (m.message) { … switch (m.version) { … } }` with `arm`
    /// giving each message version's statement (a `return` or `throw`);
    /// anything else throws `EncodeError`.
    fn dispatch(&self, c: &mut Code, side: &Side<'_>, arm: &dyn Fn(&MessageVersion) -> String) {
        let encode_error = self.rt("EncodeError");
        let not = json_string(&format!(
            "tagwire: not a {} of package `{}`",
            side.name, self.package.name
        ));
        c.open("switch (m.message) {");
        let mut names: Vec<&str> = Vec::new();
        for m in &side.messages {
            if !names.contains(&m.name.as_str()) {
                names.push(&m.name);
            }
        }
        for name in names {
            c.open(format!("case {}:", json_string(name)));
            c.open("switch (m.version) {");
            for m in side.messages.iter().filter(|m| m.name == name) {
                c.open(format!("case {}:", m.version));
                c.line(arm(m));
                c.dedent();
            }
            c.open("default:");
            c.line(format!("throw new {encode_error}({not});"));
            c.dedent();
            c.close("}");
            c.dedent();
        }
        c.open("default:");
        c.line(format!("throw new {encode_error}({not});"));
        c.dedent();
        c.close("}");
    }

    fn side(&self, c: &mut Code, side: &Side<'_>) {
        let name = side.name;
        let writer = self.rt("Writer");
        let reader = self.rt("Reader");
        let limits = self.rt("Limits");
        let default_limits = self.rt("DEFAULT_LIMITS");

        c.item();
        c.line("/**");
        c.line(format!(" * {}", side.doc));
        c.line(" *");
        c.line(" * `message` and `version` name the message version; its fields are in");
        c.line(" * `value`, so no field can collide with them. This is also the message's");
        c.line(" * canonical JSON form, a line of a values file (SPEC §8).");
        c.line(" */");
        c.open(format!("export type {name} ="));
        let last = side.messages.len() - 1;
        for (i, m) in side.messages.iter().enumerate() {
            c.line(format!(
                "| {{ message: {}; version: {}; value: {} }}{}",
                json_string(&m.name),
                m.version,
                m.type_name(),
                if i == last { ";" } else { "" }
            ));
        }
        c.dedent();

        c.item();
        c.line("/** The header of `m`'s message version. */");
        c.open(format!(
            "export function headerOf{name}(m: {name}): string {{"
        ));
        self.dispatch(c, side, &|m| {
            format!("return {};", screaming_snake(&m.type_name()))
        });
        c.close("}");

        c.item();
        c.open(format!(
            "function $write{name}(w: {writer}, m: {name}): void {{"
        ));
        self.dispatch(c, side, &|m| {
            format!("return write{}(w, m.value);", m.type_name())
        });
        c.close("}");

        c.item();
        c.open(format!("function $read{name}(r: {reader}): {name} {{"));
        c.line(format!("let m: {name};"));
        c.open("switch (r.header) {");
        for m in &side.messages {
            let tn = m.type_name();
            c.open(format!("case {}:", screaming_snake(&tn)));
            c.line(format!(
                "m = {{ message: {}, version: {}, value: read{tn}(r) }};",
                json_string(&m.name),
                m.version
            ));
            c.line("break;");
            c.dedent();
        }
        c.open("default:");
        c.line("throw r.unknownHeader();");
        c.dedent();
        c.close("}");
        c.line("r.finish();");
        c.line("return m;");
        c.close("}");

        let checked: Vec<&MessageVersion> = side
            .messages
            .iter()
            .copied()
            .filter(|m| self.fields_constrained(&m.fields))
            .collect();
        if !checked.is_empty() {
            let violation = self.rt("Violation");
            c.item();
            c.line(
                "/** The first value of `m` that breaks a constraint of the schema (SPEC §6.4), or `undefined`. */",
            );
            c.open(format!(
                "export function validate{name}(m: {name}): {violation} | undefined {{"
            ));
            c.open("switch (m.message) {");
            let mut names: Vec<&str> = Vec::new();
            for m in &checked {
                if !names.contains(&m.name.as_str()) {
                    names.push(&m.name);
                }
            }
            for msg in names {
                c.open(format!("case {}:", json_string(msg)));
                c.open("switch (m.version) {");
                for m in checked.iter().filter(|m| m.name == msg) {
                    c.open(format!("case {}:", m.version));
                    c.line(format!("return validate{}(m.value);", m.type_name()));
                    c.dedent();
                }
                c.close("}");
                c.line("break;");
                c.dedent();
            }
            c.close("}");
            c.line("return undefined;");
            c.close("}");
        }
        let encode_check = if checked.is_empty() {
            None
        } else {
            Some(format!(
                "const e = validate{name}(m);\nif (e !== undefined) throw new {}(e);",
                self.rt("ConstraintError")
            ))
        };
        let decode_check = |position: &str| {
            (!checked.is_empty()).then(|| {
                format!(
                    "const e = validate{name}(m);\nif (e !== undefined) throw {}(e, {position});",
                    self.rt("constraintViolation")
                )
            })
        };

        c.item();
        c.line(
            "/** A text frame (SPEC §3). Throws `EncodeError` for values outside their types. */",
        );
        c.open(format!(
            "export function encode{name}Text(m: {name}): string {{"
        ));
        if let Some(check) = &encode_check {
            c.line(check);
        }
        c.line(format!(
            "const w = new {}(headerOf{name}(m));",
            self.rt("TextWriter")
        ));
        c.line(format!("$write{name}(w, m);"));
        c.line("return w.finish();");
        c.close("}");

        c.item();
        c.line("/** A binary frame (SPEC §4), in a fresh array. Throws `EncodeError` for values outside their types. */");
        c.open(format!(
            "export function encode{name}Binary(m: {name}): Uint8Array {{"
        ));
        if let Some(check) = &encode_check {
            c.line(check);
        }
        c.line(format!("const w = $binaryWriter.begin(headerOf{name}(m));"));
        c.line(format!("$write{name}(w, m);"));
        c.line("return w.finish();");
        c.close("}");

        c.item();
        c.line("/** Decodes a text frame strictly; throws `DecodeError` (kind and position) on any bad frame. */");
        c.open(format!(
            "export function decode{name}Text(frame: string, limits: {limits} = {default_limits}): {name} {{"
        ));
        match decode_check("{ token: 0, byte: 0 }") {
            Some(check) => {
                c.line(format!(
                    "const m = $read{name}(new {}(frame, limits));",
                    self.rt("TextReader")
                ));
                c.line(check);
                c.line("return m;");
            }
            None => c.line(format!(
                "return $read{name}(new {}(frame, limits));",
                self.rt("TextReader")
            )),
        }
        c.close("}");

        c.item();
        c.line("/** Decodes a binary frame strictly; throws `DecodeError` (kind and position) on any bad frame. */");
        c.open(format!(
            "export function decode{name}Binary(frame: Uint8Array, limits: {limits} = {default_limits}): {name} {{"
        ));
        match decode_check("{ byte: 0 }") {
            Some(check) => {
                c.line(format!(
                    "const m = $read{name}(new {}(frame, limits));",
                    self.rt("BinaryReader")
                ));
                c.line(check);
                c.line("return m;");
            }
            None => c.line(format!(
                "return $read{name}(new {}(frame, limits));",
                self.rt("BinaryReader")
            )),
        }
        c.close("}");

        c.item();
        c.line("/** `{ message, version, value }` with the value in canonical JSON: a values-file line (SPEC §8). */");
        c.open(format!(
            "export function toJson{name}(m: {name}): unknown {{"
        ));
        self.dispatch(c, side, &|m| {
            format!(
                "return {{ message: {}, version: {}, value: toJson{}(m.value) }};",
                json_string(&m.name),
                m.version,
                m.type_name()
            )
        });
        c.close("}");

        c.item();
        c.line("/** A message from a values-file line (`version` defaults to 1); throws on anything else. */");
        c.open(format!(
            "export function fromJson{name}(json: unknown, path = \"$\"): {name} {{"
        ));
        let get = self.helper("$get");
        c.line(format!(
            "const o = {}(json, path, [\"message\", \"version\", \"value\"]);",
            self.helper("$object")
        ));
        c.line(format!("const message = {get}(o, \"message\");"));
        c.line(format!("const version = {get}(o, \"version\") ?? 1;"));
        c.line(format!("const value = {get}(o, \"value\");"));
        c.line("const p = path + \".value\";");
        c.open("switch (message) {");
        let mut names: Vec<&str> = Vec::new();
        for m in &side.messages {
            if !names.contains(&m.name.as_str()) {
                names.push(&m.name);
            }
        }
        for msg in names {
            c.open(format!("case {}:", json_string(msg)));
            c.open("switch (version) {");
            for m in side.messages.iter().filter(|m| m.name == msg) {
                c.open(format!("case {}:", m.version));
                c.line(format!(
                    "return {{ message: {}, version: {}, value: fromJson{}(value, p) }};",
                    json_string(msg),
                    m.version,
                    m.type_name()
                ));
                c.dedent();
            }
            c.close("}");
            c.line("break;");
            c.dedent();
        }
        c.close("}");
        c.line(format!(
            "throw {}(path, {}, message);",
            self.helper("$err"),
            json_string(&format!(
                "the name and version of a {} message of package `{}`",
                side.sender, self.package.name
            ))
        ));
        c.close("}");
    }
}
