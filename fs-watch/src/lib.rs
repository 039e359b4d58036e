//! A recursive async file watcher on EVFILT_VNODE knotes.
#![forbid(unsafe_code)]
//!
//! Placeholder crate: the workspace lays it down now so the layout of DESIGN.md is in
//! place; its issue fills it in. It exports nothing yet.
