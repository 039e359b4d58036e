//! The kq runtime: tasks, schedulers and the driver between the core and wakers.
//!
//! Placeholder crate: the workspace lays it down now so the layout of DESIGN.md is in
//! place; its issue fills it in. It exports nothing yet.
