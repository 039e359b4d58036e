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

// ---- The kq::net examples: echo_server, echo_client, hyper_hello, chat_server,
// kclient_async. Servers are started on 127.0.0.1:0 and print their address first.

use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, ExitStatus};
use std::sync::mpsc;
use std::thread;

/// Generous bounds: each step takes milliseconds; these only turn a hang into a failure.
const STEP: Duration = Duration::from_secs(30);
const RUN: Duration = Duration::from_secs(120);

/// A server example running as a process; killed (and reaped) when dropped, pass or fail.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server example `name` on 127.0.0.1:0 and reads the address it prints first.
fn start_server(name: &str) -> Server {
    let mut child = Command::new(example(name))
        .arg("127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let mut server = Server {
        child,
        addr: "0.0.0.0:0".parse().expect("placeholder"),
    };
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        // Keep draining, so that the server never blocks on a full pipe.
        for _ in lines {}
    });
    let line = match rx.recv_timeout(STEP) {
        Ok(Some(Ok(line))) => line,
        Ok(other) => panic!("{name} printed no address: {other:?}"),
        Err(_) => panic!("{name} printed no address within {STEP:?}"),
    };
    server.addr = line
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{name}'s first line {line:?} is not an address: {e}"));
    assert!(server.addr.ip().is_loopback(), "{}", server.addr);
    assert_ne!(server.addr.port(), 0);
    server
}

/// What a finished process printed, and how it ended.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Waits for `child` (stdout and stderr piped) at most `RUN`; kills it after that.
fn finish(mut child: Child, what: &str) -> Finished {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
        thread::spawn(move || {
            let mut out = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut out);
            }
            out
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + RUN;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {RUN:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Finished {
        status,
        stdout: stdout.join().expect("stdout"),
        stderr: stderr.join().expect("stderr"),
    }
}

/// Runs an example to its end with `args`, standard input empty.
fn run_example(name: &str, args: &[&str]) -> Finished {
    let child = Command::new(example(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    finish(child, name)
}

/// A std client with generous timeouts.
fn std_connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(STEP)).expect("read timeout");
    stream.set_write_timeout(Some(STEP)).expect("write timeout");
    stream
}

#[test]
fn echo_client_round_trips_through_echo_server() {
    let server = start_server("echo_server");
    let addr = server.addr.to_string();
    let out = run_example("echo_client", &[&addr, "2000", "100"]);
    assert!(
        out.status.success(),
        "echo_client failed: {}{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout
            .starts_with("ok: 2000 round trips of 100 bytes in "),
        "{:?}",
        out.stdout
    );
    assert!(
        out.stdout.trim_end().ends_with(" round trips/s"),
        "{:?}",
        out.stdout
    );
}

#[test]
fn echo_server_serves_concurrent_clients_of_all_sizes() {
    let server = start_server("echo_server");
    let addr = server.addr.to_string();
    // One byte, a bit more than a page, and messages far larger than the socket buffers
    // (the server's reads and writes are partial), all at once.
    let clients: Vec<_> = [("3000", "1"), ("1000", "5000"), ("50", "1000000")]
        .into_iter()
        .map(|(count, size)| {
            let addr = addr.clone();
            thread::spawn(move || {
                (
                    count,
                    size,
                    run_example("echo_client", &[&addr, count, size]),
                )
            })
        })
        .collect();
    for client in clients {
        let (count, size, out) = client.join().expect("client thread");
        assert!(
            out.status.success(),
            "echo_client {count}x{size} failed: {}{}",
            out.stdout,
            out.stderr
        );
        assert!(
            out.stdout
                .starts_with(&format!("ok: {count} round trips of {size} bytes")),
            "{:?}",
            out.stdout
        );
    }
}

#[test]
fn echo_server_closes_its_side_after_the_clients_end_of_stream() {
    let server = start_server("echo_server");
    // A few connections one after the other, the server idle in between: each must end.
    for i in 0..5 {
        let mut client = std_connect(server.addr);
        client.write_all(b"hello, ").expect("write");
        client.write_all(b"echo\n").expect("write");
        let mut echoed = [0u8; 12];
        client.read_exact(&mut echoed).expect("read the echo");
        assert_eq!(&echoed, b"hello, echo\n");
        // The client is done: the server's task ends and its socket closes, so the client
        // reads the end of the stream (a read timeout here is a close that never came).
        client.shutdown(Shutdown::Write).expect("shutdown");
        let mut rest = Vec::new();
        if let Err(e) = client.read_to_end(&mut rest) {
            panic!("connection {i}: no end of stream from echo_server within {STEP:?}: {e}");
        }
        assert_eq!(rest, b"");
    }
}

#[test]
fn echo_client_detects_a_wrong_echo() {
    // A "server" that echoes each chunk with its first byte changed.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 1024];
        loop {
            let n = match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf[0] ^= 0xff;
            if conn.write_all(&buf[..n]).is_err() {
                return;
            }
        }
    });
    let out = run_example("echo_client", &[&addr.to_string(), "10", "16"]);
    assert!(
        !out.status.success(),
        "accepted a wrong echo: {}",
        out.stdout
    );
    assert!(out.stderr.contains("echo_client:"), "{}", out.stderr);
    assert!(out.stderr.contains("message 0, byte 0"), "{}", out.stderr);
}

#[test]
fn echo_client_reports_a_refused_connection() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let out = run_example("echo_client", &[&format!("127.0.0.1:{port}")]);
    assert!(!out.status.success());
    assert!(out.stderr.contains("echo_client:"), "{}", out.stderr);
}

/// Reads one HTTP/1.1 response with a `content-length` from `reader`: the status line,
/// the headers (names lower-cased), and the body.
fn read_response(reader: &mut impl BufRead) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut status = String::new();
    reader.read_line(&mut status).expect("status line");
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header line");
        let line = line.trim_end_matches("\r\n");
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("a header");
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .expect("content-length")
        .1
        .parse()
        .expect("a length");
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).expect("body");
    (status.trim_end().to_owned(), headers, body)
}

#[test]
fn hyper_hello_answers_raw_http_requests() {
    let server = start_server("hyper_hello");
    let stream = std_connect(server.addr);
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    // Two requests on one kept-alive connection.
    for path in ["/", "/again"] {
        write!(
            writer,
            "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n",
            server.addr
        )
        .expect("request");
        let (status, headers, body) = read_response(&mut reader);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(headers.iter().any(|(n, _)| n == "date"), "{headers:?}");
        assert_eq!(String::from_utf8_lossy(&body), "Hello, world!\n");
    }
    // A third asks to close: the server answers, then ends the connection.
    write!(
        writer,
        "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr
    )
    .expect("request");
    let (status, _, body) = read_response(&mut reader);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, b"Hello, world!\n");
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).expect("end of stream");
    assert_eq!(rest, b"");
}

/// A chat participant: a std connection and a line reader on it.
struct ChatClient {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl ChatClient {
    fn connect(server: SocketAddr) -> ChatClient {
        let stream = std_connect(server);
        ChatClient {
            addr: stream.local_addr().expect("local_addr"),
            writer: stream.try_clone().expect("clone"),
            reader: BufReader::new(stream),
        }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .expect("a line from chat_server");
        assert_ne!(n, 0, "chat_server closed the connection");
        line
    }

    fn say(&mut self, text: &str) {
        writeln!(self.writer, "{text}").expect("write");
    }
}

#[test]
fn chat_server_relays_lines_to_the_other_clients_only() {
    let server = start_server("chat_server");
    let mut a = ChatClient::connect(server.addr);
    // The greeting comes once the client is in the room: nothing sent later is missed.
    assert_eq!(a.line(), format!("* welcome {}, 0 other(s) here\n", a.addr));
    let mut b = ChatClient::connect(server.addr);
    assert_eq!(b.line(), format!("* welcome {}, 1 other(s) here\n", b.addr));
    assert_eq!(a.line(), format!("* {} joined\n", b.addr));
    a.say("hello from a");
    assert_eq!(b.line(), format!("{}: hello from a\n", a.addr));
    b.say("hello from b");
    // The next line `a` gets is `b`'s: its own line did not come back to it.
    assert_eq!(a.line(), format!("{}: hello from b\n", b.addr));
    // A third client, then `b` leaves: the others hear of both.
    let mut c = ChatClient::connect(server.addr);
    assert_eq!(c.line(), format!("* welcome {}, 2 other(s) here\n", c.addr));
    assert_eq!(a.line(), format!("* {} joined\n", c.addr));
    assert_eq!(b.line(), format!("* {} joined\n", c.addr));
    let b_addr = b.addr;
    drop(b);
    assert_eq!(a.line(), format!("* {b_addr} left\n"));
    assert_eq!(c.line(), format!("* {b_addr} left\n"));
    c.say("still two of us");
    assert_eq!(a.line(), format!("{}: still two of us\n", c.addr));
}

/// A std echo server for one connection, which closes after the client's end of stream.
fn std_echo_listener() -> (u16, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        conn.set_read_timeout(Some(RUN)).expect("timeout");
        let mut buf = [0u8; 1024];
        loop {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => conn.write_all(&buf[..n]).expect("echo"),
            }
        }
    });
    (port, server)
}

#[test]
fn kclient_async_relays_piped_stdin_and_prints_the_reply() {
    let (port, echo) = std_echo_listener();
    let mut child = Command::new(example("kclient_async"))
        .args(["127.0.0.1", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kclient_async");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"hello kq\nsecond line\n")
        .expect("write stdin");
    // End of input: kclient_async shuts its sending side down, the echo server sees the
    // end, closes, and kclient_async exits after printing everything echoed.
    drop(stdin);
    let out = finish(child, "kclient_async");
    assert!(out.status.success(), "kclient_async failed: {}", out.stderr);
    assert_eq!(out.stdout, "hello kq\nsecond line\n");
    echo.join().expect("echo server");
}

#[test]
fn kclient_async_exits_when_the_server_closes_with_stdin_still_open() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut child = Command::new(example("kclient_async"))
        .args(["127.0.0.1", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kclient_async");
    let (mut conn, _) = listener.accept().expect("accept");
    conn.set_read_timeout(Some(STEP)).expect("timeout");
    // stdin -> socket
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"from stdin\n").expect("write stdin");
    let mut line = String::new();
    BufReader::new(conn.try_clone().expect("clone"))
        .read_line(&mut line)
        .expect("read socket");
    assert_eq!(line, "from stdin\n");
    // socket -> stdout, then the server closes while kclient_async still waits for input.
    conn.write_all(b"from the server\n").expect("write socket");
    drop(conn);
    let out = finish(child, "kclient_async");
    assert!(out.status.success(), "kclient_async failed: {}", out.stderr);
    assert_eq!(out.stdout, "from the server\n");
    drop(stdin);
}

#[test]
fn kclient_async_reports_a_refused_connection_and_bad_arguments() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let out = run_example("kclient_async", &["127.0.0.1", &port.to_string()]);
    assert!(!out.status.success());
    assert!(out.stderr.contains("kclient_async:"), "{}", out.stderr);
    let out = run_example("kclient_async", &["127.0.0.1"]);
    assert!(!out.status.success());
    assert!(out.stderr.contains("usage"), "{}", out.stderr);
}

// ---- kq::process and kq::signal examples --------------------------------------------

/// Runs the supervisor with `n` workers of `sh -c 'sleep 0.2'`, waits for `restarts`
/// restarts, sends it `signo`, and returns its exit status and output lines.
fn run_supervisor(n: usize, restarts: usize, signo: libc::c_int) -> (ExitStatus, Vec<String>) {
    let mut child = Command::new(example("supervisor"))
        .args([&n.to_string(), "sh", "-c", "sleep 0.2"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn supervisor");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines
        .iter()
        .filter(|l: &&String| l.starts_with("exited"))
        .count()
        < restarts
    {
        assert!(Instant::now() < deadline, "no restarts: {lines:?}");
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "ended early: {lines:?}"
        );
        lines.push(line.trim_end().to_owned());
    }
    // SAFETY: signalling the child we spawned, which handles `signo`.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signo) }, 0);
    for line in reader.lines() {
        lines.push(line.unwrap());
    }
    (child.wait().unwrap(), lines)
}

/// Checks the supervisor's report: every started worker was reaped (by `wait` or as a
/// restarted worker) and none is left in /proc.
fn check_supervisor(status: ExitStatus, lines: &[String], n: usize, why: &str) {
    assert!(status.success(), "{status:?}: {lines:?}");
    assert!(lines.contains(&format!("stopping on {why}")), "{lines:?}");
    assert_eq!(
        lines.last().unwrap(),
        &format!("reaped all {n}"),
        "{lines:?}"
    );
    let pids = |prefix: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.starts_with(prefix) && !l.starts_with("reaped all"))
            .map(|l| l.split(' ').nth(2).unwrap().to_owned())
            .collect()
    };
    let mut started = pids("started");
    let mut ended = pids("exited");
    ended.extend(pids("reaped "));
    started.sort();
    ended.sort();
    assert_eq!(
        started, ended,
        "every started worker ends exactly once: {lines:?}"
    );
    assert_eq!(pids("reaped ").len(), n, "{lines:?}");
    for pid in &started {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "worker {pid} left behind: {lines:?}"
        );
    }
}

#[test]
fn supervisor_restarts_workers_and_reaps_all_on_sigterm() {
    let (status, lines) = run_supervisor(3, 4, libc::SIGTERM);
    check_supervisor(status, &lines, 3, "SIGTERM");
}

#[test]
fn supervisor_stops_on_ctrl_c() {
    let (status, lines) = run_supervisor(2, 2, libc::SIGINT);
    check_supervisor(status, &lines, 2, "SIGINT");
}

#[test]
fn supervisor_rejects_bad_arguments() {
    let out = Command::new(example("supervisor"))
        .arg("0")
        .output()
        .expect("run supervisor");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}

#[test]
fn pipeline_counts_what_wc_counts() {
    let dir = std::env::temp_dir().join(format!("kq-pipeline-{}", std::process::id()));
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    for i in 0..40 {
        std::fs::write(dir.join(format!("x{i}.txt")), "").unwrap();
    }
    for i in 0..25 {
        std::fs::write(sub.join(format!("y{i}.txt")), "").unwrap();
        std::fs::write(sub.join(format!("z{i}.log")), "").unwrap();
    }
    let out = Command::new(example("pipeline"))
        .arg(&dir)
        .arg(r"\.txt$")
        .output()
        .expect("run pipeline");
    std::fs::remove_dir_all(&dir).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "kq counted 65\nwc counted 65\n");
}
