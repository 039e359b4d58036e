//! The `#[kq::test]` and `#[kq::main]` attributes as the `kq` facade exports them: the
//! flavor and worker count they build, `Result` returns with `?`, attributes kept on the
//! function, and `#[kq::main]` on a function other than `main`, called from a test.

use kq::runtime::{Handle, RuntimeFlavor};

#[kq::test]
async fn test_attribute_builds_a_current_thread_runtime_by_default() {
    let h = Handle::current();
    assert_eq!(h.runtime_flavor(), RuntimeFlavor::CurrentThread);
    assert_eq!(h.metrics().num_workers(), 1);
    assert_eq!(kq::spawn(async { 1 }).await.unwrap(), 1);
}

#[kq::test(flavor = "current_thread")]
async fn test_attribute_with_an_explicit_current_thread_flavor() {
    assert_eq!(
        Handle::current().runtime_flavor(),
        RuntimeFlavor::CurrentThread
    );
    kq::time::sleep(kq::time::Duration::from_millis(1)).await;
}

#[kq::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_attribute_with_two_worker_threads() {
    let h = Handle::current();
    assert_eq!(h.runtime_flavor(), RuntimeFlavor::MultiThread);
    assert_eq!(h.metrics().num_workers(), 2);
    // The test body runs in block_on on the test's thread; spawned tasks run on workers.
    let here = std::thread::current().id();
    let there = kq::spawn(async { std::thread::current().id() })
        .await
        .unwrap();
    assert_ne!(here, there, "a spawned task ran on the block_on thread");
}

#[kq::test(flavor = "multi_thread")]
async fn test_attribute_multi_thread_defaults_to_one_worker_per_cpu() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(Handle::current().metrics().num_workers(), cpus);
}

#[kq::test]
async fn test_attribute_supports_result_and_question_mark() -> Result<(), std::num::ParseIntError> {
    let n: u32 = "42".parse()?;
    assert_eq!(n, 42);
    Ok(())
}

#[kq::test]
#[should_panic(expected = "deliberate failure")]
async fn test_attribute_keeps_other_attributes() {
    kq::task::yield_now().await;
    panic!("deliberate failure");
}

/// `#[kq::main]` on an ordinary function: it becomes a blocking function that runs its body
/// on a new multi-thread runtime and returns its output.
#[kq::main(worker_threads = 2)]
async fn answer_on_a_fresh_runtime(x: u32) -> (u32, RuntimeFlavor, usize) {
    let h = Handle::current();
    let doubled = kq::spawn(async move { x * 2 }).await.unwrap();
    (doubled, h.runtime_flavor(), h.metrics().num_workers())
}

#[test]
fn main_attribute_runs_the_function_on_a_runtime() {
    assert!(Handle::try_current().is_err());
    assert_eq!(
        answer_on_a_fresh_runtime(21),
        (42, RuntimeFlavor::MultiThread, 2)
    );
    // The runtime is gone again afterwards.
    assert!(Handle::try_current().is_err());
}
