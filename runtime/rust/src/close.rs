//! WebSocket close codes and what a client does after each (SPEC §9.4).
//!
//! One table decides reconnect behaviour for the Rust and TypeScript
//! clients alike, so a server can steer every client with the code alone.

/// What a client does after the connection closed with a given code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseAction {
    /// Reconnect with the usual exponential backoff.
    Reconnect,
    /// The server is being deployed: reconnect at a random moment inside the
    /// drain notice's window, with the deploy backoff.
    ReconnectLater,
    /// Reconnecting would fail the same way: stop and tell the application.
    Stop,
}

/// A WebSocket close code with a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// The application ended the session on purpose.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// The server went away without a drain (or past its hard deadline).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// The peer broke the WebSocket protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// A text frame was not valid UTF-8.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// The peer broke a policy (authentication, origin).
    pub const POLICY: CloseCode = CloseCode(1008);
    /// A frame exceeded the receiver's maximum frame size.
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    /// The server failed.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// No pong (server side) or no ping (client side) within the timeout.
    pub const HEARTBEAT_TIMEOUT: CloseCode = CloseCode(4000);
    /// The server is draining for a deploy; a drain notice preceded it.
    pub const DRAIN: CloseCode = CloseCode(4001);
    /// The client did not read fast enough; its outbound queue overflowed.
    pub const SLOW_CONSUMER: CloseCode = CloseCode(4002);
    /// The client's protocol is incompatible with the server's.
    pub const PROTOCOL_MISMATCH: CloseCode = CloseCode(4003);
    /// The client's credentials were refused.
    pub const UNAUTHORIZED: CloseCode = CloseCode(4004);
    /// The client kept sending past its rate limit.
    pub const RATE_LIMITED: CloseCode = CloseCode(4005);

    /// The table in SPEC §9.4. Codes not listed reconnect: a client that
    /// stops for a code it does not know would turn a server upgrade into
    /// an outage.
    #[must_use]
    pub fn action(self) -> CloseAction {
        match self.0 {
            1000 | 1002 | 1003 | 1007 | 1008 | 1009 | 1010 | 4003 | 4004 => CloseAction::Stop,
            1012 | 1013 | 4001 | 4005 => CloseAction::ReconnectLater,
            _ => CloseAction::Reconnect,
        }
    }

    /// Short name for logs and status events.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self.0 {
            1000 => "normal",
            1001 => "going_away",
            1002 => "protocol_error",
            1003 => "unsupported_data",
            1006 => "abnormal",
            1007 => "invalid_payload",
            1008 => "policy",
            1009 => "too_big",
            1011 => "internal_error",
            1012 => "service_restart",
            1013 => "try_again_later",
            4000 => "heartbeat_timeout",
            4001 => "drain",
            4002 => "slow_consumer",
            4003 => "protocol_mismatch",
            4004 => "unauthorized",
            4005 => "rate_limited",
            _ => "unknown",
        }
    }
}

impl std::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_sorts_codes_into_three_actions() {
        assert_eq!(CloseCode::DRAIN.action(), CloseAction::ReconnectLater);
        assert_eq!(
            CloseCode::HEARTBEAT_TIMEOUT.action(),
            CloseAction::Reconnect
        );
        assert_eq!(CloseCode::SLOW_CONSUMER.action(), CloseAction::Reconnect);
        assert_eq!(CloseCode(1006).action(), CloseAction::Reconnect);
        assert_eq!(CloseCode::TOO_BIG.action(), CloseAction::Stop);
        assert_eq!(CloseCode::NORMAL.action(), CloseAction::Stop);
        assert_eq!(CloseCode(4999).action(), CloseAction::Reconnect);
        assert_eq!(CloseCode::DRAIN.to_string(), "4001 (drain)");
    }
}
