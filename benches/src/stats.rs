//! Statistics of alternating runs and the tables that print them.
//!
//! A benchmark runs its contenders A, B, C, A, B, C, … and keeps, per contender, one value
//! per round. It reports the median of each contender's values and, for a comparison, the
//! median of the per-round ratios `A_i / B_i`: on a noisy shared machine that ratio holds
//! up far better than either absolute number.

use std::time::Instant;

/// Wall and thread CPU time at one instant, to measure a stretch of work by both clocks.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    wall: Instant,
    cpu_ns: u64,
}

impl Stopwatch {
    /// Reads both clocks now.
    #[must_use]
    pub fn start() -> Stopwatch {
        Stopwatch {
            wall: Instant::now(),
            cpu_ns: thread_cpu_ns(),
        }
    }

    /// Wall nanoseconds since [`start`](Stopwatch::start).
    #[must_use]
    pub fn wall_ns(&self) -> u64 {
        u64::try_from(self.wall.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// `(wall, cpu)` nanoseconds since [`start`](Stopwatch::start).
    #[must_use]
    pub fn elapsed(&self) -> (u64, u64) {
        let cpu = thread_cpu_ns().saturating_sub(self.cpu_ns);
        (self.wall_ns(), cpu)
    }
}

/// The calling thread's CPU time (user + system) in nanoseconds: the exact form of what
/// `getrusage(RUSAGE_THREAD)` reports in ticks; 0 where the clock is missing.
#[must_use]
pub fn thread_cpu_ns() -> u64 {
    #[cfg(target_os = "linux")]
    {
        crate::sys::thread_cpu_ns()
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// Work done and the time it took, by both clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measure {
    /// Units of work (iterations, events, add+delete pairs).
    pub units: u64,
    /// Wall nanoseconds.
    pub wall_ns: u64,
    /// Thread CPU nanoseconds.
    pub cpu_ns: u64,
}

impl Measure {
    /// Adds one timed stretch of `units` units.
    pub fn add(&mut self, units: u64, (wall_ns, cpu_ns): (u64, u64)) {
        self.units += units;
        self.wall_ns += wall_ns;
        self.cpu_ns += cpu_ns;
    }

    /// Wall nanoseconds per unit.
    #[must_use]
    pub fn wall_per_unit(&self) -> f64 {
        self.wall_ns as f64 / self.units.max(1) as f64
    }

    /// CPU nanoseconds per unit.
    #[must_use]
    pub fn cpu_per_unit(&self) -> f64 {
        self.cpu_ns as f64 / self.units.max(1) as f64
    }
}

/// One contender's per-round values (ns per unit) by both clocks.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Wall ns per unit, one per round.
    pub wall: Vec<f64>,
    /// CPU ns per unit, one per round.
    pub cpu: Vec<f64>,
}

impl Series {
    /// Records one round.
    pub fn push(&mut self, m: &Measure) {
        self.wall.push(m.wall_per_unit());
        self.cpu.push(m.cpu_per_unit());
    }

    /// The values of one clock.
    #[must_use]
    pub fn of(&self, clock: Clock) -> &[f64] {
        match clock {
            Clock::Wall => &self.wall,
            Clock::Cpu => &self.cpu,
        }
    }
}

/// Which clock a figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Elapsed real time.
    Wall,
    /// The thread's CPU time.
    Cpu,
}

impl Clock {
    /// Both clocks, wall first.
    pub const BOTH: [Clock; 2] = [Clock::Wall, Clock::Cpu];

    /// A short name for table titles.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Clock::Wall => "wall time",
            Clock::Cpu => "thread CPU time",
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count); NaN if empty.
#[must_use]
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A ratio summarised over rounds: the median of the per-round ratios and their range.
#[derive(Debug, Clone, Copy)]
pub struct Ratio {
    /// Median of `a_i / b_i`.
    pub median: f64,
    /// Smallest `a_i / b_i`.
    pub min: f64,
    /// Largest `a_i / b_i`.
    pub max: f64,
}

impl Ratio {
    /// The per-round ratios `a[i] / b[i]` of two series of the same rounds.
    #[must_use]
    pub fn of(a: &[f64], b: &[f64]) -> Ratio {
        let r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
        let min = r.iter().copied().fold(f64::INFINITY, f64::min);
        let max = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Ratio {
            median: median(&r),
            min,
            max,
        }
    }

    /// `1.23 (1.10-1.31)`: median, then the range over rounds.
    #[must_use]
    pub fn show(&self) -> String {
        format!(
            "{} ({}-{})",
            fmt_ratio(self.median),
            fmt_ratio(self.min),
            fmt_ratio(self.max)
        )
    }
}

/// A ratio with precision that suits its size.
#[must_use]
pub fn fmt_ratio(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else if r >= 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.2}")
    }
}

/// Nanoseconds, one decimal below 100, else whole with thousands separators.
#[must_use]
pub fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() {
        return "-".to_owned();
    }
    if ns < 100.0 {
        return format!("{ns:.1}");
    }
    group(ns.round() as u64)
}

/// An integer with `,` between groups of three digits.
#[must_use]
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A plain-text table: a header row and right-aligned cells.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    #[must_use]
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| (*s).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (missing cells print empty, extra cells are dropped).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Prints the table to standard output, indented by two spaces.
    pub fn print(&self) {
        let cols = self.header.len();
        let mut width: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::from(" ");
            for (i, w) in width.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                s.push_str(&format!(" {cell:>w$} "));
                if i + 1 < cols {
                    s.push('|');
                }
            }
            println!("{}", s.trim_end());
        };
        line(&self.header);
        let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
        line(&rule);
        for row in &self.rows {
            line(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn ratio_is_per_round() {
        let r = Ratio::of(&[2.0, 4.0, 9.0], &[1.0, 4.0, 3.0]);
        assert_eq!((r.median, r.min, r.max), (2.0, 1.0, 3.0));
    }

    #[test]
    fn grouping() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(fmt_ns(12.34), "12.3");
    }
}
