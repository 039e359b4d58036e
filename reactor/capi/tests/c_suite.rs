//! kq's C conformance suite: the C programs in `tests/c/`, compiled with the system C
//! compiler against the freshly built `libkq.so` and `include/sys/event.h`, and run as
//! processes. Each program checks one area through the C ABI and exits 0 when every
//! check passed (it names the failed check on stderr otherwise).
//!
//! The library is built by `cargo build -p kq-capi` for the test binary's profile and
//! target directory (see `lib_dir`), so `CARGO_TARGET_DIR` and profiles just work from a
//! fresh clone. Programs and objects go to `CARGO_TARGET_TMPDIR`.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A program that runs longer than this is killed and fails its test.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn out_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kq-capi-c");
    std::fs::create_dir_all(&d).expect("create the output directory");
    d
}

/// The directory holding `libkq.so`, built for this run's profile and target directory.
///
/// Cargo does not build a `cdylib`-only library for an integration test, so the first
/// call runs `cargo build -p kq-capi` (cargo holds no lock while tests run; `CARGO_TARGET_DIR`
/// is inherited). The profile is the test binary's (`target/<profile>/deps/c_suite-…`).
fn lib_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        let deps = exe.parent().expect("the test binary's directory");
        let profile_dir = deps.parent().expect("the profile's directory");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_owned(),
            Some(other) => other.to_owned(),
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let out = Command::new(cargo)
            .args(["build", "-p", "kq-capi", "--profile", &profile])
            .current_dir(manifest_dir())
            .env(
                "CARGO_TARGET_DIR",
                profile_dir.parent().expect("the target directory"),
            )
            .output()
            .expect("run cargo build -p kq-capi");
        assert_success(&out, "cargo build -p kq-capi");
        assert!(
            profile_dir.join("libkq.so").is_file(),
            "no libkq.so in {}",
            profile_dir.display()
        );
        profile_dir.to_path_buf()
    })
    .clone()
}

fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_owned())
}

/// Compiles `tests/c/<name>.c` into a program linked against libkq, with warnings as
/// errors. Returns its path.
fn build(name: &str) -> PathBuf {
    let src = manifest_dir().join("tests/c").join(format!("{name}.c"));
    let exe = out_dir().join(name);
    let lib = lib_dir();
    let out = Command::new(cc())
        .args([
            "-std=c99",
            "-D_GNU_SOURCE",
            "-O1",
            "-g",
            "-Wall",
            "-Wextra",
            "-Werror",
        ])
        .arg("-I")
        .arg(manifest_dir().join("include"))
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lkq", "-pthread"])
        .output()
        .expect("run the C compiler");
    assert_success(&out, &format!("compiling {}", src.display()));
    exe
}

fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cmd` to completion with `input` on its standard input, killing it after
/// [`RUN_LIMIT`].
fn run(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the C program");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    let (mut so, mut se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} ran longer than {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

/// Builds and runs one program; it must exit 0 and print `ok <name>`.
fn suite(name: &str) -> String {
    let exe = build(name);
    let out = run(Command::new(&exe), b"");
    assert_success(&out, name);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains(&format!("ok {name}")), "{name}: {stdout}");
    stdout
}

#[test]
fn abi() {
    suite("abi");
}

#[test]
fn errors() {
    suite("errors");
}

#[test]
fn read_write() {
    suite("read_write");
}

#[test]
fn vnode() {
    suite("vnode");
}

#[test]
fn proc_signal() {
    suite("proc_signal");
}

#[test]
fn timer_user() {
    suite("timer_user");
}

#[test]
fn threads() {
    suite("threads");
}

#[test]
fn lifecycle() {
    let out = suite("lifecycle");
    println!("{out}");
}

/// The header alone: C89 with the tutorial's warnings (and -Werror), and C++98.
#[test]
fn header_is_c89_and_cxx() {
    let dir = out_dir();
    let src = dir.join("c89.c");
    std::fs::write(
        &src,
        "#include <sys/event.h>\n\
         int main(void)\n{\n    struct kevent k;\n    \
         EV_SET(&k, 1, EVFILT_TIMER, EV_ADD | EV_ENABLE, NOTE_SECONDS, 5, 0);\n    \
         return kevent(-1, &k, 1, &k, 1, (const struct timespec *)0) == -1 ? 0 : 1;\n}\n",
    )
    .unwrap();
    let include = manifest_dir().join("include");
    let out = Command::new(cc())
        .args([
            "-Wall",
            "-W",
            "-Wextra",
            "-ansi",
            "-pedantic",
            "-Werror",
            "-c",
        ])
        .arg("-I")
        .arg(&include)
        .arg(&src)
        .arg("-o")
        .arg(dir.join("c89.o"))
        .output()
        .expect("run the C compiler");
    assert_success(&out, "the header as C89");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_owned());
    match Command::new(&cxx)
        .args([
            "-x",
            "c++",
            "-std=c++98",
            "-Wall",
            "-Wextra",
            "-pedantic",
            "-Werror",
            "-c",
        ])
        .arg("-I")
        .arg(&include)
        .arg(&src)
        .arg("-o")
        .arg(dir.join("cxx.o"))
        .output()
    {
        Ok(out) => assert_success(&out, "the header as C++98"),
        Err(e) => println!("skipped the C++ check: no C++ compiler ({cxx}: {e})"),
    }
}

/// The tutorial's timer program, as kq's own `ticker.c`: two ticks, each running date(1).
#[test]
fn tutorial_timer_runs_date() {
    let out = run(Command::new(build("ticker")), b"");
    assert_success(&out, "ticker");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    // date(1)'s default output names the year.
    let year = lines[0].split_whitespace().last().unwrap_or("");
    assert!(year.len() == 4 && year.parse::<u32>().is_ok(), "{stdout}");
    assert_eq!(lines[2], "ticks 2");
}

/// The tutorial's client, as kq's own `relay.c`, against an echo server on 127.0.0.1.
#[test]
fn tutorial_client_relays_a_line() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut w = conn.try_clone().unwrap();
        let mut line = String::new();
        BufReader::new(conn).read_line(&mut line).unwrap();
        w.write_all(line.as_bytes()).unwrap();
        line
    });
    let mut cmd = Command::new(build("relay"));
    cmd.args(["127.0.0.1", &port.to_string()]);
    let out = run(cmd, b"hello through kq\n");
    assert_success(&out, "relay");
    assert_eq!(server.join().unwrap(), "hello through kq\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello through kq\n");
}

/// A program linked against `libkqueue.so.0` (a stand-in with that soname) runs on kq
/// when kq's library is put in its place through `LD_LIBRARY_PATH`.
#[test]
fn drop_in_for_libkqueue() {
    let dir = out_dir().join("dropin");
    let stub_dir = dir.join("stub");
    let kq_dir = dir.join("kq");
    std::fs::create_dir_all(&stub_dir).unwrap();
    std::fs::create_dir_all(&kq_dir).unwrap();
    let c = manifest_dir().join("tests/c");
    let out = Command::new(cc())
        .args(["-shared", "-fPIC", "-Wl,-soname,libkqueue.so.0", "-o"])
        .arg(stub_dir.join("libkqueue.so.0"))
        .arg(c.join("stub_libkqueue.c"))
        .output()
        .unwrap();
    assert_success(&out, "building the stand-in libkqueue.so.0");
    let exe = dir.join("dropin");
    let out = Command::new(cc())
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(manifest_dir().join("include"))
        .arg(c.join("dropin.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&stub_dir)
        .args(["-l:libkqueue.so.0", "-ldl"])
        .output()
        .unwrap();
    assert_success(&out, "building dropin.c against libkqueue.so.0");
    // kq's library under libkqueue's name, as install.sh lays it out.
    let link = kq_dir.join("libkqueue.so.0");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(lib_dir().join("libkq.so"), &link).unwrap();

    // With the stand-in the program fails: the stand-in is what it was linked against.
    let mut cmd = Command::new(&exe);
    cmd.env("LD_LIBRARY_PATH", &stub_dir);
    let out = run(cmd, b"");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("library: not kq"));

    let mut cmd = Command::new(&exe);
    cmd.env("LD_LIBRARY_PATH", &kq_dir);
    let out = run(cmd, b"");
    assert_success(&out, "dropin on kq's library");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("library: kq "), "{stdout}");
    assert!(stdout.contains("timer fired"), "{stdout}");
}

/// The header's constants are the core's: every `#define NAME value` of
/// `include/sys/event.h` that names a constant of kq-reactor has its value.
#[test]
fn header_constants_match_the_core() {
    use kq_reactor as k;
    let header = std::fs::read_to_string(manifest_dir().join("include/sys/event.h")).unwrap();
    let core: &[(&str, i64)] = &[
        ("EVFILT_READ", k::EVFILT_READ.into()),
        ("EVFILT_WRITE", k::EVFILT_WRITE.into()),
        ("EVFILT_AIO", k::EVFILT_AIO.into()),
        ("EVFILT_VNODE", k::EVFILT_VNODE.into()),
        ("EVFILT_PROC", k::EVFILT_PROC.into()),
        ("EVFILT_SIGNAL", k::EVFILT_SIGNAL.into()),
        ("EVFILT_TIMER", k::EVFILT_TIMER.into()),
        ("EVFILT_NETDEV", k::EVFILT_NETDEV.into()),
        ("EVFILT_FS", k::EVFILT_FS.into()),
        ("EVFILT_LIO", k::EVFILT_LIO.into()),
        ("EVFILT_USER", k::EVFILT_USER.into()),
        ("EVFILT_EMPTY", k::EVFILT_EMPTY.into()),
        ("EVFILT_SYSCOUNT", k::EVFILT_SYSCOUNT.into()),
        ("EV_ADD", k::EV_ADD.into()),
        ("EV_DELETE", k::EV_DELETE.into()),
        ("EV_ENABLE", k::EV_ENABLE.into()),
        ("EV_DISABLE", k::EV_DISABLE.into()),
        ("EV_ONESHOT", k::EV_ONESHOT.into()),
        ("EV_CLEAR", k::EV_CLEAR.into()),
        ("EV_RECEIPT", k::EV_RECEIPT.into()),
        ("EV_DISPATCH", k::EV_DISPATCH.into()),
        ("EV_FORCEONESHOT", k::EV_FORCEONESHOT.into()),
        ("EV_KEEPUDATA", k::EV_KEEPUDATA.into()),
        ("EV_SYSFLAGS", k::EV_SYSFLAGS.into()),
        ("EV_DROP", k::EV_DROP.into()),
        ("EV_FLAG1", k::EV_FLAG1.into()),
        ("EV_EOF", k::EV_EOF.into()),
        ("EV_ERROR", k::EV_ERROR.into()),
        ("NOTE_LOWAT", k::NOTE_LOWAT.into()),
        ("NOTE_FILE_POLL", k::NOTE_FILE_POLL.into()),
        ("NOTE_DELETE", k::NOTE_DELETE.into()),
        ("NOTE_WRITE", k::NOTE_WRITE.into()),
        ("NOTE_EXTEND", k::NOTE_EXTEND.into()),
        ("NOTE_ATTRIB", k::NOTE_ATTRIB.into()),
        ("NOTE_LINK", k::NOTE_LINK.into()),
        ("NOTE_RENAME", k::NOTE_RENAME.into()),
        ("NOTE_REVOKE", k::NOTE_REVOKE.into()),
        ("NOTE_OPEN", k::NOTE_OPEN.into()),
        ("NOTE_CLOSE", k::NOTE_CLOSE.into()),
        ("NOTE_CLOSE_WRITE", k::NOTE_CLOSE_WRITE.into()),
        ("NOTE_READ", k::NOTE_READ.into()),
        ("NOTE_EXIT", k::NOTE_EXIT.into()),
        ("NOTE_FORK", k::NOTE_FORK.into()),
        ("NOTE_EXEC", k::NOTE_EXEC.into()),
        ("NOTE_PCTRLMASK", k::NOTE_PCTRLMASK.into()),
        ("NOTE_PDATAMASK", k::NOTE_PDATAMASK.into()),
        ("NOTE_TRACK", k::NOTE_TRACK.into()),
        ("NOTE_TRACKERR", k::NOTE_TRACKERR.into()),
        ("NOTE_CHILD", k::NOTE_CHILD.into()),
        ("NOTE_SECONDS", k::NOTE_SECONDS.into()),
        ("NOTE_USECONDS", k::NOTE_USECONDS.into()),
        ("NOTE_NSECONDS", k::NOTE_NSECONDS.into()),
        ("NOTE_ABSOLUTE", k::NOTE_ABSOLUTE.into()),
        ("NOTE_FFNOP", k::NOTE_FFNOP.into()),
        ("NOTE_FFAND", k::NOTE_FFAND.into()),
        ("NOTE_FFOR", k::NOTE_FFOR.into()),
        ("NOTE_FFCOPY", k::NOTE_FFCOPY.into()),
        ("NOTE_FFCTRLMASK", k::NOTE_FFCTRLMASK.into()),
        ("NOTE_FFLAGSMASK", k::NOTE_FFLAGSMASK.into()),
        ("NOTE_TRIGGER", k::NOTE_TRIGGER.into()),
    ];
    let mut defined = std::collections::HashMap::new();
    for line in header.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("#define") {
            continue;
        }
        let (Some(name), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let v = value.trim_start_matches('(').trim_end_matches(')');
        let v = v.trim_end_matches('U');
        let parsed = if let Some(hex) = v.strip_prefix("0x") {
            i64::from_str_radix(hex, 16).ok()
        } else {
            v.parse::<i64>().ok()
        };
        if let Some(p) = parsed {
            defined.insert(name.to_owned(), p);
        }
    }
    for (name, value) in core {
        assert_eq!(
            defined.get(*name),
            Some(value),
            "{name} in include/sys/event.h"
        );
    }
    assert!(header.contains("#define NOTE_ABSTIME    NOTE_ABSOLUTE"));
}

/// install.sh lays out the library, the drop-in name, the header and kq.pc; a program
/// builds with `pkg-config --cflags --libs kq` and runs, and links statically against
/// libkq.a.
#[test]
fn install_script_and_pkg_config() {
    let prefix = out_dir().join("prefix");
    let _ = std::fs::remove_dir_all(&prefix);
    let out = Command::new("sh")
        .arg(manifest_dir().join("install.sh"))
        .arg(&prefix)
        .env("KQ_LIB_DIR", lib_dir())
        .output()
        .unwrap();
    assert_success(&out, "install.sh");
    for f in [
        "lib/libkq.so",
        "lib/libkq.a",
        "lib/kq/libkqueue.so.0",
        "include/kq/sys/event.h",
        "lib/pkgconfig/kq.pc",
    ] {
        assert!(prefix.join(f).exists(), "{f} not installed");
    }
    let src = manifest_dir().join("tests/c/abi.c");
    let include_tests = manifest_dir().join("tests/c");
    let lib = prefix.join("lib");
    let pc = Command::new("pkg-config")
        .args(["--cflags", "--libs", "kq"])
        .env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
        .output();
    let flags = match pc {
        Ok(o) if o.status.success() => String::from_utf8(o.stdout).unwrap(),
        Ok(o) => panic!("pkg-config kq: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => {
            println!("pkg-config not found ({e}): using kq.pc's flags by hand");
            format!("-I{}/include/kq -L{} -lkq", prefix.display(), lib.display())
        }
    };
    let exe = out_dir().join("abi-installed");
    let out = Command::new(cc())
        .args(["-std=c99", "-D_GNU_SOURCE", "-I"])
        .arg(&include_tests)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .args(flags.split_whitespace())
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .output()
        .unwrap();
    assert_success(&out, "building against the installed library");
    assert_success(
        &run(Command::new(&exe), b""),
        "abi against the installed library",
    );

    // Static: libkq.a and what Rust's standard library needs.
    let exe = out_dir().join("abi-static");
    let out = Command::new(cc())
        .args(["-std=c99", "-D_GNU_SOURCE", "-I"])
        .arg(&include_tests)
        .arg("-I")
        .arg(prefix.join("include/kq"))
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .arg(lib.join("libkq.a"))
        .args(["-lpthread", "-ldl", "-lm", "-lrt", "-lutil", "-lgcc_s"])
        .output()
        .unwrap();
    assert_success(&out, "linking libkq.a");
    let ldd = Command::new("ldd").arg(&exe).output().unwrap();
    assert!(!String::from_utf8_lossy(&ldd.stdout).contains("libkq"));
    assert_success(&run(Command::new(&exe), b""), "abi linked statically");
}
