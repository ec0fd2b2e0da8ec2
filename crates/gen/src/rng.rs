//! The random numbers behind the generator: a small seeded PRNG and O(1) weighted choice.
//!
//! The PRNG is hand-written (xoshiro256++ seeded through splitmix64) rather than taken from
//! `rand` so that a seed keeps producing the same bytes across dependency upgrades: `rand`
//! documents that `SmallRng`'s algorithm may change between releases.

/// xoshiro256++: fast, small state, good statistical quality; not for cryptography.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator seeded from `seed`: every seed, 0 included, gives a well-mixed state.
    pub(crate) fn new(seed: u64) -> Rng {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }

    /// An independent stream derived from this one (for one-off setup work).
    pub(crate) fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }

    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift (bias below 2^-32, irrelevant here).
    #[inline]
    pub(crate) fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }

    /// Uniform in `lo..=hi`.
    #[inline]
    pub(crate) fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub(crate) fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    #[inline]
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// One element of a non-empty slice.
    #[inline]
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u32) as usize]
    }

    /// Exponential with the given mean.
    #[inline]
    pub(crate) fn exp(&mut self, mean: f64) -> f64 {
        -(1.0 - self.f64()).ln() * mean
    }

    /// Standard normal (Box-Muller; setup only).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.f64();
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal with the given median and shape.
    pub(crate) fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Pareto with scale `xm` and shape `alpha`: heavy-tailed, never below `xm`.
    pub(crate) fn pareto(&mut self, xm: f64, alpha: f64) -> f64 {
        xm / (1.0 - self.f64()).powf(1.0 / alpha)
    }
}

/// Walker/Vose alias table: weighted choice among `n` items in O(1) with one random number.
#[derive(Debug, Clone)]
pub(crate) struct Alias {
    /// Probability of keeping column `i`, scaled to `u32`.
    keep: Box<[u32]>,
    /// The other item of column `i`.
    alias: Box<[u32]>,
}

impl Alias {
    /// Builds the table. `weights` must be non-empty, finite, non-negative, with a positive sum
    /// (callers validate user input before this).
    pub(crate) fn new(weights: &[f64]) -> Alias {
        let n = weights.len();
        assert!(n > 0 && n < u32::MAX as usize, "alias table size");
        let sum: f64 = weights.iter().sum();
        assert!(sum > 0.0 && sum.is_finite(), "alias weights sum");
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / sum).collect();
        let mut keep = vec![u32::MAX; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            keep[s] = (scaled[s] * 4_294_967_296.0).min(u32::MAX as f64) as u32;
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Leftovers are 1 up to rounding: keep them whole (already u32::MAX, alias to self).
        Alias {
            keep: keep.into_boxed_slice(),
            alias: alias.into_boxed_slice(),
        }
    }

    /// Draws an index.
    #[inline]
    pub(crate) fn sample(&self, rng: &mut Rng) -> usize {
        let r = rng.next_u64();
        let i = (((r >> 32) * self.keep.len() as u64) >> 32) as usize;
        if (r as u32) < self.keep[i] {
            i
        } else {
            self.alias[i] as usize
        }
    }

    /// Number of items.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keep.len()
    }
}

/// Weights of a Zipf distribution over ranks `1..=n` with exponent `s`.
pub(crate) fn zipf_weights(n: usize, s: f64) -> Vec<f64> {
    (1..=n).map(|k| (k as f64).powf(-s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        let (mut a, mut b, mut c) = (Rng::new(7), Rng::new(7), Rng::new(8));
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..100).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn known_first_values_stay_put() {
        // Guards the byte-for-byte promise of `--seed`: changing the PRNG changes every output.
        let mut r = Rng::new(0);
        let first = r.next_u64();
        assert_eq!(first, Rng::new(0).next_u64());
        assert_eq!(first, 0x53175d61490b23df);
    }

    #[test]
    fn below_and_range_stay_in_bounds() {
        let mut r = Rng::new(1);
        for _ in 0..10_000 {
            assert!(r.below(7) < 7);
            let x = r.range(3, 5);
            assert!((3..=5).contains(&x));
            let f = r.f64();
            assert!((0.0..1.0).contains(&f));
        }
        assert_eq!(r.below(1), 0);
    }

    #[test]
    fn alias_matches_weights() {
        let w = [50.0, 25.0, 15.0, 8.0, 2.0, 0.0];
        let t = Alias::new(&w);
        assert_eq!(t.len(), 6);
        let mut r = Rng::new(3);
        let mut counts = [0u32; 6];
        let n = 200_000;
        for _ in 0..n {
            counts[t.sample(&mut r)] += 1;
        }
        assert_eq!(counts[5], 0, "zero weight never drawn");
        for (c, w) in counts.iter().zip(w) {
            let share = f64::from(*c) / f64::from(n) * 100.0;
            assert!((share - w).abs() < 0.5, "share {share} vs weight {w}");
        }
    }

    #[test]
    fn alias_single_item() {
        let t = Alias::new(&[3.0]);
        let mut r = Rng::new(3);
        assert!((0..100).all(|_| t.sample(&mut r) == 0));
    }

    #[test]
    fn zipf_is_decreasing_and_heavy_headed() {
        let w = zipf_weights(1000, 1.0);
        assert!(w.windows(2).all(|p| p[0] > p[1]));
        let total: f64 = w.iter().sum();
        assert!(w[0] / total > 0.1);
    }

    #[test]
    fn heavy_tails() {
        let mut r = Rng::new(9);
        let xs: Vec<f64> = (0..10_000).map(|_| r.pareto(1000.0, 1.2)).collect();
        assert!(xs.iter().all(|x| *x >= 1000.0));
        assert!(xs.iter().cloned().fold(0.0, f64::max) > 100_000.0);
        let m: f64 = (0..10_000).map(|_| r.exp(10.0)).sum::<f64>() / 10_000.0;
        assert!((m - 10.0).abs() < 0.5);
    }
}
