//! Cross-crate tests for Tagwire live in `tests/tests/`.
