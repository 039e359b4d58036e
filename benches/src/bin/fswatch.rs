//! The file watcher's benchmark: `kq::fs_watch` against notify 8 (the ecosystem's watcher,
//! inotify backend) on the same workloads, in one run, in fresh directories under
//! `std::env::temp_dir()`.
//!
//! 1. **burst**: 10,000 files created in one watched directory as fast as possible; files
//!    reported (a `Create`, or for kq the re-scan after a `Rescan`) and the time from the
//!    first creation to the last report, of which creating the files (the filesystem's
//!    share, which varies a lot on a shared disk), and the rest: how long after the last
//!    file the watcher reported it. kq's watcher runs in a task of a one-worker
//!    multi-thread runtime while the main thread creates the files, as notify's thread
//!    reads while they are created; beside them, the same creation with no watcher.
//! 2. **nested race** (notify issue #727), 20 tries: `mkdir -p aN/b/c/d`, then create
//!    `aN/b/c/d/f` at once; a try succeeds when the file's creation is reported within 2 s.
//! 3. **latency**: append to a watched file, wait for the event; 500 samples, p50 and p99 of
//!    write → event delivered to the consumer. kq: the watcher awaited on a current-thread
//!    runtime in the writing thread; notify: `recv` on its channel in the writing thread.
//!    Twice: a *busy* consumer asks for the next event right after the last (kq then reads
//!    its kqueue directly, without a wake-up), an *idle* one has waited 1 ms for nothing
//!    first (kq's watcher then sleeps in the runtime and is woken through the kqueue's
//!    descriptor; notify's thread sleeps in the kernel either way).
//! 4. **setup**: a recursive watch of a tree of 100,000 files in 1,000 directories (built
//!    once): the time of `watch` (both return once every watch is in place), descriptors
//!    opened and inotify watches held; beside it, a plain recursive `read_dir` walk.
//! 5. **atomic save**: a file saved as VS Code and `sed -i` do (temporary file renamed over
//!    it) and as vim does (original renamed away, new file written, backup removed), through
//!    `Watcher::debounced(50 ms)` and notify-debouncer-full (50 ms): the events delivered.
//!
//! Burst, setup and latency run in pairs (3; the burst alternates which goes first) and
//! report medians and the median of the per-pair ratios kq/notify. The exit status is 0 whether or not the bars are
//! met; it is non-zero only on an error.
//!
//! Run it with `cargo run --release -p kq-bench --bin fswatch` (`--quick`: 1 pair, 200
//! latency samples, a 20,000-file tree).

use kq::fs_watch::{EventKind, RecursiveMode, Watcher};
use notify::{RecursiveMode as NRecursive, Watcher as _};
use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let quick = std::env::args().any(|a| a == "--quick");
    let pairs = if quick { 1 } else { 3 };
    let base = std::env::temp_dir().join(format!("kq-bench-fswatch-{}", std::process::id()));
    fs::create_dir_all(&base)?;
    let res = run(&base, quick, pairs);
    let _ = fs::remove_dir_all(&base);
    res
}

fn run(base: &Path, quick: bool, pairs: usize) -> Result<(), BoxError> {
    let mt = kq::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let rt = kq::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!("kq::fs_watch vs notify 8 (inotify), {pairs} pair(s)\n");

    // 1. Burst, in pairs whose order alternates (the disk's state favours neither).
    let n = 10_000;
    let (mut kt, mut nt, mut kc, mut nc, mut ratio) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut kcr, mut ncr, mut bc) = (vec![], vec![], vec![]);
    let (mut kq_min, mut nt_min) = (n, n);
    for i in 0..pairs {
        let run_kq = || -> Result<(usize, Duration, Duration), BoxError> {
            settle();
            kq_burst(&mt, &fresh(base, &format!("burst-kq{i}"))?, n)
        };
        let run_notify = || -> Result<(usize, Duration, Duration), BoxError> {
            settle();
            notify_burst(&fresh(base, &format!("burst-notify{i}"))?, n)
        };
        let (k, m) = if i % 2 == 0 {
            let k = run_kq()?;
            (k, run_notify()?)
        } else {
            let m = run_notify()?;
            (run_kq()?, m)
        };
        settle();
        let bare = {
            let dir = fresh(base, &format!("burst-bare{i}"))?;
            let t = Instant::now();
            for f in 0..n {
                fs::File::create(dir.join(format!("f{f}")))?;
            }
            t.elapsed()
        };
        bc.push(bare);
        kq_min = kq_min.min(k.0);
        nt_min = nt_min.min(m.0);
        kt.push(k.1);
        nt.push(m.1);
        kcr.push(k.2);
        ncr.push(m.2);
        kc.push(k.1.saturating_sub(k.2));
        nc.push(m.1.saturating_sub(m.2));
        ratio.push(secs(k.1) / secs(m.1));
    }
    row(
        "burst: files reported (worst run)",
        format!("{kq_min}/{n}"),
        format!("{nt_min}/{n}"),
        None,
    );
    row(
        "burst: time to last report",
        ms(median_d(&mut kt)),
        ms(median_d(&mut nt)),
        Some(median_f(&mut ratio)),
    );
    row(
        "burst: creating the files",
        ms(median_d(&mut kcr)),
        ms(median_d(&mut ncr)),
        None,
    );
    row(
        "burst: creating them, unwatched",
        ms(median_d(&mut bc)),
        String::new(),
        None,
    );
    row(
        "burst: last report after last file",
        ms(median_d(&mut kc)),
        ms(median_d(&mut nc)),
        None,
    );

    // 2. Nested race.
    let kq_ok = rt.block_on(kq_nested(&fresh(base, "nested-kq")?))?;
    let nt_ok = notify_nested(&fresh(base, "nested-notify")?)?;
    row(
        "nested race: file reported",
        format!("{kq_ok}/20"),
        format!("{nt_ok}/20"),
        None,
    );

    // 3. Latency: a consumer that keeps up (busy), and one that waits in between (idle).
    let samples = if quick { 200 } else { 500 };
    for idle in [false, true] {
        let (mut k50, mut k99, mut n50, mut n99, mut r50) =
            (vec![], vec![], vec![], vec![], vec![]);
        for i in 0..pairs {
            let k = rt.block_on(kq_latency(
                &fresh(base, &format!("lat-kq{i}"))?,
                samples,
                idle,
            ))?;
            let m = notify_latency(&fresh(base, &format!("lat-notify{i}"))?, samples, idle)?;
            let (kp, np) = (percentiles(k), percentiles(m));
            k50.push(kp.0);
            k99.push(kp.1);
            n50.push(np.0);
            n99.push(np.1);
            r50.push(secs(kp.0) / secs(np.0));
        }
        let which = if idle { "idle" } else { "busy" };
        row(
            &format!("latency p50 ({which} consumer)"),
            us(median_d(&mut k50)),
            us(median_d(&mut n50)),
            Some(median_f(&mut r50)),
        );
        row(
            &format!("latency p99 ({which} consumer)"),
            us(median_d(&mut k99)),
            us(median_d(&mut n99)),
            None,
        );
    }

    // 4. Setup.
    let (dirs, per) = if quick { (200, 100) } else { (1_000, 100) };
    let tree = base.join("tree");
    build_tree(&tree, dirs, per)?;
    let walk = {
        let t = Instant::now();
        let count = walk_count(&tree)?;
        assert_eq!(count, dirs * per + dirs);
        t.elapsed()
    };
    let (mut kt, mut nt, mut ratio) = (vec![], vec![], vec![]);
    let (mut kfd, mut kw, mut nfd, mut nw) = (0, 0, 0, 0);
    for _ in 0..pairs {
        settle();
        let (t, fds, w) = rt.block_on(async { kq_setup(&tree) })?;
        settle();
        let (t2, fds2, w2) = notify_setup(&tree)?;
        kt.push(t);
        nt.push(t2);
        ratio.push(secs(t) / secs(t2));
        (kfd, kw, nfd, nw) = (fds, w, fds2, w2);
    }
    let label = format!("setup: {} files in {dirs} dirs", dirs * per);
    row(
        &label,
        ms(median_d(&mut kt)),
        ms(median_d(&mut nt)),
        Some(median_f(&mut ratio)),
    );
    row("setup: plain read_dir walk", ms(walk), String::new(), None);
    row(
        "setup: descriptors opened",
        kfd.to_string(),
        nfd.to_string(),
        None,
    );
    row(
        "setup: inotify watches",
        kw.to_string(),
        nw.to_string(),
        None,
    );

    // 5. Atomic saves.
    for style in [Save::RenameOver, Save::Vim] {
        let k = rt.block_on(kq_save(&fresh(base, "save-kq")?, style))?;
        let m = notify_save(&fresh(base, "save-notify")?, style)?;
        row(
            &format!("atomic save ({}): events", style.name()),
            format!("{} {k:?}", k.len()),
            format!("{} {m:?}", m.len()),
            None,
        );
    }
    Ok(())
}

fn row(name: &str, kq: String, notify: String, ratio: Option<f64>) {
    let ratio = ratio.map_or(String::new(), |r| format!("{r:.2}"));
    println!("{name:<34} kq {kq:<24} notify {notify:<24} {ratio}");
}

fn fresh(base: &Path, name: &str) -> std::io::Result<PathBuf> {
    let p = base.join(name);
    let _ = fs::remove_dir_all(&p);
    fs::create_dir_all(&p)?;
    Ok(p)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64().max(1e-9)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn median_d(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn median_f(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[(v.len() * 99 / 100).min(v.len() - 1)])
}

/// Waits (at most 3 s) until the descriptor and watch counts stop changing: notify's
/// watcher closes its descriptors on its own thread after being dropped.
fn settle() {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut last = (open_fds(), inotify_watches());
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let now = (open_fds(), inotify_watches());
        if now == last {
            return;
        }
        last = now;
    }
}

fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// inotify watches held by the whole process (every inotify descriptor's `fdinfo`).
fn inotify_watches() -> usize {
    let Ok(dir) = fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    let mut n = 0;
    for ent in dir.flatten() {
        let is_inotify =
            fs::read_link(ent.path()).is_ok_and(|l| l.to_string_lossy().contains("inotify"));
        if is_inotify {
            let info = fs::read_to_string(format!(
                "/proc/self/fdinfo/{}",
                ent.file_name().to_string_lossy()
            ))
            .unwrap_or_default();
            n += info
                .lines()
                .filter(|l| l.starts_with("inotify wd:"))
                .count();
        }
    }
    n
}

// ---- kq ----

async fn kq_next(w: &mut Watcher, within: Duration) -> Option<kq::fs_watch::Event> {
    match kq::time::timeout(within, w.next()).await {
        Ok(Some(Ok(ev))) => Some(ev),
        _ => None,
    }
}

/// The watcher runs in a task of a multi-thread runtime while this thread creates the
/// files, as notify's thread reads while they are created.
fn kq_burst(
    rt: &kq::runtime::Runtime,
    dir: &Path,
    n: usize,
) -> Result<(usize, Duration, Duration), BoxError> {
    let mut w = rt.block_on(async { Watcher::new() })?;
    w.watch(dir, RecursiveMode::Recursive)?;
    let t = Instant::now();
    let collector = rt.spawn(async move {
        let mut seen = HashSet::new();
        let mut last = t.elapsed();
        let _ = kq::time::timeout(Duration::from_secs(30), async {
            while seen.len() < n {
                let Some(Ok(ev)) = w.next().await else {
                    break;
                };
                if let EventKind::Create(_) = ev.kind {
                    seen.insert(ev.paths[0].clone());
                    last = t.elapsed();
                }
            }
        })
        .await;
        (seen.len(), last)
    });
    for i in 0..n {
        fs::File::create(dir.join(format!("f{i}")))?;
    }
    let created = t.elapsed();
    let (seen, last) = rt.block_on(collector)?;
    Ok((seen, last, created))
}

async fn kq_nested(dir: &Path) -> Result<usize, BoxError> {
    let mut w = Watcher::new()?;
    w.watch(dir, RecursiveMode::Recursive)?;
    let mut ok = 0;
    for i in 0..20 {
        let deep = dir.join(format!("a{i}/b/c/d"));
        fs::create_dir_all(&deep)?;
        let f = deep.join("f");
        fs::File::create(&f)?;
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            let Some(ev) = kq_next(&mut w, Duration::from_millis(100)).await else {
                continue;
            };
            if matches!(ev.kind, EventKind::Create(_)) && ev.paths[0] == f {
                ok += 1;
                break;
            }
        }
    }
    Ok(ok)
}

async fn kq_latency(dir: &Path, samples: usize, idle: bool) -> Result<Vec<Duration>, BoxError> {
    let path = dir.join("f");
    let mut file = fs::File::create(&path)?;
    let mut w = Watcher::new()?;
    w.watch(dir, RecursiveMode::Recursive)?;
    let mut out = Vec::with_capacity(samples);
    kq::time::timeout(Duration::from_secs(60), async {
        for _ in 0..samples {
            if idle {
                // Let the watcher find the kqueue empty and wait through the runtime.
                let _ = kq::time::timeout(Duration::from_millis(1), w.next()).await;
            }
            let t = Instant::now();
            file.write_all(b"x")?;
            loop {
                let ev = w.next().await.ok_or("kq: the stream ended")??;
                if matches!(ev.kind, EventKind::Modify(_)) {
                    break;
                }
            }
            out.push(t.elapsed());
        }
        Ok::<(), BoxError>(())
    })
    .await
    .map_err(|_| "kq: no event for a write within 60 s")??;
    Ok(out)
}

fn kq_setup(tree: &Path) -> Result<(Duration, usize, usize), BoxError> {
    let (fds, watches) = (open_fds(), inotify_watches());
    let t = Instant::now();
    let mut w = Watcher::new()?;
    w.watch(tree, RecursiveMode::Recursive)?;
    let el = t.elapsed();
    let r = (el, open_fds() - fds, inotify_watches() - watches);
    drop(w);
    Ok(r)
}

async fn kq_save(dir: &Path, style: Save) -> Result<Vec<String>, BoxError> {
    let f = dir.join("file.txt");
    fs::write(&f, b"old")?;
    let w = {
        let mut w = Watcher::new()?;
        w.watch(dir, RecursiveMode::Recursive)?;
        w
    };
    let mut d = w.debounced(Duration::from_millis(50));
    style.save(&f)?;
    let mut out = Vec::new();
    while let Ok(Some(Ok(ev))) = kq::time::timeout(Duration::from_millis(400), d.next()).await {
        out.push(format!("{:?}", ev.kind));
    }
    Ok(out)
}

// ---- notify ----

fn notify_watcher() -> Result<(notify::RecommendedWatcher, mpsc::Receiver<notify::Event>), BoxError>
{
    let (tx, rx) = mpsc::channel();
    let w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            let _ = tx.send(ev);
        }
    })?;
    Ok((w, rx))
}

fn notify_burst(dir: &Path, n: usize) -> Result<(usize, Duration, Duration), BoxError> {
    let (mut w, rx) = notify_watcher()?;
    w.watch(dir, NRecursive::Recursive)?;
    let t = Instant::now();
    for i in 0..n {
        fs::File::create(dir.join(format!("f{i}")))?;
    }
    let created = t.elapsed();
    let mut seen = HashSet::new();
    let mut last = t.elapsed();
    while seen.len() < n {
        let Ok(ev) = rx.recv_timeout(Duration::from_secs(2)) else {
            break;
        };
        if ev.kind.is_create() {
            seen.extend(ev.paths);
            last = t.elapsed();
        }
    }
    Ok((seen.len(), last, created))
}

fn notify_nested(dir: &Path) -> Result<usize, BoxError> {
    let (mut w, rx) = notify_watcher()?;
    w.watch(dir, NRecursive::Recursive)?;
    let mut ok = 0;
    for i in 0..20 {
        let deep = dir.join(format!("a{i}/b/c/d"));
        fs::create_dir_all(&deep)?;
        let f = deep.join("f");
        fs::File::create(&f)?;
        let deadline = Instant::now() + Duration::from_secs(2);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(ev) = rx.recv_timeout(left) else {
                break;
            };
            if ev.kind.is_create() && ev.paths.contains(&f) {
                ok += 1;
                break;
            }
        }
    }
    Ok(ok)
}

fn notify_latency(dir: &Path, samples: usize, idle: bool) -> Result<Vec<Duration>, BoxError> {
    let path = dir.join("f");
    let mut file = fs::File::create(&path)?;
    let (mut w, rx) = notify_watcher()?;
    w.watch(dir, NRecursive::Recursive)?;
    let mut out = Vec::with_capacity(samples);
    for _ in 0..samples {
        if idle {
            // The same pause as kq's: notify's thread waits in the kernel meanwhile.
            let _ = rx.recv_timeout(Duration::from_millis(1));
        }
        let t = Instant::now();
        file.write_all(b"x")?;
        loop {
            let ev = rx.recv_timeout(Duration::from_secs(2))?;
            if ev.kind.is_modify() {
                break;
            }
        }
        out.push(t.elapsed());
    }
    Ok(out)
}

fn notify_setup(tree: &Path) -> Result<(Duration, usize, usize), BoxError> {
    let (fds, watches) = (open_fds(), inotify_watches());
    let t = Instant::now();
    let (mut w, _rx) = notify_watcher()?;
    w.watch(tree, NRecursive::Recursive)?;
    let el = t.elapsed();
    let r = (el, open_fds() - fds, inotify_watches() - watches);
    drop(w);
    Ok(r)
}

fn notify_save(dir: &Path, style: Save) -> Result<Vec<String>, BoxError> {
    let f = dir.join("file.txt");
    fs::write(&f, b"old")?;
    let (tx, rx) = mpsc::channel();
    let mut d = notify_debouncer_full::new_debouncer(
        Duration::from_millis(50),
        None,
        move |res: notify_debouncer_full::DebounceEventResult| {
            if let Ok(evs) = res {
                for ev in evs {
                    let _ = tx.send(ev);
                }
            }
        },
    )?;
    d.watch(dir, NRecursive::Recursive)?;
    style.save(&f)?;
    let mut out = Vec::new();
    while let Ok(ev) = rx.recv_timeout(Duration::from_millis(400)) {
        out.push(format!("{:?}", ev.event.kind));
    }
    Ok(out)
}

// ---- workloads ----

#[derive(Debug, Clone, Copy)]
enum Save {
    /// Write a temporary file, rename it over the original (VS Code, `sed -i`).
    RenameOver,
    /// Rename the original to `file~`, write a new file, remove the backup (vim).
    Vim,
}

impl Save {
    fn name(self) -> &'static str {
        match self {
            Save::RenameOver => "temp + rename",
            Save::Vim => "vim",
        }
    }

    fn save(self, f: &Path) -> std::io::Result<()> {
        match self {
            Save::RenameOver => {
                let tmp = f.with_extension("tmp-save");
                fs::write(&tmp, b"new")?;
                fs::rename(&tmp, f)
            }
            Save::Vim => {
                let backup = f.with_extension("txt~");
                fs::rename(f, &backup)?;
                fs::write(f, b"new")?;
                fs::remove_file(&backup)
            }
        }
    }
}

fn build_tree(root: &Path, dirs: usize, per: usize) -> std::io::Result<()> {
    for d in 0..dirs {
        // Ten top-level directories of `dirs / 10` each: a little depth.
        let dir = root.join(format!("t{}", d % 10)).join(format!("d{d}"));
        fs::create_dir_all(&dir)?;
        for f in 0..per {
            fs::File::create(dir.join(format!("f{f}")))?;
        }
    }
    Ok(())
}

fn walk_count(root: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for ent in fs::read_dir(&dir)? {
            let ent = ent?;
            n += 1;
            if ent.file_type()?.is_dir() {
                stack.push(ent.path());
            }
        }
    }
    // The ten top-level directories are not among the `dirs` counted by the caller.
    Ok(n - 10)
}
