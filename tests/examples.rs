//! Runs the tutorial ports in `examples/` as a user would, with real processes and real
//! sockets on 127.0.0.1. `cargo test` builds the examples before the tests run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The path of a built example: target/<profile>/examples/<name>, next to this test's
/// `deps/` directory.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is not built: run the whole suite (`cargo test --workspace` builds the examples), \
         or `cargo build --example {name}` first",
        path.display()
    );
    path
}

#[test]
fn ktimer_ticks_and_runs_date_each_time() {
    let start = Instant::now();
    let out = Command::new(example("ktimer"))
        .args(["1", "2"])
        .output()
        .expect("run ktimer");
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "ktimer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // date(1) printed one line per tick.
    assert_eq!(
        stdout.lines().count(),
        2,
        "expected two lines from date: {stdout:?}"
    );
    // Two one-second ticks: never early, not absurdly late.
    assert!(
        elapsed >= Duration::from_secs(2),
        "finished early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(30),
        "absurdly late: {elapsed:?}"
    );
}

#[test]
fn ktimer_rejects_bad_arguments() {
    let out = Command::new(example("ktimer"))
        .arg("-3")
        .output()
        .expect("run ktimer");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}

#[test]
fn kclient_relays_both_ways_and_exits_on_eof() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut child = Command::new(example("kclient"))
        .args(["127.0.0.1", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn kclient");
    let (mut conn, _) = listener.accept().expect("accept");
    // stdin -> socket
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"hello from stdin\n").expect("write stdin");
    let mut line = String::new();
    BufReader::new(conn.try_clone().expect("clone"))
        .read_line(&mut line)
        .expect("read socket");
    assert_eq!(line, "hello from stdin\n");
    // socket -> stdout
    conn.write_all(b"hello from the server\n")
        .expect("write socket");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut got = String::new();
    stdout.read_line(&mut got).expect("read stdout");
    assert_eq!(got, "hello from the server\n");
    // The server closes: kclient sees EV_EOF and exits successfully.
    drop(conn);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("read rest");
    assert_eq!(rest, "");
    let status = child.wait().expect("wait");
    assert!(status.success(), "kclient exited with {status}");
    drop(stdin);
}

#[test]
fn kclient_reports_a_refused_connection() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    // The listener is gone: nothing listens on `port`.
    let out = Command::new(example("kclient"))
        .args(["127.0.0.1", &port.to_string()])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("kclient:"));
}
