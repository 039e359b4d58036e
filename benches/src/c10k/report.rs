//! The c10k results: per-run figures, the side-by-side table (medians and per-round
//! ratios), the JSON file and the SVG chart (throughput bars and latency CDFs, written as
//! plain SVG text).

use super::bench::Outcome;
use super::hist::Histogram;
use super::json::Json;
use super::{Load, Server};
use kq_bench::stats::{Ratio, Table, fmt_ratio, group, median};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The figures of one run (one server, one round of one row).
#[derive(Debug, Clone, Default)]
pub(crate) struct RunFigures {
    pub(crate) rps: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) p999_us: f64,
    /// Server CPU seconds (utime + stime) per million round trips.
    pub(crate) cpu_per_m: f64,
    /// The same from the threads' schedstat (ns resolution).
    pub(crate) sched_per_m: f64,
    pub(crate) hwm_mib: f64,
    /// (peak RSS − RSS before any connection) / connections held at the peak.
    pub(crate) rss_per_conn_kib: f64,
    pub(crate) round_trips: u64,
    pub(crate) errors: u64,
    pub(crate) notes: Vec<String>,
    pub(crate) client: Option<Json>,
    pub(crate) hist: Option<Histogram>,
    pub(crate) elapsed_s: f64,
}

fn field(j: &Json, k: &str) -> f64 {
    j.get(k).and_then(Json::as_f64).unwrap_or(f64::NAN)
}

impl RunFigures {
    pub(crate) fn from_outcome(load: &Load, out: Outcome, elapsed_s: f64) -> RunFigures {
        let mut f = RunFigures {
            rps: f64::NAN,
            p50_us: f64::NAN,
            p99_us: f64::NAN,
            p999_us: f64::NAN,
            cpu_per_m: f64::NAN,
            sched_per_m: f64::NAN,
            hwm_mib: f64::NAN,
            rss_per_conn_kib: f64::NAN,
            notes: out.notes,
            elapsed_s,
            ..RunFigures::default()
        };
        // Problems outside the client's counts (crash, timeout, no result) are errors too.
        let outside = f.notes.len() as u64;
        if let Some(j) = &out.client {
            let trips = field(j, "round_trips");
            f.round_trips = trips as u64;
            f.rps = trips / field(j, "wall_s");
            f.p50_us = field(j, "p50_ns") / 1e3;
            f.p99_us = field(j, "p99_ns") / 1e3;
            f.p999_us = field(j, "p999_ns") / 1e3;
            f.cpu_per_m = field(j, "server_cpu_s") / trips * 1e6;
            f.sched_per_m = field(j, "server_sched_s") / trips * 1e6;
            let hwm = field(j, "server_hwm_kb");
            f.hwm_mib = hwm / 1024.0;
            let held = field(j, "held").max(1.0);
            f.rss_per_conn_kib = (hwm - field(j, "server_rss_base_kb")) / held;
            f.errors = j.get("errors").and_then(Json::as_u64).unwrap_or(1);
            if let Some(first) = j.get("first_errors").and_then(Json::as_arr) {
                f.notes
                    .extend(first.iter().filter_map(Json::as_str).map(str::to_owned));
            }
            if f.errors == 0 && f.round_trips != load.round_trips() {
                f.notes.push(format!(
                    "{} round trips of {} and no error counted",
                    f.round_trips,
                    load.round_trips()
                ));
                f.errors = 1;
            }
            f.hist = j.get("hist").and_then(Histogram::from_json);
        }
        f.errors += outside;
        if out.client.is_none() && f.errors == 0 {
            f.errors = 1;
        }
        f.client = out.client;
        f
    }

    /// One progress line.
    pub(crate) fn summary(&self) -> String {
        let mut s = format!(
            "{} round trips/s, p50 {} µs, p99 {} µs, p99.9 {} µs, CPU {} s/M, peak RSS {} MiB, {} error(s) ({:.1} s)",
            fmt_val(self.rps, 0),
            fmt_val(self.p50_us, 1),
            fmt_val(self.p99_us, 1),
            fmt_val(self.p999_us, 1),
            fmt_val(self.cpu_per_m, 2),
            fmt_val(self.hwm_mib, 1),
            self.errors,
            self.elapsed_s
        );
        for n in self.notes.iter().take(5) {
            let _ = write!(s, "\n      ! {n}");
        }
        s
    }
}

/// A value with `decimals` places below 1,000 (fewer as it grows), grouped above; "-" if
/// not finite.
pub(crate) fn fmt_val(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "-".to_owned();
    }
    if v >= 1000.0 || decimals == 0 {
        return group(v.round().max(0.0) as u64);
    }
    let d = if v >= 100.0 {
        decimals.min(1)
    } else {
        decimals
    };
    format!("{v:.d$}")
}

/// The strace pass of one server and row.
#[derive(Debug, Clone)]
pub(crate) enum Strace {
    /// Not run, and why.
    NotRun(String),
    /// Run, without a usable summary.
    Failed(String),
    Done {
        /// Calls in all.
        total: u64,
        /// Round trips of the pass.
        round_trips: u64,
        /// Calls by syscall, most first.
        calls: Vec<(String, u64)>,
        file: PathBuf,
    },
}

impl Default for Strace {
    fn default() -> Strace {
        Strace::NotRun(String::new())
    }
}

/// The `total` and per-syscall call counts of an `strace -c` summary.
pub(crate) fn parse_strace(text: &str) -> Option<(u64, Vec<(String, u64)>)> {
    let mut total = None;
    let mut calls = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors], syscall
        if f.len() < 5 || f[0].parse::<f64>().is_err() {
            continue;
        }
        let (Some(name), Ok(n)) = (f.last(), f[3].parse::<u64>()) else {
            continue;
        };
        if *name == "total" {
            total = Some(n);
        } else {
            calls.push(((*name).to_owned(), n));
        }
    }
    calls.sort_by_key(|c| std::cmp::Reverse(c.1));
    total.map(|t| (t, calls))
}

impl Strace {
    pub(crate) fn from_outcome(out: &Outcome, file: &Path) -> Strace {
        let trips = out
            .client
            .as_ref()
            .and_then(|j| j.get("round_trips"))
            .and_then(Json::as_u64)
            .unwrap_or(0);
        match &out.strace {
            None => Strace::Failed("no strace summary".to_owned()),
            Some(Err(e)) => Strace::Failed(e.clone()),
            Some(Ok(_)) if trips == 0 => Strace::Failed("the pass made no round trip".to_owned()),
            Some(Ok(text)) => match parse_strace(text) {
                Some((total, calls)) => Strace::Done {
                    total,
                    round_trips: trips,
                    calls,
                    file: file.to_path_buf(),
                },
                None => Strace::Failed(format!("no total in {}", file.display())),
            },
        }
    }

    /// Syscalls per round trip.
    pub(crate) fn per_trip(&self) -> Option<f64> {
        match self {
            Strace::Done {
                total, round_trips, ..
            } => Some(*total as f64 / *round_trips as f64),
            _ => None,
        }
    }

    /// The largest shares, as `read 1.00, write 1.00, …` per round trip.
    pub(crate) fn breakdown(&self, top: usize) -> String {
        match self {
            Strace::Done {
                calls, round_trips, ..
            } => calls
                .iter()
                .take(top)
                .map(|(name, n)| format!("{name} {:.2}", *n as f64 / *round_trips as f64))
                .collect::<Vec<_>>()
                .join(", "),
            Strace::NotRun(why) | Strace::Failed(why) => format!("n/a: {why}"),
        }
    }

    pub(crate) fn summary(&self, fig: &RunFigures) -> String {
        let mut s = match self.per_trip() {
            Some(p) => format!("{p:.2} syscalls per round trip ({})", self.breakdown(4)),
            None => self.breakdown(0),
        };
        if fig.errors > 0 {
            let _ = write!(s, "; {} error(s)", fig.errors);
            for n in fig.notes.iter().take(5) {
                let _ = write!(s, "\n      ! {n}");
            }
        }
        s
    }
}

/// One row: its load, each server's runs (in round order) and strace pass.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) load: Load,
    pub(crate) runs: [Vec<RunFigures>; 3],
    pub(crate) strace: [Strace; 3],
    /// Each server's latencies over all its runs.
    pub(crate) hist: [Histogram; 3],
}

impl Row {
    pub(crate) fn new(load: Load, runs: [Vec<RunFigures>; 3], strace: [Strace; 3]) -> Row {
        let hist = std::array::from_fn(|i| {
            let mut h = Histogram::new();
            for r in &runs[i] {
                if let Some(rh) = &r.hist {
                    h.merge(rh);
                }
            }
            h
        });
        Row {
            load,
            runs,
            strace,
            hist,
        }
    }

    fn values(&self, i: usize, f: fn(&RunFigures) -> f64) -> Vec<f64> {
        self.runs[i].iter().map(f).collect()
    }

    fn median(&self, i: usize, f: fn(&RunFigures) -> f64) -> f64 {
        median(&self.values(i, f))
    }

    fn ratio(&self, a: usize, b: usize, f: fn(&RunFigures) -> f64) -> Ratio {
        Ratio::of(&self.values(a, f), &self.values(b, f))
    }
}

/// The figures of the table: name, JSON key, getter, decimals.
type Figure = (&'static str, &'static str, fn(&RunFigures) -> f64, usize);

const FIGURES: [Figure; 7] = [
    ("round trips/s", "round_trips_per_s", |f| f.rps, 0),
    ("p50 latency (µs)", "p50_us", |f| f.p50_us, 1),
    ("p99 latency (µs)", "p99_us", |f| f.p99_us, 1),
    ("p99.9 latency (µs)", "p999_us", |f| f.p999_us, 1),
    (
        "server CPU s / M round trips",
        "server_cpu_s_per_million",
        |f| f.cpu_per_m,
        2,
    ),
    (
        "server peak RSS (MiB)",
        "server_peak_rss_mib",
        |f| f.hwm_mib,
        1,
    ),
    (
        "server RSS / connection (KiB)",
        "server_rss_per_conn_kib",
        |f| f.rss_per_conn_kib,
        2,
    ),
];

fn show_ratio(r: &Ratio, rounds: usize) -> String {
    if !r.median.is_finite() {
        "-".to_owned()
    } else if rounds > 1 {
        r.show()
    } else {
        fmt_ratio(r.median)
    }
}

/// Prints the side-by-side table: medians per server, and the medians (ranges) of the
/// per-round ratios.
pub(crate) fn print_table(rows: &[Row]) {
    let mut t = Table::new(&[
        "row", "figure", "kq", "tokio", "limit", "kq/tokio", "kq/limit",
    ]);
    for (n, row) in rows.iter().enumerate() {
        let label = format!("{} {}", n + 1, row.load.workload.name());
        let rounds = row.runs[0].len();
        for (k, &(name, _, get, dec)) in FIGURES.iter().enumerate() {
            let mut cells = vec![
                if k == 0 { label.clone() } else { String::new() },
                name.to_owned(),
            ];
            cells.extend((0..3).map(|i| fmt_val(row.median(i, get), dec)));
            cells.push(show_ratio(&row.ratio(0, 1, get), rounds));
            cells.push(show_ratio(&row.ratio(0, 2, get), rounds));
            t.row(cells);
        }
        let sys: Vec<Option<f64>> = row.strace.iter().map(Strace::per_trip).collect();
        let mut cells = vec![String::new(), "syscalls / round trip".to_owned()];
        cells.extend(
            sys.iter()
                .map(|s| s.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}"))),
        );
        for b in [1, 2] {
            cells.push(match (sys[0], sys[b]) {
                (Some(a), Some(b)) if b > 0.0 => fmt_ratio(a / b),
                _ => "n/a".to_owned(),
            });
        }
        t.row(cells);
        let errors: Vec<u64> = (0..3)
            .map(|i| row.runs[i].iter().map(|r| r.errors).sum())
            .collect();
        if errors.iter().any(|&e| e > 0) {
            let mut cells = vec![String::new(), "errors (all runs)".to_owned()];
            cells.extend(errors.iter().map(|e| group(*e)));
            t.row(cells);
        }
    }
    println!(
        "Medians of alternating runs; ratios: median (min-max) of the per-round ratios; syscalls: one strace -c -f pass."
    );
    t.print();
    for (n, row) in rows.iter().enumerate() {
        println!(
            "  row {} {}: {}",
            n + 1,
            row.load.workload.name(),
            row.load.describe()
        );
    }
}

/// Prints the syscalls of each strace pass by call.
pub(crate) fn print_syscalls(rows: &[Row]) {
    println!("Syscalls per round trip by call (strace pass):");
    println!(
        "  (strace slows the server many times over: work that grows with the events pending per wait counts more here than at full speed)"
    );
    for row in rows {
        for (i, s) in Server::ALL.into_iter().enumerate() {
            let head = match row.strace[i].per_trip() {
                Some(p) => format!("{p:.2}: "),
                None => String::new(),
            };
            println!(
                "  {:>6} {:>5}: {head}{}",
                row.load.workload.name(),
                s.name(),
                row.strace[i].breakdown(8)
            );
        }
    }
}

fn figures_json(f: &RunFigures) -> Json {
    let mut pairs: Vec<(&str, Json)> = FIGURES
        .iter()
        .map(|&(_, key, get, _)| (key, Json::num(get(f))))
        .collect();
    pairs.extend([
        ("server_sched_s_per_million", Json::num(f.sched_per_m)),
        ("round_trips", Json::Num(f.round_trips as f64)),
        ("errors", Json::Num(f.errors as f64)),
        (
            "notes",
            Json::Arr(f.notes.iter().map(|n| Json::str(n.as_str())).collect()),
        ),
        ("elapsed_s", Json::num(f.elapsed_s)),
        ("client", f.client.clone().unwrap_or(Json::Null)),
    ]);
    Json::obj(pairs)
}

fn ratio_json(r: &Ratio) -> Json {
    Json::obj(vec![
        ("median", Json::num(r.median)),
        ("min", Json::num(r.min)),
        ("max", Json::num(r.max)),
    ])
}

/// The results file: `meta` and, per row, the load, each server's medians, runs, strace
/// pass and merged latency histogram, and the ratios.
pub(crate) fn to_json(meta: Json, rows: &[Row]) -> Json {
    let rows = rows
        .iter()
        .map(|row| {
            let mut load = row.load.to_json_pairs();
            load.push(("held", Json::Num(row.load.held() as f64)));
            let servers = Server::ALL
                .into_iter()
                .enumerate()
                .map(|(i, s)| {
                    let medians = FIGURES
                        .iter()
                        .map(|&(_, key, get, _)| (key, Json::num(row.median(i, get))))
                        .chain([(
                            "server_sched_s_per_million",
                            Json::num(row.median(i, |f| f.sched_per_m)),
                        )])
                        .chain([(
                            "syscalls_per_round_trip",
                            row.strace[i].per_trip().map_or(Json::Null, Json::num),
                        )])
                        .collect();
                    let strace = match &row.strace[i] {
                        Strace::Done {
                            total,
                            round_trips,
                            calls,
                            file,
                        } => Json::obj(vec![
                            ("total_calls", Json::Num(*total as f64)),
                            ("round_trips", Json::Num(*round_trips as f64)),
                            (
                                "calls",
                                Json::Obj(
                                    calls
                                        .iter()
                                        .map(|(k, v)| (k.clone(), Json::Num(*v as f64)))
                                        .collect(),
                                ),
                            ),
                            ("file", Json::str(file.display().to_string())),
                        ]),
                        Strace::NotRun(why) | Strace::Failed(why) => {
                            Json::obj(vec![("n/a", Json::str(why.as_str()))])
                        }
                    };
                    let server = Json::obj(vec![
                        ("median", Json::obj(medians)),
                        (
                            "runs",
                            Json::Arr(row.runs[i].iter().map(figures_json).collect()),
                        ),
                        ("strace", strace),
                        ("latency_histogram_ns", row.hist[i].to_json()),
                    ]);
                    (s.name().to_owned(), server)
                })
                .collect();
            let ratios = |b: usize| {
                Json::Obj(
                    FIGURES
                        .iter()
                        .map(|&(_, key, get, _)| {
                            (key.to_owned(), ratio_json(&row.ratio(0, b, get)))
                        })
                        .collect(),
                )
            };
            Json::obj(vec![
                ("workload", Json::str(row.load.workload.name())),
                ("description", Json::str(row.load.describe())),
                ("load", Json::obj(load)),
                ("servers", Json::Obj(servers)),
                (
                    "ratios",
                    Json::obj(vec![("kq/tokio", ratios(1)), ("kq/limit", ratios(2))]),
                ),
            ])
        })
        .collect();
    Json::obj(vec![("meta", meta), ("rows", Json::Arr(rows))])
}

const COLORS: [&str; 3] = ["#1f77b4", "#ff7f0e", "#2ca02c"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The chart: per row, the median round trips/s as bars (left) and the latency CDF of all
/// runs (right; x: latency, log scale; y: fraction of round trips at or below, on a
/// "nines" scale so that p99 and p99.9 are as visible as the median).
pub(crate) fn svg(rows: &[Row], mode: &str) -> String {
    const W: f64 = 980.0;
    const PANEL: f64 = 260.0;
    const TOP: f64 = 50.0;
    const NINES: f64 = 4.0;
    let h = TOP + PANEL * rows.len() as f64 + 20.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="20" y="24" font-size="16" font-weight="bold">c10k echo ({mode}): kq vs tokio vs the raw-epoll limit</text>"#
    );
    for (i, name) in ["kq", "tokio", "limit"].iter().enumerate() {
        let x = 560.0 + i as f64 * 90.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="13" width="14" height="14" fill="{}"/><text x="{}" y="25">{name}</text>"#,
            COLORS[i],
            x + 20.0
        );
    }
    for (n, row) in rows.iter().enumerate() {
        let y0 = TOP + PANEL * n as f64;
        let (px, pw, py, ph) = (70.0, 300.0, y0 + 30.0, PANEL - 80.0);
        let title = format!(
            "{} {}: {}",
            n + 1,
            row.load.workload.name(),
            row.load.describe()
        );
        let _ = writeln!(
            s,
            r#"<text x="20" y="{}" font-weight="bold">{}</text>"#,
            y0 + 16.0,
            esc(&title)
        );

        // Throughput bars.
        let rps: Vec<f64> = (0..3).map(|i| row.median(i, |f| f.rps)).collect();
        let max = rps
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max)
            .max(1.0)
            * 1.15;
        let _ = writeln!(
            s,
            r##"<line x1="{px}" y1="{}" x2="{}" y2="{}" stroke="#333"/><line x1="{px}" y1="{py}" x2="{px}" y2="{}" stroke="#333"/>"##,
            py + ph,
            px + pw,
            py + ph,
            py + ph
        );
        for k in 0..=4 {
            let v = max * k as f64 / 4.0;
            let y = py + ph - ph * k as f64 / 4.0;
            let _ = writeln!(
                s,
                r##"<text x="{}" y="{}" text-anchor="end" fill="#555">{}</text><line x1="{px}" y1="{y}" x2="{}" y2="{y}" stroke="#eee"/>"##,
                px - 4.0,
                y + 4.0,
                fmt_val(v, 0),
                px + pw
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">round trips/s (median)</text>"#,
            px - 55.0,
            py + ph / 2.0,
            px - 55.0,
            py + ph / 2.0
        );
        for (i, v) in rps.iter().enumerate() {
            let bw = pw / 3.0 * 0.6;
            let x = px + pw / 3.0 * (i as f64 + 0.2);
            let bh = if v.is_finite() { ph * v / max } else { 0.0 };
            let _ = writeln!(
                s,
                r#"<rect x="{x:.1}" y="{:.1}" width="{bw:.1}" height="{bh:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                py + ph - bh,
                COLORS[i],
                x + bw / 2.0,
                py + ph - bh - 4.0,
                fmt_val(*v, 0),
                x + bw / 2.0,
                py + ph + 15.0,
                Server::ALL[i].name()
            );
        }

        // Latency CDFs.
        let (cx, cw) = (520.0, 430.0);
        let cdfs: Vec<Vec<(u64, f64)>> = row.hist.iter().map(Histogram::cdf).collect();
        let lo = cdfs
            .iter()
            .filter_map(|c| c.first())
            .map(|p| p.0)
            .min()
            .unwrap_or(1_000)
            .max(1);
        let hi = cdfs
            .iter()
            .filter_map(|c| c.last())
            .map(|p| p.0)
            .max()
            .unwrap_or(1_000_000)
            .max(lo * 10);
        // Decades of µs around the data.
        let dlo = ((lo as f64 / 1e3).log10()).floor();
        let dhi = ((hi as f64 / 1e3).log10()).ceil().max(dlo + 1.0);
        let xof = |ns: u64| cx + cw * (((ns as f64 / 1e3).max(1e-3)).log10() - dlo) / (dhi - dlo);
        let yof = |f: f64| {
            let nines = if f >= 1.0 {
                NINES
            } else {
                (-(1.0 - f).log10()).min(NINES)
            };
            py + ph - ph * nines / NINES
        };
        let _ = writeln!(
            s,
            r##"<line x1="{cx}" y1="{}" x2="{}" y2="{}" stroke="#333"/><line x1="{cx}" y1="{py}" x2="{cx}" y2="{}" stroke="#333"/>"##,
            py + ph,
            cx + cw,
            py + ph,
            py + ph
        );
        let mut d = dlo;
        while d <= dhi {
            let x = cx + cw * (d - dlo) / (dhi - dlo);
            let us = 10f64.powf(d);
            let label = if us >= 1e6 {
                format!("{} s", us / 1e6)
            } else if us >= 1e3 {
                format!("{} ms", us / 1e3)
            } else {
                format!("{us} µs")
            };
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{py}" x2="{x:.1}" y2="{}" stroke="#eee"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="#555">{label}</text>"##,
                py + ph,
                py + ph + 15.0
            );
            d += 1.0;
        }
        let ticks = [
            (0.0, "0%"),
            (2f64.log10(), "50%"),
            (1.0, "90%"),
            (2.0, "99%"),
            (3.0, "99.9%"),
            (4.0, "99.99%"),
        ];
        for (nines, label) in ticks {
            let y = py + ph - ph * nines / NINES;
            let _ = writeln!(
                s,
                r##"<line x1="{cx}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end" fill="#555">{label}</text>"##,
                cx + cw,
                cx - 4.0,
                y + 4.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">round-trip latency (log) → fraction at or below (nines scale)</text>"#,
            cx + cw / 2.0,
            py + ph + 32.0
        );
        for (i, cdf) in cdfs.iter().enumerate() {
            if cdf.is_empty() {
                continue;
            }
            let mut pts = format!("{:.1},{:.1}", xof(cdf[0].0), yof(0.0));
            let mut prev = 0.0;
            for &(ns, f) in cdf {
                let x = xof(ns);
                // A step: up at this bucket's bound.
                let _ = write!(pts, " {x:.1},{:.1} {x:.1},{:.1}", yof(prev), yof(f));
                prev = f;
            }
            let _ = writeln!(
                s,
                r#"<polyline points="{pts}" fill="none" stroke="{}" stroke-width="1.6"/>"#,
                COLORS[i]
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strace_summary_parses() {
        let text = "% time     seconds  usecs/call     calls    errors syscall\n\
            ------ ----------- ----------- --------- --------- ----------------\n \
            60.00    0.000600           3       200           write\n \
            30.00    0.000300           1       200        20 read\n \
            10.00    0.000100           5        20           epoll_wait\n\
            ------ ----------- ----------- --------- --------- ----------------\n\
            100.00    0.001000           2       420        20 total\n";
        let (total, calls) = parse_strace(text).unwrap();
        assert_eq!(total, 420);
        assert_eq!(calls[2], ("epoll_wait".to_owned(), 20));
        assert_eq!(fmt_val(1234.5, 1), "1,235");
        assert_eq!(fmt_val(12.345, 2), "12.35");
        assert_eq!(fmt_val(f64::NAN, 1), "-");
    }
}
