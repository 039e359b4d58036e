//! Child processes through `kq::process` with real programs (`sh`, `cat`, `head`...): exact
//! exit statuses (codes and signals), spawn errors, the `Command` options, piped stdio
//! streamed while the child runs (tokio's and futures-io's traits), 100 MiB on stdout and
//! stderr at once, a child that closes its stdout early, killing, `try_wait`,
//! `kill_on_drop`, pipelines through `Stdio`, and use outside a runtime.
//!
//! No test here sends a signal to this process: only to children it spawned.

use kq::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use kq::process::Command;
use kq::time::{Duration, Instant, sleep, timeout};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

/// Whether `pid` still exists (running or a zombie) in /proc.
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Polls `cond` every 10 ms for up to 10 s.
async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        sleep(Duration::from_millis(10)).await;
    }
    cond()
}

#[kq::test]
async fn exit_codes_are_exact() {
    for code in [0, 1, 7, 255] {
        let status = Command::new("sh")
            .args(["-c", &format!("exit {code}")])
            .status()
            .await
            .unwrap();
        assert_eq!(status.code(), Some(code));
        assert_eq!(status.signal(), None);
    }
}

#[kq::test(flavor = "multi_thread")]
async fn death_by_signal_is_reported_as_the_signal() {
    let status = Command::new("sh")
        .args(["-c", "kill -TERM $$; sleep 5"])
        .status()
        .await
        .unwrap();
    assert_eq!(status.code(), None);
    assert_eq!(status.signal(), Some(libc::SIGTERM));
}

#[kq::test]
async fn a_program_that_does_not_exist_is_not_found() {
    let err = Command::new("/nonexistent/kq-no-such-program")
        .spawn()
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    let err = Command::new("kq-no-such-program-on-path")
        .output()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
}

#[kq::test]
async fn output_collects_stdout_stderr_and_status() {
    let out = Command::new("sh")
        .args(["-c", "echo out; echo err >&2; exit 4"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.status.code(), Some(4));
    // output() gives the child a null stdin unless told otherwise: `cat` ends at once.
    let out = Command::new("cat").output().await.unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

#[kq::test]
async fn command_options_reach_the_child() {
    let dir = std::env::temp_dir();
    let out = Command::new("sh")
        .args(["-c", "echo \"$KQ_A,$KQ_B,$HOME,$(pwd)\"; ps -o pgid= -p $$"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("KQ_A", "a")
        .envs([("KQ_B", "b")])
        .current_dir(&dir)
        .process_group(0)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let dir = dir.canonicalize().unwrap();
    assert_eq!(lines.next().unwrap(), format!("a,b,,{}", dir.display()));
    // A new process group: the child leads it, so its group id is not ours.
    let pgid: i32 = lines.next().unwrap().trim().parse().unwrap();
    // SAFETY: getpgrp has no preconditions.
    assert_ne!(pgid, unsafe { libc::getpgrp() });

    // env_remove, arg0, uid/gid (our own, which needs no privilege), pre_exec.
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo \"$0,${KQ_GONE-unset},$(id -u),$(id -g)\""])
        .arg0("renamed")
        .env("KQ_GONE", "x")
        .env_remove("KQ_GONE")
        .uid(uid)
        .gid(gid);
    // SAFETY: the closure only calls umask, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o077);
            Ok(())
        })
    };
    let out = cmd.output().await.unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("renamed,unset,{uid},{gid}\n")
    );
}

#[kq::test]
async fn stdin_and_stdout_pipes_round_trip() {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // 1 MiB: more than a pipe holds, so writing and reading must interleave.
    let data: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    let writer = kq::spawn(async move {
        stdin.write_all(&data).await.unwrap();
        // Dropping stdin closes the pipe: cat sees end of input.
    });
    let mut got = Vec::new();
    stdout.read_to_end(&mut got).await.unwrap();
    writer.await.unwrap();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected);
    assert!(child.wait().await.unwrap().success());
}

#[kq::test(flavor = "multi_thread")]
async fn output_is_streamed_line_by_line_while_the_child_runs() {
    // The child prints a line, then waits for ours before it goes on and exits.
    let mut child = Command::new("sh")
        .args(["-c", "echo first; read x; echo \"second $x\"; exit 3"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("first"));
    // The child is still running: it waits for our input.
    assert!(child.try_wait().unwrap().is_none());
    assert!(child.id().is_some());
    stdin.write_all(b"reply\n").await.unwrap();
    assert_eq!(
        lines.next_line().await.unwrap().as_deref(),
        Some("second reply")
    );
    assert_eq!(lines.next_line().await.unwrap(), None);
    assert_eq!(child.wait().await.unwrap().code(), Some(3));
    // Reaped: no pid any more, and waiting again returns the same status.
    assert_eq!(child.id(), None);
    assert_eq!(child.wait().await.unwrap().code(), Some(3));
    assert_eq!(child.try_wait().unwrap().unwrap().code(), Some(3));
}

#[kq::test(flavor = "multi_thread")]
async fn futures_io_traits_work_on_the_pipes() {
    use futures_util::io::AsyncWriteExt as _;
    let mut child = Command::new("tr")
        .arg("a-z")
        .arg("A-Z")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    futures_util::io::AsyncWriteExt::write_all(&mut stdin, b"hello kq")
        .await
        .unwrap();
    stdin.close().await.unwrap();
    drop(stdin);
    let mut out = String::new();
    let mut stdout = child.stdout.take().unwrap();
    futures_util::io::AsyncReadExt::read_to_string(&mut stdout, &mut out)
        .await
        .unwrap();
    assert_eq!(out, "HELLO KQ");
    assert!(child.wait().await.unwrap().success());
}

#[kq::test(flavor = "multi_thread")]
async fn a_hundred_mib_on_stdout_and_stderr_at_once_does_not_deadlock() {
    const N: usize = 100 << 20;
    let script = format!("head -c {N} /dev/zero & head -c {N} /dev/zero >&2; wait");
    let start = Instant::now();
    let out = timeout(
        Duration::from_secs(120),
        Command::new("sh").args(["-c", &script]).output(),
    )
    .await
    .expect("deadlocked")
    .unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(out.stdout.len(), N);
    assert_eq!(out.stderr.len(), N);
    assert!(out.stdout.iter().all(|&b| b == 0));
    assert!(out.stderr.iter().all(|&b| b == 0));
    eprintln!("200 MiB collected in {:?}", start.elapsed());
}

#[kq::test(flavor = "multi_thread")]
async fn a_child_that_closes_stdout_early_and_keeps_running() {
    let mut child = Command::new("sh")
        .args(["-c", "echo bye; exec >&-; sleep 30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = Vec::new();
    let mut stdout = child.stdout.take().unwrap();
    timeout(Duration::from_secs(10), stdout.read_to_end(&mut out))
        .await
        .expect("end of stream while the child runs")
        .unwrap();
    assert_eq!(out, b"bye\n");
    // Still running after its stdout ended.
    assert!(child.try_wait().unwrap().is_none());
    child.kill().await.unwrap();
    assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGKILL));
    // Killing a reaped child is an error, not a panic.
    let err = child.start_kill().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    // wait_with_output on the same kind of child: stdout ends early, the status comes
    // when it exits.
    let child = Command::new("sh")
        .args(["-c", "exec >&-; sleep 0.2; echo late >&2; exit 5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(out.stdout.is_empty());
    assert_eq!(out.stderr, b"late\n");
}

#[kq::test]
async fn try_wait_start_kill_and_wait() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id().unwrap();
    assert!(child.try_wait().unwrap().is_none());
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    // Reaped by wait: nothing of it left in /proc.
    assert!(!exists(pid));
}

#[kq::test]
async fn try_wait_reaps_an_exited_child() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id().unwrap();
    assert!(
        eventually(|| matches!(child.try_wait(), Ok(Some(_)))).await,
        "try_wait never saw the exit"
    );
    assert_eq!(child.id(), None);
    assert!(!exists(pid));
    assert!(child.wait().await.unwrap().success());
}

#[kq::test]
async fn kill_on_drop_kills_and_reaps() {
    let child = Command::new("sleep")
        .arg("30")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    assert!(exists(pid));
    drop(child);
    assert!(
        eventually(|| !exists(pid)).await,
        "the child was not killed and reaped"
    );
}

#[kq::test]
async fn a_dropped_child_is_reaped_when_it_exits() {
    let child = Command::new("sleep").arg("0.2").spawn().unwrap();
    let pid = child.id().unwrap();
    drop(child);
    // Not killed: still there right after the drop.
    assert!(exists(pid));
    assert!(
        eventually(|| !exists(pid)).await,
        "the dropped child stayed a zombie"
    );
}

#[kq::test(flavor = "multi_thread")]
async fn a_pipeline_through_stdio() {
    let mut producer = Command::new("printf")
        .arg("b\\na\\nc\\n")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout: Stdio = producer.stdout.take().unwrap().try_into().unwrap();
    let sorted = Command::new("sort").stdin(stdout).output().await.unwrap();
    assert_eq!(sorted.stdout, b"a\nb\nc\n");
    assert!(producer.wait().await.unwrap().success());
}

#[kq::test]
async fn writing_to_a_child_that_exited_is_broken_pipe() {
    let mut child = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    assert!(child.wait().await.unwrap().success());
    // libtest's main ignores SIGPIPE, as any Rust main does: the write fails instead.
    let err = stdin.write_all(&[0; 1 << 16]).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
}

#[test]
fn spawning_outside_a_runtime_is_an_error_and_spawns_nothing() {
    let dir = std::env::temp_dir().join(format!("kq-process-outside-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let err = Command::new("touch").arg(&dir).spawn().unwrap_err();
    assert!(err.to_string().contains("runtime"), "{err}");
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(!dir.exists(), "the command ran although spawn failed");
}
