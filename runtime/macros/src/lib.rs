//! `#[kq::main]` and `#[kq::test]`: run an `async fn` on a new kq runtime.
//!
//! Users reach these attributes through the `kq` crate, as `kq::main` and `kq::test`. They take
//! the arguments of tokio's `#[tokio::main]` and `#[tokio::test]`, so that porting code is
//! replacing `tokio::` with `kq::`. The crate has no dependencies: it reads and writes
//! `proc_macro` tokens by hand (`src/expand.rs`).
//!
//! # Expansion
//!
//! ```text
//! #[kq::main]
//! async fn main() -> T { BODY }
//! ```
//!
//! becomes
//!
//! ```text
//! fn main() -> T {
//!     ::kq::runtime::Builder::new_multi_thread()
//!         .enable_all()
//!         .build()
//!         .expect("Failed building the Runtime")
//!         .block_on(async move {
//!             if false {
//!                 return ::core::option::Option::<T>::None.unwrap();
//!             }
//!             BODY
//!         })
//! }
//! ```
//!
//! - The function keeps its attributes, doc comments, visibility, name, parameters (moved into
//!   the future) and return type (`()` if none); only `async` goes.
//! - The `return` never runs: it gives the future the function's return type before the body is
//!   checked, as for an `async fn`, so `?` converts errors into it and a wrong tail or `return`
//!   is reported in the body. (Left out when the return type is `!` or holds `impl Trait`, which
//!   cannot be named there.) The body keeps its spans, so errors point at the user's code.
//! - `#[kq::test]` also puts `#[::core::prelude::v1::test]` first, and uses
//!   `Builder::new_current_thread()` unless told otherwise.
//!
//! # Arguments
//!
//! `#[kq::main(name = value, ...)]`, in any order, each at most once:
//!
//! | Argument | Values | Default |
//! |---|---|---|
//! | `flavor` | `"multi_thread"`: `Builder::new_multi_thread()`; `"current_thread"`: `Builder::new_current_thread()` | `"multi_thread"` for `main`, `"current_thread"` for `test` |
//! | `worker_threads` | a positive integer literal `N`, which adds `.worker_threads(N)`; only with `"multi_thread"` | the runtime's own |
//! | `crate` | a path in a string, used instead of `::kq`: `"my_kq"`, `"crate::rt"`, `"crate"` | `"::kq"` |
//!
//! tokio's `start_paused` is refused: kq has no paused clock.
//!
//! # Errors
//!
//! A misuse is a compile error that underlines the offending tokens: see the `compile_fail`
//! examples of [`macro@main`] and [`macro@test`]. The function is still emitted (unchanged if
//! it could not be read, else expanded with the valid arguments), so the error is not followed
//! by "`main` function not found" or "`main` function is not allowed to be `async`".
//!
//! # About the examples
//!
//! kq-macros cannot depend on `kq`, which re-exports it, so each example starts with three
//! hidden lines that stand in for it: `extern crate self as kq;`, a re-export of the attribute,
//! and the fake `kq::runtime` of this crate's tests (`tests/fake/mod.rs`). What is shown is
//! exactly what a user of `kq` writes. The `main` examples run; the `test` example only
//! compiles, since rustdoc does not build examples as test harnesses (`tests/expand.rs` runs
//! such tests).
#![forbid(unsafe_code)]

mod expand;

use proc_macro::TokenStream;

/// Runs an `async fn` (usually `main`) on a new runtime, multi-thread by default.
///
/// See the [crate documentation](crate) for the expansion and the arguments.
///
/// # Examples
///
/// ```
/// # extern crate self as kq;
/// # pub use kq_macros::main;
/// # include!("../tests/fake/mod.rs");
/// use std::error::Error;
///
/// #[kq::main]
/// async fn main() -> Result<(), Box<dyn Error>> {
///     let answer: u32 = "42".parse()?;
///     println!("{answer}");
///     Ok(())
/// }
/// ```
///
/// A single-threaded runtime, or a given number of worker threads:
///
/// ```
/// # extern crate self as kq;
/// # pub use kq_macros::main;
/// # include!("../tests/fake/mod.rs");
/// #[kq::main(flavor = "current_thread")]
/// async fn main() {}
/// ```
///
/// ```
/// # extern crate self as kq;
/// # pub use kq_macros::main;
/// # include!("../tests/fake/mod.rs");
/// #[kq::main(worker_threads = 4)]
/// async fn main() {}
/// ```
///
/// Through a crate that re-exports kq under another name:
///
/// ```
/// # extern crate self as kq;
/// # pub use kq_macros::main;
/// # mod my_kq { include!("../tests/fake/mod.rs"); }
/// #[kq::main(crate = "my_kq")]
/// async fn main() {}
/// ```
///
/// # Compile errors
///
/// Each of these fails with the message in its comment, underlining the offending tokens.
///
/// ```compile_fail
/// # extern crate self as kq;
/// # pub use kq_macros::main;
/// # include!("../tests/fake/mod.rs");
/// #[kq::main]
/// fn main() {} // the `async` keyword is missing from the function declaration
/// ```
///
/// ```compile_fail
/// # extern crate self as kq;
/// # pub use kq_macros::main;
/// # include!("../tests/fake/mod.rs");
/// #[kq::main]
/// struct Main; // `#[kq::main]` can only be applied to an `async fn`
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// # extern crate self as kq;
/// # pub use kq_macros::main;
/// # include!("../tests/fake/mod.rs");
/// #[kq::main]
/// async fn run<T>() {} // `#[kq::main]` does not support generic parameters
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// # extern crate self as kq;
/// # pub use kq_macros::main;
/// # include!("../tests/fake/mod.rs");
/// #[kq::main(threads = 4)] // unknown argument `threads`: expected `flavor`, `worker_threads` or `crate`
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// # extern crate self as kq;
/// # pub use kq_macros::main;
/// # include!("../tests/fake/mod.rs");
/// #[kq::main(flavor = "current_thread", flavor = "multi_thread")] // duplicate argument `flavor`
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// # extern crate self as kq;
/// # pub use kq_macros::main;
/// # include!("../tests/fake/mod.rs");
/// #[kq::main(flavor = "single_thread")] // unknown flavor "single_thread": expected "multi_thread" or "current_thread"
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// # extern crate self as kq;
/// # pub use kq_macros::main;
/// # include!("../tests/fake/mod.rs");
/// #[kq::main(worker_threads = 0)] // `worker_threads` must be at least 1
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// # extern crate self as kq;
/// # pub use kq_macros::main;
/// # include!("../tests/fake/mod.rs");
/// #[kq::main(worker_threads = "4")] // `worker_threads` must be a positive integer literal, such as `4`
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// # extern crate self as kq;
/// # pub use kq_macros::main;
/// # include!("../tests/fake/mod.rs");
/// #[kq::main(flavor = "current_thread", worker_threads = 2)] // `worker_threads` cannot be used with the `current_thread` flavor
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// # extern crate self as kq;
/// # pub use kq_macros::main;
/// # include!("../tests/fake/mod.rs");
/// #[kq::main(crate = "my kq")] // `crate` must be a path in a string, such as `crate = "kq"`
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// # extern crate self as kq;
/// # pub use kq_macros::main;
/// # include!("../tests/fake/mod.rs");
/// #[kq::main(start_paused = true)] // `start_paused` is not supported: kq has no paused clock
/// async fn main() {}
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(expand::Kind::Main, args, item)
}

/// Makes an `async fn` a test that runs on a new runtime, current-thread by default.
///
/// The generated function carries `#[::core::prelude::v1::test]`, so other test attributes
/// (`#[should_panic]`, `#[ignore]`) go next to `#[kq::test]` as usual. It takes the same
/// arguments as [`macro@main`]; see the [crate documentation](crate).
///
/// # Examples
///
/// ```
/// # extern crate self as kq;
/// # pub use kq_macros::test;
/// # include!("../tests/fake/mod.rs");
/// #[kq::test]
/// async fn parses() {
///     assert_eq!("42".parse::<u32>(), Ok(42));
/// }
///
/// #[kq::test(flavor = "multi_thread", worker_threads = 2)]
/// async fn on_two_workers() {}
/// # fn main() {}
/// ```
///
/// # Compile errors
///
/// Besides those of [`macro@main`]:
///
/// ```compile_fail
/// # extern crate self as kq;
/// # pub use kq_macros::test;
/// # include!("../tests/fake/mod.rs");
/// #[kq::test]
/// async fn parses(text: &str) {} // a `#[kq::test]` function cannot take parameters
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// # extern crate self as kq;
/// # pub use kq_macros::test;
/// # include!("../tests/fake/mod.rs");
/// #[kq::test(worker_threads = 2)] // `worker_threads` needs `flavor = "multi_thread"`: `#[kq::test]` runs on `current_thread` by default
/// async fn on_two_workers() {}
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(expand::Kind::Test, args, item)
}
