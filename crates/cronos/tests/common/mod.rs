//! Shared helpers of the integration tests.
#![allow(dead_code)]
use faer::Mat;

/// xorshift64* in [-1, 1).
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545F4914F6CDD1D);
        (v >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// A random regression problem with a ReLU-ish target.
pub fn random_problem(n: usize, d: usize, seed: u64) -> (Mat<f64>, Mat<f64>) {
    let mut r = Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1);
    let x = Mat::<f64>::from_fn(n, d, |_, _| r.next());
    let y = Mat::<f64>::from_fn(n, 1, |i, _| (x[(i, 0)] - 0.5 * x[(i, 1 % d)]).max(0.0) - 0.3 * x[(i, 2 % d)].abs() + 0.1 * r.next());
    (x, y)
}

/// Row-major copy of x with an optional bias column, for the oracle.
pub fn row_major(x: &Mat<f64>, bias: bool) -> (Vec<f64>, usize) {
    let d = x.ncols() + bias as usize;
    let mut v = Vec::with_capacity(x.nrows() * d);
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            v.push(x[(i, j)]);
        }
        if bias {
            v.push(1.0);
        }
    }
    (v, d)
}

/// Masks 1[x̃ h_j ≥ 0] of the model's gates, for the oracle.
pub fn masks(x: &Mat<f64>, gates: &Mat<f64>, bias: bool) -> Vec<Vec<bool>> {
    let d = x.ncols();
    (0..gates.ncols())
        .map(|j| {
            (0..x.nrows())
                .map(|i| {
                    let mut s: f64 = (0..d).map(|c| x[(i, c)] * gates[(c, j)]).sum();
                    if bias {
                        s += gates[(d, j)];
                    }
                    s >= 0.0
                })
                .collect()
        })
        .collect()
}

/// A small real subset of Fashion-MNIST, 4×4 average-pooled to 7×7 = 49 features in [0, 1],
/// classes `a` (−1) and `b` (+1), `n` rows.
pub fn fmnist_small(n: usize, a: f64, b: f64) -> (Mat<f64>, Mat<f64>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/fashion-mnist");
    let t = cronos_data::load_idx_dir(&dir, cronos_data::Split::Train).expect("bundled Fashion-MNIST");
    let lab = t.labels.as_ref().unwrap();
    let rows: Vec<usize> = (0..t.n).filter(|&i| lab[i] == a || lab[i] == b).take(n).collect();
    let x = Mat::<f64>::from_fn(rows.len(), 49, |i, f| {
        let (br, bc) = (f / 7, f % 7);
        let mut s = 0.0;
        for r in 0..4 {
            for c in 0..4 {
                s += t.get(rows[i], (br * 4 + r) * 28 + bc * 4 + c) as f64;
            }
        }
        s / (16.0 * 255.0)
    });
    let y = Mat::<f64>::from_fn(rows.len(), 1, |i, _| if lab[rows[i]] == b { 1.0 } else { -1.0 });
    (x, y)
}

/// Targets for `loss` from the random problem: sign (logistic), 3 classes by thirds (softmax).
pub fn targets(y: &Mat<f64>, loss: cronos::Loss, k: usize) -> Mat<f64> {
    let n = y.nrows();
    match loss {
        cronos::Loss::Squared => Mat::from_fn(n, k, |i, c| y[(i, 0)] * (1.0 + c as f64)),
        cronos::Loss::Logistic => Mat::from_fn(n, k, |i, c| if (y[(i, 0)] - 0.05 * c as f64) > 0.0 { 1.0 } else { -1.0 }),
        cronos::Loss::Softmax => {
            let mut v: Vec<f64> = (0..n).map(|i| y[(i, 0)]).collect();
            v.sort_by(f64::total_cmp);
            let cuts = [v[n / 3], v[2 * n / 3]];
            Mat::from_fn(n, k, |i, c| {
                let cls = (y[(i, 0)] >= cuts[0]) as usize + (y[(i, 0)] >= cuts[1]) as usize;
                (cls == c) as u8 as f64
            })
        }
    }
}

/// The oracle's name for a loss.
pub fn oracle_loss(loss: cronos::Loss) -> cronos_oracle::Loss {
    match loss {
        cronos::Loss::Squared => cronos_oracle::Loss::Squared,
        cronos::Loss::Logistic => cronos_oracle::Loss::Logistic,
        cronos::Loss::Softmax => cronos_oracle::Loss::Softmax,
    }
}
