//! Shared helpers live in tests/common.
