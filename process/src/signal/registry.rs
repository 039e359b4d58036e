//! One shared registration per signal, and the listeners ([`Listener`]) that see every
//! delivery of it.
//!
//! # Why shared
//!
//! A kqueue holds one knote per `(ident, filter)`: a second `EVFILT_SIGNAL` knote for the
//! same signal would replace the first. So all listeners of a signal share one [`Entry`]
//! holding one knote (its *host*: registered on the runtime of the listener that created
//! it), and each listener keeps the count it has seen.
//!
//! # Protocol
//!
//! - The truth is the counting handler's count (`handler.rs`); the knote only *wakes*. A
//!   listener is ready when the count exceeds what it has seen; it then takes all of it
//!   (deliveries between two `recv`s are coalesced into one, never lost).
//! - Waking: each listener stores its waker in the entry's slot list *before* it looks at
//!   the count. The knote is polled (under the host lock) with the entry's *broadcast*
//!   waker, which wakes every stored waker; a listener whose own poll took an event wakes
//!   the others too. So a delivery is either seen by a listener's look, or wakes it.
//! - The fence: the knote is attached by the driver's next turn, not by `signal()`. A
//!   delivery before that is counted but cannot wake anyone. Right after the knote, a
//!   readable socket is registered on the same runtime; its readiness is reported only after
//!   its `EV_ADD` — which follows the knote's in the changelist — is applied. When it
//!   fires, every listener is woken once to look at the count again.
//! - In flight: the core's handler is installed after ours and chains to it, so it writes
//!   the wake-up *before* ours counts; a listener woken by the knote can look at the count
//!   a moment too early (and spinning until it moves can starve the very thread that is
//!   running the handler, on a busy machine). The knote's `data` says how many deliveries
//!   the core saw, and ours counts every one of them too, so (our count when the knote was
//!   queued + the deliveries the knote reported) is a lower bound of our count-to-be. A
//!   listener takes the larger of the two as the number of deliveries: never more than
//!   happened, and never less than the core has reported.
//! - Lifetime: the entry lives while a listener does. The last listener's drop removes it
//!   from the registry and drops it (deleting the knote) *under the registry lock*, so a new
//!   registration's `EV_ADD` is queued after the deletion, never before it.
//! - Runtimes: if the host runtime shuts down, the next poll re-hosts the knote on the
//!   runtime of the polling task; if that fails, every listener gets `None` (tokio's
//!   "signal driver gone"). A listener in another runtime is woken through the host's
//!   driver: the host runtime must be running (see ARCHITECTURE.md).

use super::handler;
use kq_reactor::EVFILT_SIGNAL;
use kq_runtime::__private::{Knote, PollEvented};
use kq_runtime::io::Interest;
use slab::Slab;
use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

/// The entries by signal number.
static REGISTRY: Mutex<[Option<Arc<Entry>>; handler::NSIG]> =
    Mutex::new([const { None }; handler::NSIG]);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves consistent data (no multi-step updates).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The listeners' wakers; as a `Waker` (the broadcast waker), wakes them all.
#[derive(Debug, Default)]
struct Wakers(Mutex<Slab<Option<Waker>>>);

impl Wakers {
    /// Wakes every stored waker except `except`'s, taking them.
    fn wake_all(&self, except: Option<usize>) {
        let woken: Vec<Waker> = lock(&self.0)
            .iter_mut()
            .filter(|(k, _)| Some(*k) != except)
            .filter_map(|(_, w)| w.take())
            .collect();
        woken.into_iter().for_each(Waker::wake);
    }
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_all(None);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_all(None);
    }
}

/// The shared registration of one signal.
#[derive(Debug)]
struct Entry {
    signo: usize,
    wakers: Arc<Wakers>,
    broadcast: Waker,
    host: Mutex<Host>,
}

/// The knote and, until it fires, the fence; `None` knote: no runtime could host it.
#[derive(Debug)]
struct Host {
    knote: Option<Knote>,
    fence: Option<PollEvented<UnixStream>>,
    /// The handler's count before the knote was queued, and the deliveries the knote has
    /// reported since: the handler's count reaches at least their sum (see "In flight").
    base: u64,
    reported: u64,
}

impl Host {
    /// Registers the knote, then the fence, on the current runtime.
    fn attach(signo: usize) -> io::Result<Host> {
        let base = handler::count(signo);
        let knote = Knote::new(signo, EVFILT_SIGNAL, 0, 0)?;
        // Without a fence (no descriptor left), a delivery before the knote attaches is
        // still counted and seen by the next look, only not woken for.
        let fence = fence().ok();
        Ok(Host {
            knote: Some(knote),
            fence,
            base,
            reported: 0,
        })
    }

    /// Polls the fence and the knote with the broadcast waker; `true` if either fired.
    /// Re-hosts once if the knote failed.
    fn pull(&mut self, signo: usize, cx: &mut Context<'_>) -> bool {
        let mut fired = false;
        if let Some(fence) = &self.fence {
            if let Poll::Ready(res) = fence.poll_ready(cx, Interest::READABLE) {
                // Fired, or failed (the runtime is gone): either way it has done its part.
                fired |= res.is_ok();
                self.fence = None;
            }
        }
        let mut rehosted = false;
        while let Some(knote) = &self.knote {
            match knote.poll_event(cx) {
                Poll::Ready(Ok(ev)) => {
                    fired = true;
                    self.reported += ev.data;
                }
                Poll::Pending => break,
                Poll::Ready(Err(_)) if !rehosted => {
                    rehosted = true;
                    // Delete the failed knote (and fence) before adding the new one.
                    self.knote = None;
                    self.fence = None;
                    if let Ok(host) = Host::attach(signo) {
                        *self = host;
                        fired = true;
                    }
                }
                Poll::Ready(Err(_)) => self.knote = None,
            }
        }
        fired
    }
}

impl Entry {
    /// The deliveries so far (see "In flight").
    fn total(&self) -> u64 {
        handler::count(self.signo).max(lock(&self.host).floor())
    }
}

impl Host {
    /// A lower bound of the handler's count (see "In flight").
    fn floor(&self) -> u64 {
        self.base + self.reported
    }
}

/// A registered descriptor that is readable at once: a socket whose peer wrote a byte and
/// closed.
fn fence() -> io::Result<PollEvented<UnixStream>> {
    let (mut a, b) = UnixStream::pair()?;
    a.write_all(&[0])?;
    drop(a);
    b.set_nonblocking(true)?;
    PollEvented::new_with_interest(b, Interest::READABLE)
}

/// One listener of a signal: its waker slot and the count it has seen.
#[derive(Debug)]
pub(super) struct Listener {
    /// `Some` until dropped (taken under the registry lock).
    entry: Option<Arc<Entry>>,
    key: usize,
    seen: u64,
}

impl Listener {
    /// Registers a listener of `signo` (a signal that can be caught) on the current
    /// runtime: the counting handler first, then the shared knote if it is the first.
    pub(super) fn register(signo: usize) -> io::Result<Listener> {
        handler::install(signo)?;
        let mut registry = lock(&REGISTRY);
        let entry = match &registry[signo] {
            Some(entry) => entry.clone(),
            None => {
                let wakers = Arc::new(Wakers::default());
                let entry = Arc::new(Entry {
                    signo,
                    broadcast: Waker::from(wakers.clone()),
                    wakers,
                    host: Mutex::new(Host::attach(signo)?),
                });
                registry[signo] = Some(entry.clone());
                entry
            }
        };
        let key = lock(&entry.wakers.0).insert(None);
        // Deliveries from now on are this listener's.
        let seen = entry.total();
        Ok(Listener {
            entry: Some(entry),
            key,
            seen,
        })
    }

    /// `Ready(Some(()))` if the signal was delivered since the last `Ready` (all those
    /// deliveries at once), `Ready(None)` if no runtime can watch it any more.
    pub(super) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let Some(entry) = &self.entry else {
            return Poll::Ready(None);
        };
        {
            let mut wakers = lock(&entry.wakers.0);
            match &mut wakers[self.key] {
                Some(w) if w.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
        }
        let (fired, alive, floor) = {
            let mut host = lock(&entry.host);
            let fired = host.pull(entry.signo, &mut Context::from_waker(&entry.broadcast));
            (fired, host.knote.is_some(), host.floor())
        };
        if fired {
            entry.wakers.wake_all(Some(self.key));
        }
        let count = handler::count(entry.signo).max(floor);
        if count > self.seen {
            self.seen = count;
            lock(&entry.wakers.0)[self.key] = None;
            Poll::Ready(Some(()))
        } else if !alive {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let mut registry = lock(&REGISTRY);
        let Some(entry) = self.entry.take() else {
            return;
        };
        let last = {
            let mut wakers = lock(&entry.wakers.0);
            wakers.remove(self.key);
            wakers.is_empty()
        };
        if last {
            registry[entry.signo] = None;
        }
        // The last one deletes the knote here, under the registry lock (see the module
        // docs).
        drop(entry);
        drop(registry);
    }
}
