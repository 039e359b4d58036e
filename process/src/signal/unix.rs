//! Unix signals: [`signal`] returns a [`Signal`], a stream of the deliveries of one
//! [`SignalKind`].

use super::registry::Listener;
use std::fmt;
use std::io;
use std::task::{Context, Poll};

/// A signal number, with constructors for the common ones (tokio's `SignalKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal number; [`signal`] checks that it can be listened to.
    pub const fn from_raw(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal number.
    pub const fn as_raw_value(&self) -> libc::c_int {
        self.0
    }

    /// `SIGALRM`.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGHUP`.
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGINT`.
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGIO`.
    pub const fn io() -> SignalKind {
        SignalKind(libc::SIGIO)
    }

    /// `SIGPIPE`.
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGQUIT`.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGTERM`.
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGUSR1`.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGWINCH`.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

impl From<libc::c_int> for SignalKind {
    fn from(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for libc::c_int {
    fn from(kind: SignalKind) -> libc::c_int {
        kind.0
    }
}

/// Signals that cannot be listened to: `SIGKILL` and `SIGSTOP` cannot be caught; the
/// others are raised by faults, where returning from a handler re-runs the fault.
const FORBIDDEN: [libc::c_int; 6] = [
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
];

/// Listens to `kind`: the returned [`Signal`] sees every delivery after this call
/// (coalesced between two [`recv`](Signal::recv)s). Any number of listeners may exist for
/// one signal, in any tasks; each sees each delivery.
///
/// The first listener of a signal makes it handled for the rest of the process's life:
/// its default action no longer happens. Handlers installed before by the application or
/// other libraries keep being called.
///
/// # Examples
///
/// ```
/// use kq_process::signal::unix::{SignalKind, signal};
///
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let mut usr2 = signal(SignalKind::user_defined2())?;
/// // SAFETY: the process is signalling itself with a signal it now handles.
/// unsafe { libc::raise(libc::SIGUSR2) };
/// usr2.recv().await;
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// `InvalidInput` for a number that is not a signal, and for `SIGKILL`, `SIGSTOP`,
/// `SIGSEGV`, `SIGBUS`, `SIGILL` and `SIGFPE`; outside a kq runtime; the OS's error
/// installing the handler.
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let signo = kind.0;
    if signo <= 0 || signo as usize >= super::handler::NSIG {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{signo} is not a signal number"),
        ));
    }
    if FORBIDDEN.contains(&signo) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "signal {signo} cannot be listened to (SIGKILL, SIGSTOP and fault signals are refused)"
            ),
        ));
    }
    // Checked before the handler is installed: outside a runtime, nothing changes.
    kq_runtime::runtime::Handle::try_current().map_err(|e| io::Error::other(e.to_string()))?;
    Ok(Signal {
        kind,
        listener: Listener::register(signo as usize)?,
    })
}

/// A stream of the deliveries of one signal (see [`signal`]).
pub struct Signal {
    kind: SignalKind,
    listener: Listener,
}

impl Signal {
    /// Waits for the next delivery: `Some(())` once for all deliveries since the last
    /// `recv` returned (or since [`signal`], the first time); `None` when no runtime can
    /// watch the signal any more (the runtime shut down).
    ///
    /// Cancel safe: a delivery is never lost by dropping the future.
    pub async fn recv(&mut self) -> Option<()> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery (see [`recv`](Signal::recv)).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.listener.poll_recv(cx)
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal").field("kind", &self.kind).finish()
    }
}
