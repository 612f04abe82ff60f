//! The random draws both tick generators make from their ChaCha8 streams:
//! the synthetic market ([`crate::feed::synthetic`]) and the tests' and
//! benchmarks' small generator ([`crate::engine::testfeed`]). One copy, so the
//! two cannot drift: a uniform from the top 53 bits of a `u64` (the same value
//! as `rand`'s `random::<f64>()`), an exponential by inversion, a standard
//! normal by Box–Muller.

use rand::RngCore;

/// Uniform in `[0, 1)` from the top 53 bits of one `u64`.
pub(crate) fn unit(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Exponential with mean `mean`, by inversion of one uniform.
pub(crate) fn exponential(rng: &mut impl RngCore, mean: f64) -> f64 {
    -mean * (1.0 - unit(rng)).ln()
}

/// Standard normal by Box–Muller from two uniforms (one of the pair: simple
/// beats fast here).
pub(crate) fn normal(rng: &mut impl RngCore) -> f64 {
    let u1 = 1.0 - unit(rng);
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn unit_is_rands_uniform_float_of_the_same_stream() {
        let mut a = ChaCha8Rng::seed_from_u64(42);
        let mut b = ChaCha8Rng::seed_from_u64(42);
        for _ in 0..10_000 {
            let ours = unit(&mut a);
            assert_eq!(ours.to_bits(), b.random::<f64>().to_bits());
            assert!((0.0..1.0).contains(&ours));
        }
    }

    #[test]
    fn exponential_and_normal_have_their_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 200_000;
        let e: Vec<f64> = (0..n).map(|_| exponential(&mut rng, 2.5)).collect();
        let mean = e.iter().sum::<f64>() / n as f64;
        assert!((mean - 2.5).abs() < 0.03, "exponential mean {mean}");
        assert!(e.iter().all(|x| *x >= 0.0));
        let z: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
        let m = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.01, "normal mean {m}");
        assert!((var - 1.0).abs() < 0.02, "normal variance {var}");
    }
}
