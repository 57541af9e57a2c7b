//! A schema-driven codec: decodes and encodes frames of any checked schema
//! without generated code, and maps values to and from the canonical JSON of
//! SPEC §8. It backs `tagwire decode` and `tagwire encode`, and is the third
//! implementation of SPEC.md next to the Rust and TypeScript runtimes.
//!
//! The type walk (nesting levels, `+` markers, flattening, enum and union
//! lookups, header dispatch) and the JSON mapping are this module's own; the
//! tokens and bytes of each primitive come from the runtime's
//! `tagwire::__private` readers and writers, so primitive rules (integer and
//! float grammars, escapes, base64url, varints, limits) agree with the Rust
//! runtime by construction rather than by test.

mod binary;
mod cli;
mod json;
mod text;
pub mod validate;
mod value;
mod walk;

pub use cli::{
    CliResult, EncodeFormat, FrameEncoding, FrameSource, cli_decode, cli_encode, pick_package,
};
pub use json::{
    Json, JsonError, MAX_JSON_DEPTH, fields_from_json, fields_json, from_json, parse as parse_json,
    to_json,
};
pub use value::{Key, Value};

use tagwire::{DecodeError, Limits, Position};

use crate::ir::{MessageVersion, Package, Schema};

/// A frame to decode.
#[derive(Debug, Clone, Copy)]
pub enum Frame<'a> {
    /// A text frame.
    Text(&'a str),
    /// A text frame as received (bytes that should be UTF-8).
    TextBytes(&'a [u8]),
    /// A binary frame.
    Binary(&'a [u8]),
}

/// A decoded frame: which message version it is, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub package: String,
    pub message: String,
    pub version: u32,
    pub header: String,
    /// `server`, `client` or `both`.
    pub direction: String,
    /// The message's fields.
    pub value: Value,
    /// The canonical JSON of `value` (an object keyed by field name).
    pub json: Json,
}

/// A value that does not have its type (only possible for a hand-built
/// [`Value`]; values from [`from_json`] always fit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the value does not match the message's fields")]
pub struct Mismatch;

/// Why a values-file line could not be encoded: what, and where (a JSON path
/// such as `value.shapes[3].circle.radius`; empty for the line as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValuesError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for ValuesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ValuesError {}

impl From<JsonError> for ValuesError {
    fn from(e: JsonError) -> Self {
        ValuesError {
            path: e.path,
            message: e.message,
        }
    }
}

fn values_error<T>(path: &str, message: impl Into<String>) -> Result<T, ValuesError> {
    Err(ValuesError {
        path: path.to_owned(),
        message: message.into(),
    })
}

pub(crate) fn find_header(package: &Package, bytes: [u8; 2]) -> Option<&MessageVersion> {
    package
        .messages
        .iter()
        .find(|m| m.header.is_some_and(|h| h.to_bytes() == bytes))
}

/// Decodes one frame of `package`'s protocol (see [`pick_package`] for
/// `None`), strictly and bounded by `limits`, exactly as the runtimes do
/// (same error kinds and positions). Every message version of the package is
/// accepted, whatever its direction.
///
/// # Errors
///
/// The decoder's error. A package that cannot be picked rejects every frame
/// as `unknown_header`.
pub fn decode_frame(
    schema: &Schema,
    package: Option<&str>,
    frame: Frame<'_>,
    limits: &Limits,
) -> Result<Decoded, DecodeError> {
    let empty;
    let package = match pick_package(schema, package) {
        Ok(p) => p,
        Err(_) => {
            empty = Package::default();
            &empty
        }
    };
    let ((message, value), start) = match frame {
        Frame::Text(t) => (
            text::decode(schema, package, t, limits)?,
            Position::Token { index: 0, byte: 0 },
        ),
        Frame::TextBytes(b) => (
            text::decode_bytes(schema, package, b, limits)?,
            Position::Token { index: 0, byte: 0 },
        ),
        Frame::Binary(b) => (
            binary::decode(schema, package, b, limits)?,
            Position::Byte(0),
        ),
    };
    // Constraints are checked once the whole frame has decoded (SPEC §6.1).
    if let Value::Struct(values) = &value {
        validate::fields(schema, &message.fields, values, "")
            .map_err(|v| DecodeError::constraint(start, v))?;
    }
    let json = match &value {
        Value::Struct(values) => fields_json(schema, &message.fields, values),
        _ => Json::Null,
    };
    Ok(Decoded {
        package: package.name.clone(),
        message: message.name.clone(),
        version: message.version,
        header: message.header.map(|h| h.to_string()).unwrap_or_default(),
        direction: message.direction.as_str().to_owned(),
        value,
        json,
    })
}

/// One line of JSON:
/// `{"header":"ab","message":"UpdateUi","version":1,"direction":"server","value":{…}}`.
pub fn render_decoded(d: &Decoded) -> String {
    Json::Object(vec![
        ("header".into(), Json::String(d.header.clone())),
        ("message".into(), Json::String(d.message.clone())),
        ("version".into(), Json::Number(d.version.to_string())),
        ("direction".into(), Json::String(d.direction.clone())),
        ("value".into(), d.json.clone()),
    ])
    .render()
}

/// The message version named `message` v`version` in `package`.
///
/// # Errors
///
/// When there is none, listing what there is.
pub fn find_message<'s>(
    package: &'s Package,
    message: &str,
    version: u32,
) -> Result<&'s MessageVersion, ValuesError> {
    let versions: Vec<&MessageVersion> = package
        .messages
        .iter()
        .filter(|m| m.name == message)
        .collect();
    if versions.is_empty() {
        let mut names: Vec<&str> = Vec::new();
        for m in &package.messages {
            if !names.contains(&m.name.as_str()) {
                names.push(&m.name);
            }
        }
        return values_error(
            "message",
            format!(
                "package {} has no message {} (messages: {})",
                package.name,
                json::quote(message),
                names.join(", ")
            ),
        );
    }
    match versions.iter().find(|m| m.version == version) {
        Some(m) if m.header.is_some() => Ok(m),
        Some(_) => values_error(
            "message",
            format!("{message} v{version} has no header yet (run `tagwire lock`)"),
        ),
        None => {
            let list: Vec<String> = versions.iter().map(|m| m.version.to_string()).collect();
            values_error(
                "version",
                format!(
                    "{message} has no version {version} (versions: {})",
                    list.join(", ")
                ),
            )
        }
    }
}

/// Encodes a message version's JSON value (an object of its fields) as a
/// text frame and a binary frame.
///
/// # Errors
///
/// What in the value does not fit the message's fields, with its path below
/// `value`.
pub fn encode_value(
    schema: &Schema,
    message: &MessageVersion,
    value: &Json,
) -> Result<(String, Vec<u8>), ValuesError> {
    let owner = format!("{} v{}", message.name, message.version);
    let fields = fields_from_json(schema, &owner, &message.fields, value, "value")?;
    // Encoders refuse values that break a constraint (SPEC §6.4).
    validate::fields(schema, &message.fields, &fields, "").map_err(|v| ValuesError {
        path: format!("value.{}", v.path),
        message: v.message,
    })?;
    let value = Value::Struct(fields);
    let mismatch = |_| ValuesError {
        path: "value".into(),
        message: "internal error: the value does not fit the message".into(),
    };
    let text = text::encode(schema, message, &value).map_err(mismatch)?;
    let binary = binary::encode(schema, message, &value).map_err(mismatch)?;
    Ok((text, binary))
}

/// Encodes one values-file line, `{"message": "RenderUi", "version": 2,
/// "value": {…}}` (`version` 1 when left out), as a text and a binary frame.
///
/// # Errors
///
/// Invalid JSON (with its column), an unknown message or version, or a value
/// that does not fit (with its JSON path, like `value.shapes[3].circle.radius`).
pub fn encode_values_line(
    schema: &Schema,
    package: Option<&str>,
    line: &str,
) -> Result<(String, Vec<u8>), ValuesError> {
    let package = pick_package(schema, package).map_err(|message| ValuesError {
        path: String::new(),
        message,
    })?;
    let json = json::parse(line).map_err(|message| ValuesError {
        path: String::new(),
        message,
    })?;
    let Json::Object(members) = &json else {
        return values_error(
            "",
            format!(
                "expected an object like {{\"message\": \"Name\", \"version\": 1, \"value\": {{…}}}}, found {}",
                json.kind()
            ),
        );
    };
    let (mut message, mut version, mut value) = (None, None, None);
    for (k, v) in members {
        match k.as_str() {
            "message" => message = Some(v),
            "version" => version = Some(v),
            "value" => value = Some(v),
            other => {
                return values_error(
                    other,
                    "unknown property (a values line has message, version and value)",
                );
            }
        }
    }
    let message = match message {
        Some(Json::String(s)) => s,
        Some(other) => {
            return values_error(
                "message",
                format!("expected a message name, found {}", other.kind()),
            );
        }
        None => return values_error("message", "missing property (the message's name)"),
    };
    let version = match version {
        None | Some(Json::Null) => 1,
        Some(Json::Number(n)) => match n.parse::<u32>() {
            Ok(v) if v >= 1 && !n.starts_with('0') => v,
            _ => return values_error("version", format!("{n} is not a version number (1, 2, …)")),
        },
        Some(other) => {
            return values_error(
                "version",
                format!("expected a version number, found {}", other.kind()),
            );
        }
    };
    let Some(value) = value else {
        return values_error(
            "value",
            "missing property (the message's fields, as an object)",
        );
    };
    let m = find_message(package, message, version)?;
    encode_value(schema, m, value)
}
