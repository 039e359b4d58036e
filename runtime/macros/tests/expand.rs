//! `#[kq::main]` and `#[kq::test]` expanded against a fake runtime (`crate = "fake"`): the
//! runtime they ask for, the values that pass through, and what the function keeps.
//!
//! The misuses, which must not compile, are the `compile_fail` examples of the crate's docs.

mod fake;

use std::error::Error;

use fake::runtime::{Config, Flavor, in_block_on, last_built, yield_now};

/// The configuration the last runtime built on this thread was asked for.
#[track_caller]
fn assert_built(flavor: Flavor, worker_threads: Option<usize>) {
    let expected = Config {
        flavor,
        worker_threads,
        enable_all: true,
    };
    assert_eq!(last_built(), Some(expected));
}

#[kq_macros::main(crate = "fake")]
async fn seven() -> u32 {
    assert!(in_block_on());
    yield_now().await;
    7
}

#[test]
fn main_defaults_to_multi_thread_and_returns_the_body_value() {
    assert_eq!(seven(), 7);
    assert_built(Flavor::MultiThread, None);
    assert!(!in_block_on());
}

#[kq_macros::main(crate = "fake", flavor = "current_thread")]
async fn on_current_thread() {}

#[kq_macros::main(crate = "fake", flavor = "multi_thread")]
async fn on_multi_thread() {}

#[test]
fn main_flavor() {
    on_current_thread();
    assert_built(Flavor::CurrentThread, None);
    on_multi_thread();
    assert_built(Flavor::MultiThread, None);
}

#[kq_macros::main(crate = "fake", worker_threads = 3)]
async fn three_workers() {}

// Any order, a `usize` suffix, underscores and a trailing comma (which rustfmt would remove).
#[rustfmt::skip]
#[kq_macros::main(worker_threads = 1_000usize, flavor = "multi_thread", crate = "fake",)]
async fn thousand_workers() {}

#[test]
fn main_worker_threads() {
    three_workers();
    assert_built(Flavor::MultiThread, Some(3));
    thousand_workers();
    assert_built(Flavor::MultiThread, Some(1000));
}

#[kq_macros::main(crate = "fake")]
async fn parse(text: &str) -> Result<u32, Box<dyn Error>> {
    let number: u32 = text.parse()?;
    if number == 0 {
        return Err("zero".into());
    }
    Ok(number)
}

#[test]
fn main_parameters_question_mark_and_return() {
    assert_eq!(parse("12").unwrap(), 12);
    assert!(parse("twelve").unwrap_err().is::<std::num::ParseIntError>());
    assert_eq!(parse("0").unwrap_err().to_string(), "zero");
}

#[kq_macros::main(crate = "fake")]
async fn inner_attributes() -> u32 {
    #![allow(unreachable_code)]
    return 1;
    2
}

#[test]
fn main_inner_attributes() {
    assert_eq!(inner_attributes(), 1);
}

/// A body that diverges: no "unreachable code" warning (the workspace's clippy denies warnings).
#[kq_macros::main(crate = "fake")]
async fn diverges() -> u32 {
    panic!("diverged in the runtime")
}

#[test]
#[should_panic(expected = "diverged in the runtime")]
fn main_diverging_body() {
    diverges();
}

#[kq_macros::main(crate = "fake")]
async fn impl_trait() -> impl std::fmt::Display {
    "displayed"
}

#[test]
fn main_impl_trait_return() {
    assert_eq!(impl_trait().to_string(), "displayed");
}

/// Visibility, outer attributes and `crate = "crate::..."` in a module.
mod nested {
    /// With `test` set, a second function of the same name would not compile: the `cfg` is kept.
    #[cfg(not(test))]
    #[kq_macros::main(crate = "crate::fake")]
    pub(crate) async fn which() -> &'static str {
        "not test"
    }

    /// The one that exists.
    #[cfg(test)]
    #[kq_macros::main(crate = "crate::fake", flavor = "current_thread")]
    #[must_use]
    pub(crate) async fn which() -> &'static str {
        "test"
    }
}

#[test]
fn main_keeps_visibility_and_attributes() {
    assert_eq!(nested::which(), "test");
    assert_built(Flavor::CurrentThread, None);
}

/// `crate = "crate"`: the runtime is this crate's own `crate::runtime`.
use fake::runtime;

#[kq_macros::main(crate = "crate", flavor = "current_thread")]
async fn through_crate() -> u8 {
    3
}

#[test]
fn main_crate_crate() {
    assert_eq!(through_crate(), 3);
    assert_built(Flavor::CurrentThread, None);
}

/// Defines a function through `macro_rules`, whose `$literal` arrives in an invisible group.
macro_rules! with_workers {
    ($name:ident, $count:literal) => {
        #[kq_macros::main(crate = "fake", worker_threads = $count)]
        async fn $name() {}
    };
}

with_workers!(from_macro, 5);

#[test]
fn main_arguments_from_macro_rules() {
    from_macro();
    assert_built(Flavor::MultiThread, Some(5));
}

#[kq_macros::test(crate = "fake")]
async fn test_defaults_to_current_thread_in_block_on() {
    assert!(in_block_on());
    yield_now().await;
    assert_built(Flavor::CurrentThread, None);
}

#[kq_macros::test(crate = "fake", flavor = "multi_thread", worker_threads = 2)]
async fn test_flavor_and_worker_threads() {
    assert!(in_block_on());
    assert_built(Flavor::MultiThread, Some(2));
}

#[kq_macros::test(crate = "fake")]
async fn test_returning_result() -> Result<(), Box<dyn Error>> {
    let _: u8 = "255".parse()?;
    Ok(())
}

#[kq_macros::test(crate = "fake")]
#[should_panic(expected = "inside the runtime")]
async fn test_keeps_should_panic() {
    assert!(in_block_on());
    panic!("inside the runtime");
}

#[kq_macros::test(crate = "fake")]
#[ignore = "shows that `#[ignore]` is kept: this must not run"]
async fn test_keeps_ignore() {
    panic!("an ignored test ran");
}
