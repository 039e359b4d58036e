//! The schedulers: `multi_thread` (work-stealing, the default) and `current_thread`.
//!
//! Both run tasks of the same kind (see `crate::task`) and drive the same driver; they
//! differ in who runs tasks and who waits in `kevent`.

pub(crate) mod current_thread;
pub(crate) mod inject;
pub(crate) mod multi_thread;
pub(crate) mod park;
pub(crate) mod queue;

use crate::driver;
use crate::runtime::blocking;
use crate::task::{Id, JoinHandle};
use std::future::Future;
use std::sync::Arc;

/// A handle to one of the schedulers.
#[derive(Debug, Clone)]
pub(crate) enum Handle {
    MultiThread(Arc<multi_thread::Handle>),
    CurrentThread(Arc<current_thread::Handle>),
}

impl Handle {
    pub(crate) fn spawn<F>(&self, future: F, id: Id) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Handle::MultiThread(h) => h.spawn(future, id),
            Handle::CurrentThread(h) => h.spawn(future, id),
        }
    }

    pub(crate) fn driver(&self) -> &Arc<driver::Handle> {
        match self {
            Handle::MultiThread(h) => &h.driver,
            Handle::CurrentThread(h) => &h.driver,
        }
    }

    pub(crate) fn blocking(&self) -> &blocking::Spawner {
        match self {
            Handle::MultiThread(h) => &h.blocking,
            Handle::CurrentThread(h) => &h.blocking,
        }
    }
}
