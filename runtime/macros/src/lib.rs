//! `#[kq::main]` and `#[kq::test]`.
//!
//! Placeholder crate: the runtime issue fills it in. It exports nothing yet.
#![forbid(unsafe_code)]
