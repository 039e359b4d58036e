//! Signals through `kq::signal` with real deliveries to this process. Each test uses a
//! signal no other test in this binary raises, so tests running in parallel cannot see
//! each other's deliveries:
//!
//! | test | signal |
//! |------|--------|
//! | a_raised_signal_is_received | SIGUSR1 |
//! | every_listener_sees_every_delivery | SIGUSR2 |
//! | deliveries_while_nobody_polls_are_coalesced_not_lost | SIGHUP |
//! | handlers_installed_before_keep_running | SIGALRM |
//! | a_registered_signal_no_longer_terminates | SIGTERM |
//! | ctrl_c_returns_on_sigint | SIGINT |
//! | a_delivery_from_another_thread_wakes_a_multi_thread_runtime | SIGPROF |
//! | listeners_can_come_and_go | SIGURG |
//! | children_inherit_no_mask_and_no_ignored_disposition | none raised (SIGTERM, SIGQUIT registered) |

use kq::signal::unix::{Signal, SignalKind, signal};
use kq::time::{Duration, sleep, timeout};
use std::future::poll_fn;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

fn raise(signo: libc::c_int) {
    // SAFETY: every signal raised here is registered with kq::signal first (handled).
    assert_eq!(unsafe { libc::raise(signo) }, 0);
}

/// Whether a delivery is ready now, without waiting.
async fn ready_now(s: &mut Signal) -> bool {
    // Give the driver a turn to deliver anything in flight.
    sleep(Duration::from_millis(50)).await;
    poll_fn(|cx| Poll::Ready(s.poll_recv(cx).is_ready())).await
}

async fn recv(s: &mut Signal) {
    timeout(Duration::from_secs(10), s.recv())
        .await
        .expect("no delivery within 10 s")
        .expect("the signal stream ended");
}

#[kq::test]
async fn a_raised_signal_is_received() {
    let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
    assert!(!ready_now(&mut usr1).await, "a delivery before any raise");
    raise(libc::SIGUSR1);
    recv(&mut usr1).await;
    assert!(!ready_now(&mut usr1).await, "one raise, two deliveries");
    // Raised while the task waits in recv.
    let waiter = kq::spawn(async move {
        recv(&mut usr1).await;
        usr1
    });
    sleep(Duration::from_millis(50)).await;
    raise(libc::SIGUSR1);
    let mut usr1 = waiter.await.unwrap();
    assert!(!ready_now(&mut usr1).await);
}

#[kq::test(flavor = "multi_thread")]
async fn every_listener_sees_every_delivery() {
    let mut listeners: Vec<Signal> = (0..4)
        .map(|_| signal(SignalKind::user_defined2()).unwrap())
        .collect();
    for _round in 0..3 {
        let tasks: Vec<_> = listeners
            .drain(..)
            .map(|mut s| {
                kq::spawn(async move {
                    recv(&mut s).await;
                    s
                })
            })
            .collect();
        sleep(Duration::from_millis(20)).await;
        raise(libc::SIGUSR2);
        for t in tasks {
            listeners.push(t.await.unwrap());
        }
    }
    // A listener made after the deliveries does not see them.
    let mut late = signal(SignalKind::user_defined2()).unwrap();
    assert!(!ready_now(&mut late).await);
}

#[kq::test]
async fn deliveries_while_nobody_polls_are_coalesced_not_lost() {
    let mut hup = signal(SignalKind::hangup()).unwrap();
    // Three deliveries before the first poll (the knote may not even be attached yet).
    raise(libc::SIGHUP);
    raise(libc::SIGHUP);
    raise(libc::SIGHUP);
    recv(&mut hup).await;
    assert!(!ready_now(&mut hup).await, "coalesced into one recv");
    // And again after the knote is surely attached, with no task polling.
    sleep(Duration::from_millis(20)).await;
    raise(libc::SIGHUP);
    raise(libc::SIGHUP);
    sleep(Duration::from_millis(20)).await;
    recv(&mut hup).await;
    assert!(!ready_now(&mut hup).await);
}

#[test]
fn forbidden_and_invalid_signals_are_errors() {
    let rt = kq::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        for signo in [
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGILL,
            libc::SIGFPE,
            0,
            -1,
            65,
            1000,
        ] {
            let err = signal(SignalKind::from_raw(signo)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{signo}: {err}");
        }
    });
    // Outside a runtime: an error, not a panic.
    let err = signal(SignalKind::user_defined1()).unwrap_err();
    assert!(err.to_string().contains("runtime"), "{err}");
}

static APP_HANDLER_CALLS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn app_handler(_: libc::c_int) {
    APP_HANDLER_CALLS.fetch_add(1, Ordering::SeqCst);
}

#[kq::test]
async fn handlers_installed_before_keep_running() {
    // The application's own handler, installed before kq sees the signal.
    // SAFETY: a zeroed sigaction with a plain, async-signal-safe handler.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = app_handler as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        assert_eq!(libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut()), 0);
    }
    let mut alrm = signal(SignalKind::alarm()).unwrap();
    raise(libc::SIGALRM);
    recv(&mut alrm).await;
    assert_eq!(APP_HANDLER_CALLS.load(Ordering::SeqCst), 1);
    sleep(Duration::from_millis(20)).await;
    raise(libc::SIGALRM);
    recv(&mut alrm).await;
    assert_eq!(APP_HANDLER_CALLS.load(Ordering::SeqCst), 2);
}

#[kq::test]
async fn a_registered_signal_no_longer_terminates() {
    let mut term = signal(SignalKind::terminate()).unwrap();
    // SIGTERM's default action would end this test binary.
    raise(libc::SIGTERM);
    recv(&mut term).await;
    // Still handled after the last listener is gone (as in tokio).
    drop(term);
    raise(libc::SIGTERM);
    let mut term = signal(SignalKind::terminate()).unwrap();
    sleep(Duration::from_millis(20)).await;
    raise(libc::SIGTERM);
    recv(&mut term).await;
}

#[kq::test(flavor = "multi_thread")]
async fn ctrl_c_returns_on_sigint() {
    // Make SIGINT handled first, so that a raise before ctrl_c registers cannot end the
    // test binary; then raise until ctrl_c returns.
    let _guard = signal(SignalKind::interrupt()).unwrap();
    let task = kq::spawn(kq::signal::ctrl_c());
    for _ in 0..1000 {
        if task.is_finished() {
            break;
        }
        raise(libc::SIGINT);
        sleep(Duration::from_millis(10)).await;
    }
    timeout(Duration::from_secs(10), task)
        .await
        .expect("ctrl_c never returned")
        .unwrap()
        .unwrap();
}

#[kq::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_from_another_thread_wakes_a_multi_thread_runtime() {
    let mut prof = signal(SignalKind::from_raw(libc::SIGPROF)).unwrap();
    for _ in 0..20 {
        let raiser = std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            // kill(2) to the process: any thread may take it.
            // SAFETY: SIGPROF is handled (registered above).
            unsafe { libc::kill(libc::getpid(), libc::SIGPROF) };
        });
        recv(&mut prof).await;
        raiser.join().unwrap();
    }
}

#[kq::test]
async fn listeners_can_come_and_go() {
    for _ in 0..20 {
        let mut a = signal(SignalKind::from_raw(libc::SIGURG)).unwrap();
        let mut b = signal(SignalKind::from_raw(libc::SIGURG)).unwrap();
        drop(a);
        a = signal(SignalKind::from_raw(libc::SIGURG)).unwrap();
        raise(libc::SIGURG);
        recv(&mut a).await;
        recv(&mut b).await;
        // The last listener's drop deletes the knote; the next one adds it again.
    }
    let mut c = signal(SignalKind::from_raw(libc::SIGURG)).unwrap();
    sleep(Duration::from_millis(20)).await;
    raise(libc::SIGURG);
    recv(&mut c).await;
}

/// The bit of `signo` in a /proc status mask line such as `SigBlk: 0000000000000000`.
fn mask_has(status: &str, field: &str, signo: libc::c_int) -> bool {
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in {status}"));
    let hex = line[field.len()..].trim();
    let mask = u64::from_str_radix(hex, 16).unwrap();
    mask & (1 << (signo - 1)) != 0
}

#[kq::test]
async fn children_inherit_no_mask_and_no_ignored_disposition() {
    let _term = signal(SignalKind::terminate()).unwrap();
    let _quit = signal(SignalKind::quit()).unwrap();
    // Let the knotes attach (the core's handler is installed then).
    sleep(Duration::from_millis(20)).await;
    let out = kq::process::Command::new("cat")
        .arg("/proc/self/status")
        .output()
        .await
        .unwrap();
    let status = String::from_utf8(out.stdout).unwrap();
    for signo in [libc::SIGTERM, libc::SIGQUIT] {
        assert!(!mask_has(&status, "SigBlk:", signo), "{signo} blocked");
        assert!(!mask_has(&status, "SigIgn:", signo), "{signo} ignored");
        // And the handler did not survive exec (it cannot): not "caught" either.
        assert!(!mask_has(&status, "SigCgt:", signo), "{signo} caught");
    }
    // Our own process does catch them.
    let ours = std::fs::read_to_string("/proc/self/status").unwrap();
    assert!(mask_has(&ours, "SigCgt:", libc::SIGTERM));
}
