//! Seeded weight initialisation.

use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

/// `len` values from N(0, 2/fan_in) (He et al. 2015, for ReLU networks), seeded.
pub fn he_normal(len: usize, fan_in: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let normal = Normal::new(0.0f32, (2.0 / fan_in.max(1) as f32).sqrt()).expect("finite std");
    (0..len).map(|_| normal.sample(&mut rng)).collect()
}
