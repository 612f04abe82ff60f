//! Small, deterministic descriptive statistics used by the KPIs and the gate.
//!
//! Percentiles follow numpy's default (`method="linear"`): for `n` sorted values
//! the `q`-quantile sits at fractional index `h = (n - 1) * q` and is
//! interpolated linearly between the two neighbouring values. The interpolation
//! uses numpy's own two-sided lerp, so results match numpy bit for bit in the
//! common cases rather than only to a few ulps.
//!
//! Every function is a plain sequential reduction over its input, so the same
//! input always gives the same bits. Callers are expected to pass finite values;
//! sorting uses [`f64::total_cmp`] so a stray NaN cannot panic.

/// Lower and upper quantiles at which [`p95_winsorized`] clips its input.
pub const WINSOR_LIMITS: (f64, f64) = (0.01, 0.99);

/// The `q`-quantile (`0 ≤ q ≤ 1`) of an ascending slice by linear interpolation
/// between the values at `floor((n-1)q)` and `ceil((n-1)q)`, as numpy's default.
///
/// Returns `None` for an empty slice. `q` outside `[0, 1]` is clamped.
pub fn percentile_linear(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
    let h = (n - 1) as f64 * q;
    let lo = h.floor();
    let lo_idx = (lo as usize).min(n - 1);
    let hi_idx = (lo_idx + 1).min(n - 1);
    let t = h - lo;
    Some(lerp(sorted[lo_idx], sorted[hi_idx], t))
}

/// numpy's `_lerp`: `a + (b - a) t`, computed from the nearer end for `t ≥ 0.5`
/// so that `t = 1` returns exactly `b`.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Returns `values` sorted ascending (a copy).
pub fn sorted_copy(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// Clips every value to the `[lower_q, upper_q]` quantile range of `values`
/// (quantiles computed with [`percentile_linear`]); order is preserved.
///
/// `winsorize(v, 0.01, 0.99)` is the winsorisation of the contract.
pub fn winsorize(values: &[f64], lower_q: f64, upper_q: f64) -> Vec<f64> {
    let sorted = sorted_copy(values);
    let (Some(lo), Some(hi)) = (
        percentile_linear(&sorted, lower_q),
        percentile_linear(&sorted, upper_q),
    ) else {
        return Vec::new();
    };
    values.iter().map(|&v| v.clamp(lo, hi)).collect()
}

/// p95 of `values` after winsorising at the 1st/99th percentiles; `None` when
/// empty. This is the `p95_latency_ms` KPI applied to order ages.
pub fn p95_winsorized(values: &[f64]) -> Option<f64> {
    let clipped = winsorize(values, WINSOR_LIMITS.0, WINSOR_LIMITS.1);
    percentile_linear(&sorted_copy(&clipped), 0.95)
}

/// Median: the middle value, or the mean of the two middle values for an even
/// count; `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    median_in_place(&mut values.to_vec())
}

/// [`median`] without the copy: sorts `values` (by `f64::total_cmp`) in place.
pub fn median_in_place(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return None;
    }
    if n % 2 == 1 {
        Some(values[n / 2])
    } else {
        Some((values[n / 2 - 1] + values[n / 2]) / 2.0)
    }
}

/// Arithmetic mean, summed left to right; `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn percentile_matches_numpy_linear() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        // np.percentile(np.arange(1, 11), 95) == 9.55
        assert!(close(percentile_linear(&v, 0.95).unwrap(), 9.55));
        // np.percentile(np.arange(1, 11), 50) == 5.5
        assert_eq!(percentile_linear(&v, 0.5), Some(5.5));
        assert_eq!(percentile_linear(&v, 0.0), Some(1.0));
        assert_eq!(percentile_linear(&v, 1.0), Some(10.0));
        // np.percentile([1, 2, 3, 4], 25) == 1.75
        assert_eq!(percentile_linear(&[1.0, 2.0, 3.0, 4.0], 0.25), Some(1.75));
        assert_eq!(percentile_linear(&[7.0], 0.95), Some(7.0));
        assert_eq!(percentile_linear(&[], 0.95), None);
    }

    #[test]
    fn winsorized_p95_clips_the_outlier_before_the_percentile() {
        // values 1..=9 and one outlier 1000 (n = 10):
        //   p01: h = 9 * 0.01 = 0.09 → 1 + 0.09 * (2 - 1)      = 1.09
        //   p99: h = 9 * 0.99 = 8.91 → 9 + 0.91 * (1000 - 9)   = 910.81
        // clipped: [1.09, 2, 3, 4, 5, 6, 7, 8, 9, 910.81]
        //   p95: h = 8.55 → 9 + 0.55 * (910.81 - 9) = 9 + 495.9955 = 504.9955
        // without winsorising p95 would be 9 + 0.55 * 991 = 554.05.
        let mut v: Vec<f64> = (1..=9).map(f64::from).collect();
        v.push(1000.0);
        let w = winsorize(&v, 0.01, 0.99);
        assert!(close(w[0], 1.09));
        assert!(close(w[9], 910.81));
        assert_eq!(w[4], 5.0);
        assert!(close(p95_winsorized(&v).unwrap(), 504.9955));
        assert!(close(
            percentile_linear(&sorted_copy(&v), 0.95).unwrap(),
            554.05
        ));
        assert_eq!(p95_winsorized(&[]), None);
    }

    #[test]
    fn winsorize_keeps_order_of_input() {
        let v = [5.0, 1.0, 3.0];
        // p01 of [1,3,5]: h = 0.02 → 1.04; p99: h = 1.98 → 3 + 0.98 * 2 = 4.96
        let w = winsorize(&v, 0.01, 0.99);
        assert!(close(w[0], 4.96) && close(w[1], 1.04) && w[2] == 3.0);
    }

    #[test]
    fn median_and_mean() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
        assert_eq!(mean(&[]), None);
    }
}
