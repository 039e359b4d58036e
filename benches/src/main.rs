//! `kq-bench`: kq's benchmark commands. The main one is the c10k benchmark of issue 5:
//!
//! ```text
//! cargo run --release -p kq-bench -- c10k            # the full run (3 rounds per server and row)
//! cargo run --release -p kq-bench -- c10k --quick    # a smoke test, under a minute
//! ```
//!
//! It runs echo servers on kq, on tokio and on raw epoll (the limit) in processes of their
//! own against one load generator, alternating kq, tokio, limit, …, prints a side-by-side
//! table (medians, kq/tokio and kq/limit ratios) and writes `target/kq-bench/c10k.json`
//! and `c10k.svg`. See `src/c10k/` (the orchestration in `bench.rs`, the workloads and
//! their checks in `client.rs`). It exits non-zero if any run had an error.
//!
//! The hidden subcommands `c10k-server` and `c10k-client` are its child processes. The
//! other benchmarks are binaries of their own: `--bin reactor` and `--bin runtime`.

use std::process::ExitCode;

#[cfg(target_os = "linux")]
mod c10k;

const USAGE: &str = "usage: kq-bench c10k [--quick] [--rounds N] [--only steady,bulk,churn,idle] [--no-strace] [--workers N]
(other benchmarks: cargo run --release -p kq-bench --bin reactor | --bin runtime)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if matches!(cmd.as_str(), "-h" | "--help" | "help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    run(cmd, &args[1..])
}

#[cfg(target_os = "linux")]
fn run(cmd: &str, rest: &[String]) -> ExitCode {
    match cmd {
        "c10k" => c10k::bench::main(rest),
        "c10k-server" => c10k::server_main(rest),
        "c10k-client" => c10k::client::main(rest),
        _ => {
            eprintln!("kq-bench: unknown command {cmd}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn run(cmd: &str, _rest: &[String]) -> ExitCode {
    eprintln!("kq-bench {cmd}: the c10k benchmark reads /proc and uses epoll: Linux only");
    ExitCode::FAILURE
}
