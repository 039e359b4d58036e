//! A shell pipeline, `ls -R DIR | grep PATTERN | wc -l`, whose pipes run through this
//! process's async stdio: `ls`'s output is copied into `grep` by one task, and `grep`'s
//! output is read line by line — counted and forwarded to `wc` — while all three run.
//!
//! Prints `kq counted <n>` (the lines that passed between grep and wc, counted here) and
//! `wc counted <n>`; exits with status 1 if they differ.
//!
//! Run with: `cargo run --release --example pipeline -- /usr '\.so'` (the defaults).

use kq::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use kq::process::Command;
use std::io;
use std::process::{ExitCode, Stdio};

#[kq::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "/usr".into());
    let pattern = args.next().unwrap_or_else(|| r"\.so".into());
    match run(&dir, &pattern).await {
        Ok((ours, wc)) => {
            println!("kq counted {ours}");
            println!("wc counted {wc}");
            if ours == wc {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("pipeline: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(dir: &str, pattern: &str) -> io::Result<(u64, u64)> {
    let mut ls = Command::new("ls")
        .args(["-R", dir])
        .stdout(Stdio::piped())
        // Unreadable directories are not the pipeline's business.
        .stderr(Stdio::null())
        .spawn()?;
    let mut grep = Command::new("grep")
        .arg(pattern)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut wc = Command::new("wc")
        .arg("-l")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;

    // ls -> grep, in a task of its own.
    let mut ls_out = ls.stdout.take().expect("piped");
    let mut grep_in = grep.stdin.take().expect("piped");
    // grep_in is dropped when the copy ends, which closes grep's input.
    let copy = kq::spawn(async move { kq::io::copy(&mut ls_out, &mut grep_in).await });

    // grep -> (count) -> wc, line by line while they run.
    let mut lines = BufReader::new(grep.stdout.take().expect("piped")).lines();
    let mut wc_in = wc.stdin.take().expect("piped");
    let mut ours = 0u64;
    while let Some(line) = lines.next_line().await? {
        ours += 1;
        wc_in.write_all(line.as_bytes()).await?;
        wc_in.write_all(b"\n").await?;
    }
    drop(wc_in);

    let mut wc_out = String::new();
    wc.stdout
        .take()
        .expect("piped")
        .read_to_string(&mut wc_out)
        .await?;
    copy.await.map_err(io::Error::other)??;
    // ls may fail on some directories and grep exits 1 when nothing matched: the counts
    // are the pipeline's result either way.
    ls.wait().await?;
    grep.wait().await?;
    wc.wait().await?;
    let wc_count = wc_out
        .trim()
        .parse()
        .map_err(|e| io::Error::other(format!("wc printed {wc_out:?}: {e}")))?;
    Ok((ours, wc_count))
}
