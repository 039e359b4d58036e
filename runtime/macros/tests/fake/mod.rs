// A stand-in for `kq::runtime` with the API the expansion calls, which records what it was asked.
//
// `tests/expand.rs` uses it as `mod fake` with `crate = "fake"`. The crate's doctests
// `include!` it at their root next to `extern crate self as kq;`, so that the `::kq::runtime`
// of the default expansion resolves to it (kq-macros cannot depend on kq, which re-exports it).
//
// `block_on` is a real, minimal executor: it polls on the calling thread and parks it while the
// future is pending; the waker unparks it.

pub(crate) mod runtime {
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    use std::thread::{self, Thread};

    /// The scheduler a [`Builder`] was created for.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Flavor {
        MultiThread,
        CurrentThread,
    }

    /// What a [`Builder`] was asked for when it built its runtime.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) struct Config {
        pub(crate) flavor: Flavor,
        pub(crate) worker_threads: Option<usize>,
        pub(crate) enable_all: bool,
    }

    thread_local! {
        static LAST_BUILT: Cell<Option<Config>> = const { Cell::new(None) };
        static IN_BLOCK_ON: Cell<bool> = const { Cell::new(false) };
    }

    /// The configuration of the last runtime built on this thread.
    pub(crate) fn last_built() -> Option<Config> {
        LAST_BUILT.get()
    }

    /// Whether this thread is running a future in [`Runtime::block_on`].
    pub(crate) fn in_block_on() -> bool {
        IN_BLOCK_ON.get()
    }

    /// Returns `Pending` once (after waking itself), so that `block_on` parks and polls again.
    pub(crate) async fn yield_now() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if yielded {
                return Poll::Ready(());
            }
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await;
    }

    /// `kq::runtime::Builder`'s API, recording instead of configuring.
    #[derive(Debug)]
    pub(crate) struct Builder {
        config: Config,
    }

    impl Builder {
        fn new(flavor: Flavor) -> Self {
            Builder {
                config: Config {
                    flavor,
                    worker_threads: None,
                    enable_all: false,
                },
            }
        }

        pub(crate) fn new_multi_thread() -> Self {
            Builder::new(Flavor::MultiThread)
        }

        pub(crate) fn new_current_thread() -> Self {
            Builder::new(Flavor::CurrentThread)
        }

        pub(crate) fn worker_threads(mut self, count: usize) -> Self {
            self.config.worker_threads = Some(count);
            self
        }

        pub(crate) fn enable_all(mut self) -> Self {
            self.config.enable_all = true;
            self
        }

        /// Records the configuration as this thread's [`last_built`].
        pub(crate) fn build(self) -> std::io::Result<Runtime> {
            LAST_BUILT.set(Some(self.config));
            Ok(Runtime { _private: () })
        }
    }

    /// `kq::runtime::Runtime`'s `block_on`.
    #[derive(Debug)]
    pub(crate) struct Runtime {
        _private: (),
    }

    impl Runtime {
        /// Runs `future` to completion on this thread, [`in_block_on`] all the while.
        pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
            /// Clears the flag even if the future panics (`#[should_panic]` tests).
            struct Inside;
            impl Drop for Inside {
                fn drop(&mut self) {
                    IN_BLOCK_ON.set(false);
                }
            }
            IN_BLOCK_ON.set(true);
            let _inside = Inside;

            let waker = Waker::from(Arc::new(Unpark(thread::current())));
            let mut cx = Context::from_waker(&waker);
            let mut future = pin!(future);
            loop {
                match future.as_mut().poll(&mut cx) {
                    Poll::Ready(output) => return output,
                    // A wake before the park makes the park return at once.
                    Poll::Pending => thread::park(),
                }
            }
        }
    }

    /// Wakes `block_on` by unparking its thread.
    struct Unpark(Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
}
