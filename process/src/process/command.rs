//! [`Command`]: std's process builder, spawning a [`Child`] registered with the runtime.
//!
//! The child is created by `std::process::Command::spawn` (fork/exec or posix_spawn, with
//! std's error reporting: a program that does not exist is `NotFound`). std resets the
//! signal mask and `SIGPIPE` in the child; kq never blocks a signal nor sets a signal to
//! `SIG_IGN` (kq::signal installs handlers, which exec resets), so the child starts with
//! the dispositions the application had, not kq's.

use super::Child;
use kq_runtime::runtime::Handle;
use std::ffi::OsStr;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};

/// A process builder, mirroring [`std::process::Command`] (and tokio's), whose `spawn`
/// returns an async [`Child`].
///
/// # Examples
///
/// ```
/// use kq_process::process::Command;
///
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let out = Command::new("echo").arg("hello").output().await?;
/// assert!(out.status.success());
/// assert_eq!(out.stdout, b"hello\n");
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
    /// Whether stdin was configured (`output` uses null otherwise, as std does).
    stdin_set: bool,
}

impl Command {
    /// A command to run `program`, with no arguments, the parent's environment and
    /// working directory, and inherited standard streams.
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds an argument.
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, val: V) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Sets environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Clears the environment: the child gets only the variables set after this.
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// Configures the child's standard input ([`Stdio::piped`] gives
    /// [`Child::stdin`]).
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdin(cfg);
        self.stdin_set = true;
        self
    }

    /// Configures the child's standard output ([`Stdio::piped`] gives
    /// [`Child::stdout`]).
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdout(cfg);
        self
    }

    /// Configures the child's standard error ([`Stdio::piped`] gives
    /// [`Child::stderr`]).
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stderr(cfg);
        self
    }

    /// Whether the child is killed (`SIGKILL`) when its [`Child`] is dropped before it was
    /// waited for. Either way the child is reaped when it exits.
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Whether [`kill_on_drop`](Command::kill_on_drop) is set.
    pub fn get_kill_on_drop(&self) -> bool {
        self.kill_on_drop
    }

    /// Sets the child's user id (`setuid` before exec).
    pub fn uid(&mut self, id: u32) -> &mut Command {
        self.std.uid(id);
        self
    }

    /// Sets the child's group id (`setgid` before exec).
    pub fn gid(&mut self, id: u32) -> &mut Command {
        self.std.gid(id);
        self
    }

    /// Puts the child in process group `pgroup` (0: a new group whose id is the child's
    /// pid).
    pub fn process_group(&mut self, pgroup: i32) -> &mut Command {
        self.std.process_group(pgroup);
        self
    }

    /// Sets the child's `argv[0]`.
    pub fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.std.arg0(arg);
        self
    }

    /// Runs `f` in the child after fork, before exec (see
    /// [`CommandExt::pre_exec`]).
    ///
    /// # Safety
    ///
    /// As [`CommandExt::pre_exec`]: `f` runs in a forked copy of a multi-threaded process,
    /// where only async-signal-safe operations are sound (no allocation, no locks).
    pub unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Command
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        // SAFETY: the caller upholds `CommandExt::pre_exec`'s contract (this fn's own).
        unsafe { self.std.pre_exec(f) };
        self
    }

    /// std's builder, to read the configuration.
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// std's builder, to configure what this type does not mirror.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Spawns the child, registered with the current runtime: its exit knote and any
    /// piped standard streams.
    ///
    /// # Errors
    ///
    /// Outside a kq runtime (checked before anything is spawned); spawn errors as std
    /// reports them (`NotFound` for a program that does not exist, `PermissionDenied`...);
    /// registration errors (the child is then killed and reaped).
    pub fn spawn(&mut self) -> io::Result<Child> {
        let handle = Handle::try_current().map_err(|e| io::Error::other(e.to_string()))?;
        let std = self.std.spawn()?;
        Child::new(std, self.kill_on_drop, handle)
    }

    /// Spawns the child and waits for it to exit. Standard streams are inherited unless
    /// configured; piped ones are closed before waiting.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Command::spawn) and [`Child::wait`].
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        let mut child = self.spawn()?;
        drop(child.stdin.take());
        drop(child.stdout.take());
        drop(child.stderr.take());
        child.wait().await
    }

    /// Spawns the child with its stdout and stderr piped (stdin null unless configured),
    /// and collects both while waiting for it.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Command::spawn) and [`Child::wait_with_output`].
    pub async fn output(&mut self) -> io::Result<Output> {
        self.std.stdout(Stdio::piped());
        self.std.stderr(Stdio::piped());
        if !self.stdin_set {
            self.std.stdin(Stdio::null());
        }
        let child = self.spawn();
        if !self.stdin_set {
            // Back to std's default for a later `spawn`.
            self.std.stdin(Stdio::inherit());
        }
        child?.wait_with_output().await
    }
}

impl From<std::process::Command> for Command {
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            kill_on_drop: false,
            stdin_set: false,
        }
    }
}
