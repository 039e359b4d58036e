//! A log-linear latency histogram: exact below 32 ns, then 32 linear buckets per power of
//! two (every bucket at most 1/32 ≈ 3.1% wide), over the whole `u64` range in 1,920
//! counters. Recording is an index computation and an increment; two histograms add.

use super::json::Json;

/// Linear sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 5;
/// Linear sub-buckets per power of two.
const SUB: u64 = 1 << SUB_BITS;
/// Buckets in all: 64 exact values, then 32 per power of two from 2^6 to 2^63.
const BUCKETS: usize = ((64 - SUB_BITS + 1) as usize) * SUB as usize;

/// Counts of values (nanoseconds) by log-linear bucket, with the exact count, sum and max.
#[derive(Clone)]
pub(crate) struct Histogram {
    counts: Box<[u64]>,
    total: u64,
    sum: u128,
    max: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("total", &self.total)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram::new()
    }
}

/// The bucket of `v`.
fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - SUB_BITS;
    let mantissa = v >> shift; // in [SUB, 2 * SUB)
    ((u64::from(shift) + 1) * SUB + (mantissa - SUB)) as usize
}

/// The smallest and largest value of bucket `i`.
fn bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < 2 * SUB {
        return (i, i);
    }
    let shift = i / SUB - 1;
    let mantissa = SUB + i % SUB;
    let low = mantissa << shift;
    (low, low + ((1u64 << shift) - 1))
}

impl Histogram {
    /// An empty histogram.
    pub(crate) fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            sum: 0,
            max: 0,
        }
    }

    /// Counts one value.
    pub(crate) fn record(&mut self, v: u64) {
        self.counts[index(v)] += 1;
        self.total += 1;
        self.sum += u128::from(v);
        self.max = self.max.max(v);
    }

    /// Adds every count of `other`.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }

    /// Values counted.
    #[cfg(test)]
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The largest value counted (exact).
    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// The mean (exact); 0 when empty.
    pub(crate) fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The value at quantile `q` (0..=1): the middle of the bucket holding the value of rank
    /// `ceil(q * total)`, capped at the exact maximum; 0 when empty.
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (low, high) = bounds(i);
                return (low + (high - low) / 2).min(self.max);
            }
        }
        self.max
    }

    /// `(upper bound of the bucket, fraction of values at or below it)` for every non-empty
    /// bucket, in order: the points of the cumulative distribution.
    pub(crate) fn cdf(&self) -> Vec<(u64, f64)> {
        let mut out = Vec::new();
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            if c > 0 {
                seen += c;
                out.push((bounds(i).1.min(self.max), seen as f64 / self.total as f64));
            }
        }
        out
    }

    /// The histogram as JSON: `{"total", "sum", "max", "buckets": [[index, count], …]}`
    /// with the non-empty buckets only.
    pub(crate) fn to_json(&self) -> Json {
        let buckets = self
            .counts
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c > 0)
            .map(|(i, &c)| Json::Arr(vec![Json::Num(i as f64), Json::Num(c as f64)]))
            .collect();
        Json::obj(vec![
            ("total", Json::Num(self.total as f64)),
            ("sum", Json::Num(self.sum as f64)),
            ("max", Json::Num(self.max as f64)),
            ("buckets", Json::Arr(buckets)),
        ])
    }

    /// The inverse of [`to_json`](Histogram::to_json); `None` if malformed.
    pub(crate) fn from_json(j: &Json) -> Option<Histogram> {
        let mut h = Histogram::new();
        for b in j.get("buckets")?.as_arr()? {
            let b = b.as_arr()?;
            let i = b.first()?.as_u64()? as usize;
            let c = b.get(1)?.as_u64()?;
            *h.counts.get_mut(i)? += c;
        }
        h.total = j.get("total")?.as_u64()?;
        h.sum = j.get("sum")?.as_f64()? as u128;
        h.max = j.get("max")?.as_u64()?;
        Some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_and_order() {
        let mut last = 0;
        for v in (0..10_000u64).chain([u64::MAX / 3, u64::MAX]) {
            let i = index(v);
            assert!(i < BUCKETS);
            let (lo, hi) = bounds(i);
            assert!(lo <= v && v <= hi, "{v} in bucket {i} = {lo}..={hi}");
            assert!(i >= last || v > 10_000);
            last = i;
        }
        // Relative width at most 1/32.
        for i in 64..BUCKETS {
            let (lo, hi) = bounds(i);
            assert!((hi - lo + 1) * 32 <= lo, "{i}: {lo}..={hi}");
        }
    }

    #[test]
    fn quantiles_are_close() {
        let mut h = Histogram::new();
        for v in 1..=100_000u64 {
            h.record(v * 10);
        }
        for (q, want) in [(0.5, 500_000.0), (0.99, 990_000.0), (0.999, 999_000.0)] {
            let got = h.quantile(q) as f64;
            assert!((got - want).abs() / want < 0.02, "q {q}: {got} vs {want}");
        }
        assert_eq!(h.max(), 1_000_000);
        let back = Histogram::from_json(&h.to_json()).unwrap();
        assert_eq!(back.quantile(0.99), h.quantile(0.99));
        assert_eq!(back.total(), 100_000);
        let mut m = back.clone();
        m.merge(&h);
        assert_eq!(m.total(), 200_000);
        assert_eq!(m.quantile(0.5), h.quantile(0.5));
    }
}
