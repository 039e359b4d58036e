//! kq: an async runtime whose reactor is a kqueue-model event core.
//!
//! Every source of readiness — sockets, pipes, timers, user wake-ups — is a knote of one
//! kqueue, changed through a changelist and reported through an eventlist with FreeBSD's
//! `kevent(2)` semantics (on Linux, implemented in user space by [`reactor`]). Above it sit
//! a work-stealing runtime and the futures applications use. The API follows tokio's names
//! and signatures, so porting a tokio application means replacing `tokio::` with `kq::`.
//!
//! ```
//! #[kq::main]
//! async fn main() {
//!     let task = kq::spawn(async { 6 * 7 });
//!     kq::time::sleep(kq::time::Duration::from_millis(1)).await;
//!     assert_eq!(task.await.unwrap(), 42);
//! }
//! ```
//!
//! This facade only re-exports: [`reactor`] (the core), [`runtime`], [`task`], [`time`],
//! [`io`], [`net`] (TCP, UDP and Unix sockets), [`process`] and [`signal`] (child processes
//! on `EVFILT_PROC`, signals on `EVFILT_SIGNAL`), [`fs_watch`] (a recursive file watcher on
//! `EVFILT_VNODE`), [`spawn`], and the [`main`] and [`test`] attributes.
#![forbid(unsafe_code)]

pub use kq_fs_watch as fs_watch;
pub use kq_macros::{main, test};
pub use kq_net as net;
pub use kq_process::{process, signal};
pub use kq_reactor as reactor;
pub use kq_runtime::{io, runtime, spawn, task, time};
