//! `Builder`: a runtime's configuration.

use super::{Runtime, ThreadNameFn};
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// Builds a [`Runtime`] with custom settings (tokio's names and defaults).
///
/// # Examples
///
/// ```
/// let rt = kq_runtime::runtime::Builder::new_multi_thread()
///     .worker_threads(2)
///     .thread_name("my-worker")
///     .enable_all()
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
pub struct Builder {
    kind: Kind,
    worker_threads: Option<usize>,
    max_blocking_threads: usize,
    thread_name: ThreadNameFn,
    thread_stack_size: Option<usize>,
    keep_alive: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    MultiThread,
    CurrentThread,
}

/// The settings the schedulers read.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) worker_threads: usize,
    pub(crate) thread_name: ThreadNameFn,
    pub(crate) thread_stack_size: Option<usize>,
}

impl Config {
    pub(crate) fn thread_name(&self) -> String {
        (self.thread_name)()
    }
}

impl Builder {
    /// A multi-threaded, work-stealing runtime (one worker per CPU by default).
    pub fn new_multi_thread() -> Builder {
        Builder::new(Kind::MultiThread)
    }

    /// A runtime that runs every task on the thread calling `block_on`.
    pub fn new_current_thread() -> Builder {
        Builder::new(Kind::CurrentThread)
    }

    fn new(kind: Kind) -> Builder {
        Builder {
            kind,
            worker_threads: None,
            max_blocking_threads: 512,
            thread_name: Arc::new(|| "kq-runtime-worker".to_owned()),
            thread_stack_size: None,
            keep_alive: Duration::from_secs(10),
        }
    }

    /// The number of worker threads (multi-thread runtime only). Default: the number of
    /// CPUs. Zero is rejected by [`build`](Builder::build).
    pub fn worker_threads(&mut self, n: usize) -> &mut Builder {
        self.worker_threads = Some(n);
        self
    }

    /// The most threads the blocking pool may run at once (default 512). Zero is rejected
    /// by [`build`](Builder::build).
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Builder {
        self.max_blocking_threads = n;
        self
    }

    /// The name of the runtime's threads.
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        let name: String = name.into();
        self.thread_name = Arc::new(move || name.clone());
        self
    }

    /// A function that names each new thread of the runtime.
    pub fn thread_name_fn<F>(&mut self, f: F) -> &mut Builder
    where
        F: Fn() -> String + Send + Sync + 'static,
    {
        self.thread_name = Arc::new(f);
        self
    }

    /// The stack size of the runtime's threads.
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Builder {
        self.thread_stack_size = Some(bytes);
        self
    }

    /// How long an idle blocking thread stays (default 10 s).
    pub fn thread_keep_alive(&mut self, d: Duration) -> &mut Builder {
        self.keep_alive = d;
        self
    }

    /// Enables the I/O and time drivers. kq's drivers are always on: this exists so that
    /// code written for tokio compiles unchanged.
    pub fn enable_all(&mut self) -> &mut Builder {
        self
    }

    /// See [`enable_all`](Builder::enable_all).
    pub fn enable_io(&mut self) -> &mut Builder {
        self
    }

    /// See [`enable_all`](Builder::enable_all).
    pub fn enable_time(&mut self) -> &mut Builder {
        self
    }

    /// Creates the runtime: its kqueue, and for a multi-thread runtime its worker threads.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for zero worker or blocking threads; the OS errors of creating the
    /// kqueue or spawning threads.
    pub fn build(&mut self) -> io::Result<Runtime> {
        let workers = match self.worker_threads {
            Some(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "worker_threads must be at least 1",
                ));
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if self.max_blocking_threads == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "max_blocking_threads must be at least 1",
            ));
        }
        let config = Config {
            worker_threads: workers,
            thread_name: self.thread_name.clone(),
            thread_stack_size: self.thread_stack_size,
        };
        Runtime::build(
            self.kind,
            config,
            self.max_blocking_threads,
            self.keep_alive,
        )
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("kind", &self.kind)
            .field("worker_threads", &self.worker_threads)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .finish_non_exhaustive()
    }
}
