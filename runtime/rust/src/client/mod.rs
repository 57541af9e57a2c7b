//! The WebSocket client (feature `client`): see docs/RUNTIME.md.
