//! The plain `|`-delimited convention (docs/SPEC.md §3.8), written as one
//! would by hand: `format!` and `join("|")` to encode, `split('|')` into
//! strings and `parse` each field to decode. It uses the same headers and
//! token layout as Tagwire's text encoding (counts before list items, `~` for
//! an absent optional, `1`/`0` for bools, enum numbers) and escapes `|` and
//! `\` in strings with `replace`, since chat text contains `|`; floats are
//! Rust's shortest `f32` spelling. Errors are `None`: no positions, no
//! limits, and enums outside their range are rejected only because
//! `from_value` has to be called.

use crate::traffic::{
    AckV1, Align, Change, ChatV1, CursorMoveV1, ListUpdateV1, Node, PresenceV1, ReactionV1,
    RenderTreeV1, Row, SelectionV1, ServerMessage, Status, Tag, Tool, TypingV1, UiPatchV1,
};

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\p")
}

fn unesc(s: String) -> String {
    if s.contains('\\') {
        s.replace("\\p", "|").replace("\\\\", "\\")
    } else {
        s
    }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "~".to_owned(), ToString::to_string)
}

fn opt_str(v: &Option<String>) -> String {
    v.as_deref().map_or_else(|| "~".to_owned(), esc)
}

fn flag(v: bool) -> &'static str {
    if v { "1" } else { "0" }
}

/// One text frame, in a new `String`.
pub fn encode_naive(m: &ServerMessage) -> String {
    use ServerMessage as S;
    match m {
        S::CursorMoveV1(m) => format!(
            "aa|{}|{}|{}|{}|{}|{}|{}|{}",
            m.user,
            m.seq,
            m.at_ms,
            m.x,
            m.y,
            m.buttons,
            m.tool.value(),
            opt(&m.pressure)
        ),
        S::PresenceV1(m) => format!(
            "ab|{}|{}|{}|{}|{}|{}",
            m.user,
            esc(&m.name),
            m.status.value(),
            esc(&m.room),
            opt_str(&m.color),
            esc(&m.client)
        ),
        S::ChatV1(m) => format!(
            "ac|{}|{}|{}|{}|{}",
            esc(&m.room),
            m.user,
            m.seq,
            esc(&m.text),
            opt(&m.reply_to)
        ),
        S::TypingV1(m) => format!("ad|{}|{}|{}", esc(&m.room), m.user, flag(m.typing)),
        S::UiPatchV1(m) => {
            let change = match &m.change {
                Change::None => "0".to_owned(),
                Change::Moved { x, y } => format!("1|{x}|{y}"),
                Change::Resized { w, h } => format!("2|{w}|{h}"),
                Change::Styled { class } => format!("3|{}", esc(class)),
            };
            format!(
                "ae|{}|{}|{}|{}|{}|{}|{}|{}|{}",
                m.node,
                flag(m.visible),
                m.enabled.map_or("~", flag),
                opt(&m.width),
                opt(&m.height),
                m.align.value(),
                opt_str(&m.label),
                m.z,
                change
            )
        }
        S::SelectionV1(m) => {
            let mut parts = vec!["af".to_owned(), m.user.to_string(), m.ids.len().to_string()];
            parts.extend(m.ids.iter().map(ToString::to_string));
            parts.join("|")
        }
        S::ListUpdateV1(m) => {
            let mut parts = vec![
                "ag".to_owned(),
                esc(&m.list),
                m.offset.to_string(),
                m.rows.len().to_string(),
            ];
            for r in &m.rows {
                parts.push(format!(
                    "{}|{}|{}|{}",
                    r.id,
                    esc(&r.title),
                    flag(r.done),
                    r.score
                ));
            }
            parts.join("|")
        }
        S::ReactionV1(m) => format!("ah|{}|{}|{}", m.message, m.user, esc(&m.emoji)),
        S::AckV1(m) => format!("ai|{}", m.seq),
        S::RenderTreeV1(m) => {
            let mut parts = vec![
                "aj".to_owned(),
                esc(&m.root),
                m.version.to_string(),
                m.nodes.len().to_string(),
            ];
            for n in &m.nodes {
                parts.push(format!(
                    "{}|{}|{}|{}|{}",
                    n.parent,
                    n.tag.value(),
                    opt_str(&n.id),
                    opt_str(&n.class),
                    opt_str(&n.text)
                ));
            }
            parts.join("|")
        }
    }
}

/// The tokens after the header, consumed in field order.
struct Tokens(std::vec::IntoIter<String>);

impl Tokens {
    fn next(&mut self) -> Option<String> {
        self.0.next()
    }
    fn num<T: std::str::FromStr>(&mut self) -> Option<T> {
        self.0.next()?.parse().ok()
    }
    fn flag(&mut self) -> Option<bool> {
        match self.0.next()?.as_str() {
            "1" => Some(true),
            "0" => Some(false),
            _ => None,
        }
    }
    fn string(&mut self) -> Option<String> {
        self.0.next().map(unesc)
    }
    fn opt_num<T: std::str::FromStr>(&mut self) -> Option<Option<T>> {
        let t = self.0.next()?;
        if t == "~" {
            Some(None)
        } else {
            Some(Some(t.parse().ok()?))
        }
    }
    fn opt_string(&mut self) -> Option<Option<String>> {
        let t = self.0.next()?;
        if t == "~" {
            Some(None)
        } else {
            Some(Some(unesc(t)))
        }
    }
    fn opt_flag(&mut self) -> Option<Option<bool>> {
        match self.0.next()?.as_str() {
            "~" => Some(None),
            "1" => Some(Some(true)),
            "0" => Some(Some(false)),
            _ => None,
        }
    }
}

/// Splits the frame into owned strings, then parses field by field.
pub fn decode_naive(frame: &str) -> Option<ServerMessage> {
    let parts: Vec<String> = frame.split('|').map(str::to_owned).collect();
    let mut t = Tokens(parts.into_iter());
    let header = t.next()?;
    let m: ServerMessage = match header.as_str() {
        "aa" => CursorMoveV1 {
            user: t.num()?,
            seq: t.num()?,
            at_ms: t.num()?,
            x: t.num()?,
            y: t.num()?,
            buttons: t.num()?,
            tool: Tool::from_value(t.num()?)?,
            pressure: t.opt_num()?,
        }
        .into(),
        "ab" => PresenceV1 {
            user: t.num()?,
            name: t.string()?,
            status: Status::from_value(t.num()?)?,
            room: t.string()?,
            color: t.opt_string()?,
            client: t.string()?,
        }
        .into(),
        "ac" => ChatV1 {
            room: t.string()?,
            user: t.num()?,
            seq: t.num()?,
            text: t.string()?,
            reply_to: t.opt_num()?,
        }
        .into(),
        "ad" => TypingV1 {
            room: t.string()?,
            user: t.num()?,
            typing: t.flag()?,
        }
        .into(),
        "ae" => UiPatchV1 {
            node: t.num()?,
            visible: t.flag()?,
            enabled: t.opt_flag()?,
            width: t.opt_num()?,
            height: t.opt_num()?,
            align: Align::from_value(t.num()?)?,
            label: t.opt_string()?,
            z: t.num()?,
            change: match t.num::<u32>()? {
                0 => Change::None,
                1 => Change::Moved {
                    x: t.num()?,
                    y: t.num()?,
                },
                2 => Change::Resized {
                    w: t.num()?,
                    h: t.num()?,
                },
                3 => Change::Styled { class: t.string()? },
                _ => return None,
            },
        }
        .into(),
        "af" => {
            let user = t.num()?;
            let n: usize = t.num()?;
            let mut ids = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                ids.push(t.num()?);
            }
            SelectionV1 { user, ids }.into()
        }
        "ag" => {
            let list = t.string()?;
            let offset = t.num()?;
            let n: usize = t.num()?;
            let mut rows = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                rows.push(Row {
                    id: t.num()?,
                    title: t.string()?,
                    done: t.flag()?,
                    score: t.num()?,
                });
            }
            ListUpdateV1 { list, offset, rows }.into()
        }
        "ah" => ReactionV1 {
            message: t.num()?,
            user: t.num()?,
            emoji: t.string()?,
        }
        .into(),
        "ai" => AckV1 { seq: t.num()? }.into(),
        "aj" => {
            let root = t.string()?;
            let version = t.num()?;
            let n: usize = t.num()?;
            let mut nodes = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                nodes.push(Node {
                    parent: t.num()?,
                    tag: Tag::from_value(t.num()?)?,
                    id: t.opt_string()?,
                    class: t.opt_string()?,
                    text: t.opt_string()?,
                });
            }
            RenderTreeV1 {
                root,
                version,
                nodes,
            }
            .into()
        }
        _ => return None,
    };
    // A frame with tokens left over is as wrong as one missing some.
    t.next().is_none().then_some(m)
}
