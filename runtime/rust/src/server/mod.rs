//! The WebSocket server (feature `server`): see docs/RUNTIME.md.
