//! A small deterministic random source. Every person draws from a stream keyed by (seed, index,
//! purpose), so a population is the same whatever the thread count or batch size.

/// SplitMix64's finaliser: a bijective mix of 64 bits, which spreads a hash (or a counter)
/// over all of them. The one copy of it: the random streams and blocking's keys use it.
pub fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for simulation.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// The stream for `purpose` of item `index` under `seed`.
    pub fn keyed(seed: u64, index: u64, purpose: u64) -> Rng {
        let mut rng =
            Rng(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ purpose.wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next_u64();
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.0)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Draws items by weight in O(log n): cumulative weights and a binary search.
#[derive(Clone, Debug)]
pub struct Weighted<T> {
    items: Vec<T>,
    cumulative: Vec<f64>,
}

impl<T> Weighted<T> {
    pub fn new(pairs: impl IntoIterator<Item = (T, f64)>) -> Weighted<T> {
        let mut items = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0.0;
        for (item, weight) in pairs {
            total += weight;
            items.push(item);
            cumulative.push(total);
        }
        assert!(total > 0.0, "weights must not all be zero");
        Weighted { items, cumulative }
    }

    pub fn draw(&self, rng: &mut Rng) -> &T {
        let target = rng.unit() * self.cumulative[self.cumulative.len() - 1];
        let i = self.cumulative.partition_point(|&c| c <= target).min(self.items.len() - 1);
        &self.items[i]
    }

    pub fn items(&self) -> &[T] {
        &self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_deterministic_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::keyed(7, 1, 2).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::keyed(7, 1, 2).next_u64(), Rng::keyed(7, 2, 2).next_u64());
        assert_ne!(Rng::keyed(7, 1, 2).next_u64(), Rng::keyed(7, 1, 3).next_u64());
        assert_ne!(Rng::keyed(7, 1, 2).next_u64(), Rng::keyed(8, 1, 2).next_u64());
    }

    #[test]
    fn draws_follow_weights() {
        let weighted = Weighted::new([("a", 7.0), ("b", 2.0), ("c", 1.0)]);
        let mut rng = Rng::keyed(1, 0, 0);
        let mut counts = [0usize; 3];
        for _ in 0..100_000 {
            let drawn = *weighted.draw(&mut rng);
            counts[["a", "b", "c"].iter().position(|&x| x == drawn).unwrap()] += 1;
        }
        assert!((69_000..71_000).contains(&counts[0]), "{counts:?}");
        assert!((19_000..21_000).contains(&counts[1]), "{counts:?}");
        let mut rng = Rng::keyed(1, 0, 0);
        assert!((0..10_000).all(|_| rng.below(3) < 3));
    }
}
