//! kq's benchmarks. See the binaries under `src/bin/`.
//!
//! The library holds what the binaries share: thin wrappers over the Linux calls they time
//! or set up with ([`sys`]), and the statistics and tables of alternating runs ([`stats`]).

pub mod stats;
#[cfg(target_os = "linux")]
pub mod sys;
