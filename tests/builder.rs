//! `kq::runtime::Builder`: bad input is an `InvalidInput` error (zero worker or blocking
//! threads), and the settings take effect: thread names (fixed and from a function), stack
//! size, blocking threads' keep-alive, and the `enable_*` methods kept for tokio code.
//!
//! Linux only: the thread and descriptor checks read `/proc`.
#![cfg(target_os = "linux")]

mod util;

use kq::runtime::{Builder, Runtime};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use util::{BOUND, threads_named, wait_until};

#[test]
fn zero_worker_threads_is_invalid_input() {
    let err = Builder::new_multi_thread()
        .worker_threads(0)
        .build()
        .expect_err("a runtime without workers");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("worker_threads"), "{err}");
}

#[test]
fn zero_max_blocking_threads_is_invalid_input() {
    for mut b in [Builder::new_multi_thread(), Builder::new_current_thread()] {
        let err = b
            .max_blocking_threads(0)
            .build()
            .expect_err("a runtime without a blocking pool");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("max_blocking_threads"), "{err}");
    }
}

#[test]
fn one_of_each_is_enough() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .enable_io()
        .enable_time()
        .build()
        .unwrap();
    let out = rt.block_on(async {
        let a = kq::task::spawn_blocking(|| 1);
        let b = kq::task::spawn_blocking(|| 2);
        kq::time::sleep(Duration::from_millis(1)).await;
        a.await.unwrap() + b.await.unwrap()
    });
    assert_eq!(out, 3);
}

#[test]
fn thread_name_fn_names_every_runtime_thread() {
    let n = Arc::new(AtomicUsize::new(0));
    let counter = n.clone();
    let rt = Builder::new_multi_thread()
        .worker_threads(3)
        .thread_name_fn(move || format!("kq-nfn-{}", counter.fetch_add(1, Ordering::SeqCst)))
        .build()
        .unwrap();
    // Three workers, named by three calls.
    wait_until("the workers are named", BOUND, || {
        (0..3).all(|i| threads_named(&format!("kq-nfn-{i}")) == 1)
    });
    // A blocking thread is named by the next call.
    let name = rt
        .block_on(rt.spawn_blocking(|| std::thread::current().name().map(str::to_owned)))
        .unwrap();
    assert_eq!(name.as_deref(), Some("kq-nfn-3"));
    assert_eq!(n.load(Ordering::SeqCst), 4);
}

#[test]
fn thread_name_names_workers() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kq-named")
        .build()
        .unwrap();
    let name = rt
        .block_on(rt.spawn(async { std::thread::current().name().map(str::to_owned) }))
        .unwrap();
    assert_eq!(name.as_deref(), Some("kq-named"));
    let default = util::multi_thread(1);
    let name = default
        .block_on(default.spawn(async { std::thread::current().name().map(str::to_owned) }))
        .unwrap();
    assert_eq!(name.as_deref(), Some("kq-runtime-worker"));
}

#[test]
fn thread_stack_size_is_used_by_workers() {
    // A task that needs more than the default 2 MiB stack of spawned threads.
    fn deep(n: u32) -> u64 {
        let pad = [n as u8; 1024];
        if n == 0 {
            0
        } else {
            u64::from(pad[(n % 1024) as usize]) + deep(n - 1)
        }
    }
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .thread_stack_size(64 << 20)
        .build()
        .unwrap();
    let out = rt.block_on(rt.spawn(async { std::hint::black_box(deep(8 * 1024)) }));
    assert!(out.unwrap() > 0);
    let out = rt.block_on(rt.spawn_blocking(|| std::hint::black_box(deep(8 * 1024))));
    assert!(out.unwrap() > 0);
}

#[test]
fn idle_blocking_threads_leave_after_keep_alive() {
    for mut b in [Builder::new_current_thread(), Builder::new_multi_thread()] {
        let rt: Runtime = b
            .worker_threads(1)
            .thread_keep_alive(Duration::from_millis(20))
            .build()
            .unwrap();
        rt.block_on(async {
            kq::task::spawn_blocking(|| ()).await.unwrap();
        });
        wait_until("the idle blocking thread left", BOUND, || {
            rt.metrics().num_blocking_threads() == 0
        });
        // And a new one comes for new work.
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 5)).unwrap(), 5);
    }
}

#[test]
fn builder_debug_shows_the_settings() {
    let mut b = Builder::new_multi_thread();
    b.worker_threads(3).max_blocking_threads(7);
    let text = format!("{b:?}");
    assert!(
        text.contains("MultiThread") && text.contains('3') && text.contains('7'),
        "{text}"
    );
}
