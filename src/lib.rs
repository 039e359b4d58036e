//! kq: an async runtime whose reactor is a kqueue-model event core.
//!
//! This facade only re-exports. Today it offers the core itself, [`reactor`]: the
//! `kevent(2)` API with FreeBSD semantics on Linux, BSD and macOS. The runtime, networking,
//! file watching and process crates of the workspace join it as they are built.
#![forbid(unsafe_code)]

pub use kq_reactor as reactor;
