//! Child processes on EVFILT_PROC and signals on EVFILT_SIGNAL.
//!
//! Placeholder crate: the workspace lays it down now so the layout of DESIGN.md is in
//! place; its issue fills it in. It exports nothing yet.
