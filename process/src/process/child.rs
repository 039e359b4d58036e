//! [`Child`]: a spawned process, its exit observed through an `EVFILT_PROC` knote.
//!
//! # States
//!
//! `Running { pid, knote }` until the child is reaped, then `Reaped(status)`. The child is
//! reaped (`waitpid`) only after its exit is known — `NOTE_EXIT` from the knote, or
//! `waitid(WNOWAIT)` in `try_wait` — and only after the knote is dropped (the invariant of
//! the `orphan` module), so the pid is never reused while kq still names it. A `Child`
//! dropped while `Running` goes to the `orphan` module, killed first with `kill_on_drop`.

use super::orphan;
use super::pipe::{self, ChildStderr, ChildStdin, ChildStdout};
use crate::sys;
use kq_reactor::NOTE_EXIT;
use kq_runtime::__private::Knote;
use kq_runtime::runtime::Handle;
use std::future::poll_fn;
use std::io;
use std::process::{ExitStatus, Output};
use std::task::{Context, Poll};

/// A child process spawned by [`Command::spawn`](super::Command::spawn).
///
/// Its exit is waited for with [`wait`](Child::wait), an `EVFILT_PROC` knote (a pidfd on
/// Linux): no `SIGCHLD` handler is involved. A `Child` dropped before it was waited for
/// is reaped in the background when it exits (killed first if
/// [`kill_on_drop`](super::Command::kill_on_drop) was set): it never stays a zombie.
///
/// # Examples
///
/// ```
/// use kq_process::process::Command;
///
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn()?;
/// let status = child.wait().await?;
/// assert_eq!(status.code(), Some(3));
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Child {
    state: State,
    kill_on_drop: bool,
    /// The runtime the knote belongs to, for reaping a dropped child there.
    handle: Option<Handle>,
    /// The child's standard input, if it was piped.
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if it was piped.
    pub stderr: Option<ChildStderr>,
}

#[derive(Debug)]
enum State {
    Running {
        pid: libc::pid_t,
        /// `None` only while being dropped or reaped.
        knote: Option<Knote>,
    },
    Reaped(ExitStatus),
}

impl Child {
    /// Wraps a spawned std child: registers its `EVFILT_PROC` knote and its pipes. On
    /// failure the child is killed and reaped in the background (the caller gets no
    /// handle to it).
    pub(super) fn new(
        mut std: std::process::Child,
        kill_on_drop: bool,
        handle: Handle,
    ) -> io::Result<Child> {
        let pid = std.id() as libc::pid_t;
        let knote =
            Knote::with_handle(pid as usize, kq_reactor::EVFILT_PROC, NOTE_EXIT, 0, &handle);
        let mut child = Child {
            state: State::Running { pid, knote: None },
            kill_on_drop: true,
            handle: Some(handle),
            stdin: None,
            stdout: None,
            stderr: None,
        };
        // From here on, an error drops `child`, which kills and reaps the process.
        let knote = knote?;
        if let State::Running { knote: slot, .. } = &mut child.state {
            *slot = Some(knote);
        }
        let _enter = child.handle.as_ref().map(Handle::enter);
        child.stdin = std.stdin.take().map(ChildStdin::from_std).transpose()?;
        child.stdout = std.stdout.take().map(ChildStdout::from_std).transpose()?;
        child.stderr = std.stderr.take().map(ChildStderr::from_std).transpose()?;
        drop(_enter);
        child.kill_on_drop = kill_on_drop;
        Ok(child)
    }

    /// The child's process id; `None` once it has been reaped (by `wait`, `try_wait`...).
    pub fn id(&self) -> Option<u32> {
        match self.state {
            State::Running { pid, .. } => Some(pid as u32),
            State::Reaped(_) => None,
        }
    }

    /// Waits for the child to exit and reaps it; returns its exit status at once if it was
    /// reaped already. The child's stdin, if still held, stays open: drop it first if the
    /// child waits for the end of its input.
    ///
    /// Cancel safe: dropping the future before it completes loses nothing.
    ///
    /// # Errors
    ///
    /// The runtime shut down, or the child was reaped by someone else (`ECHILD`).
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        poll_fn(|cx| self.poll_wait(cx)).await
    }

    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        loop {
            let knote = match &self.state {
                State::Reaped(status) => return Poll::Ready(Ok(*status)),
                State::Running {
                    knote: Some(knote), ..
                } => knote,
                State::Running { knote: None, .. } => {
                    return Poll::Ready(Err(io::Error::other("the child's knote is gone")));
                }
            };
            let ev = std::task::ready!(knote.poll_event(cx))?;
            if ev.fflags & NOTE_EXIT != 0 {
                return Poll::Ready(self.reap());
            }
        }
    }

    /// Drops the knote, then reaps the child, which has exited (see the module docs).
    fn reap(&mut self) -> io::Result<ExitStatus> {
        let State::Running { pid, knote } = &mut self.state else {
            unreachable!("reap is only called while running")
        };
        let pid = *pid;
        drop(knote.take());
        // The child has exited, so this does not block.
        let status =
            sys::reap(pid, true)?.ok_or_else(|| io::Error::other("waitpid returned no status"))?;
        self.state = State::Reaped(status);
        Ok(status)
    }

    /// Reaps the child if it has exited, without waiting: `Ok(None)` while it runs.
    ///
    /// # Errors
    ///
    /// The child was reaped by someone else (`ECHILD`).
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        match self.state {
            State::Reaped(status) => Ok(Some(status)),
            State::Running { pid, .. } => {
                if sys::has_exited(pid)? {
                    self.reap().map(Some)
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// Sends `SIGKILL` to the child without waiting for it to exit (it is a zombie until
    /// [`wait`](Child::wait)ed for, or reaped in the background if dropped).
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the child was already reaped; the `kill` call's error.
    pub fn start_kill(&mut self) -> io::Result<()> {
        match self.state {
            State::Running { pid, .. } => sys::kill(pid, libc::SIGKILL),
            State::Reaped(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot kill a child process that has already been reaped",
            )),
        }
    }

    /// Kills the child with `SIGKILL` and waits for it to exit.
    ///
    /// # Errors
    ///
    /// As [`start_kill`](Child::start_kill) and [`wait`](Child::wait).
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(drop)
    }

    /// Closes the child's stdin, reads its stdout and stderr to their ends while waiting
    /// for it, and returns all three. Both pipes are drained concurrently, so a child that
    /// fills both cannot deadlock.
    ///
    /// # Errors
    ///
    /// A read error, or as [`wait`](Child::wait).
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let mut stdout_pipe = self.stdout.take();
        let mut stderr_pipe = self.stderr.take();
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut status = None;
        poll_fn(|cx| {
            drain(&mut stdout_pipe, &mut stdout, cx)?;
            drain(&mut stderr_pipe, &mut stderr, cx)?;
            if status.is_none() {
                if let Poll::Ready(s) = self.poll_wait(cx) {
                    status = Some(s?);
                }
            }
            match status {
                Some(_) if stdout_pipe.is_none() && stderr_pipe.is_none() => {
                    Poll::Ready(Ok::<(), io::Error>(()))
                }
                _ => Poll::Pending,
            }
        })
        .await?;
        Ok(Output {
            status: status.expect("set before ready"),
            stdout,
            stderr,
        })
    }
}

/// Reads `pipe` to its end into `buf`, then drops it; `Ok` while it has more to come.
fn drain<R: tokio::io::AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buf: &mut Vec<u8>,
    cx: &mut Context<'_>,
) -> io::Result<()> {
    if let Some(p) = pipe {
        if let Poll::Ready(res) = pipe::poll_read_to_end(p, buf, cx) {
            *pipe = None;
            res?;
        }
    }
    Ok(())
}

impl Drop for Child {
    fn drop(&mut self) {
        if let State::Running { pid, knote } = &mut self.state {
            if self.kill_on_drop {
                // ESRCH cannot happen for an unreaped child; any error leaves it running,
                // and it is still reaped when it exits.
                let _ = sys::kill(*pid, libc::SIGKILL);
            }
            orphan::adopt(*pid, knote.take(), self.handle.take());
        }
    }
}
