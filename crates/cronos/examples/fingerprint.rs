//! Bit-level fingerprint of a set of small solves, for checking that a refactor changes no
//! number: `cargo run --release -p cronos --example fingerprint > before.txt`, change the code,
//! run again and `diff` the outputs. Every line is one solve (gated/ReLU, squared/logistic/
//! softmax, f32/f64, Nyström/structured/exact wide preconditioner, 2 threads, pricing) with
//! its iteration counts, the certificate and feasibility numbers as exact bit patterns, and
//! FNV hashes of the weights, the recovered network and the convex predictions.
use cronos::{price, Activation, Beta, Control, Loss, PrecondKind, PricingSettings, Real, Settings, Solver};
use faer::{Mat, MatRef};

/// FNV-1a over the bit patterns of values given as f64.
struct Fnv(u64);
impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn add(&mut self, v: f64) {
        for b in v.to_bits().to_le_bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn mat<T: Real>(m: MatRef<'_, T>) -> u64 {
        let mut h = Fnv::new();
        for j in 0..m.ncols() {
            for i in 0..m.nrows() {
                h.add(m[(i, j)].to_f64());
            }
        }
        h.0
    }
}

/// Deterministic uniform numbers in [−1, 1).
fn lcg(seed: u64, len: usize) -> Vec<f64> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// n × d inputs and k targets for `loss` (squared: smooth regression, logistic: ±1, softmax:
/// one-hot over k classes).
fn problem<T: Real>(n: usize, d: usize, k: usize, loss: Loss, seed: u64) -> (Mat<T>, Mat<T>) {
    let v = lcg(seed, n * d);
    let x = Mat::<T>::from_fn(n, d, |i, j| T::from_f64(v[i * d + j]));
    let score = |i: usize, c: usize| {
        let a = v[i * d];
        let b = v[i * d + 1 % d];
        (a * (c as f64 + 1.0)).sin() + (b * b - 0.3) * if c % 2 == 0 { 1.0 } else { -1.0 } + a.abs()
    };
    let y = Mat::<T>::from_fn(n, k, |i, c| {
        T::from_f64(match loss {
            Loss::Squared => score(i, c),
            Loss::Logistic => if score(i, c) > 0.6 { 1.0 } else { -1.0 },
            Loss::Softmax => {
                let best = (0..k).max_by(|&a, &b| score(i, a).total_cmp(&score(i, b))).unwrap_or(0);
                f64::from(u8::from(best == c))
            }
        })
    });
    (x, y)
}

struct Case {
    name: &'static str,
    act: Activation,
    loss: Loss,
    pre: PrecondKind,
    n: usize,
    d: usize,
    k: usize,
}

fn run<T: Real>(c: &Case, pricing: bool) {
    let (x, y) = problem::<T>(c.n, c.d, c.k, c.loss, 7);
    let s = Settings {
        activation: c.act,
        loss: c.loss,
        preconditioner: c.pre,
        n_patterns: 12,
        beta: Beta::Fraction(0.05),
        threads: 2,
        max_iter: 150,
        tol_gap: 1e-7,
        ..Settings::default()
    };
    let mut solver = Solver::new(x.as_ref(), y.as_ref(), s).expect("valid problem");
    let sol = solver.solve();
    let mut extra = String::new();
    if pricing {
        let ps = PricingSettings { rounds: 2, candidates: 32, add: 3, ascent_steps: 3, ..PricingSettings::default() };
        let rep = price(&mut solver, &ps, |_, _| Control::Continue).expect("pricing");
        extra = format!(" pricing_rounds={} p={}", rep.rounds.len(), solver.n_patterns());
    }
    let cert = solver.certificate().clone();
    let feas = solver.feasibility();
    let model = solver.model();
    let net = model.network();
    let conv = model.predict_convex(x.as_ref()).expect("predict");
    let mut nh = Fnv::new();
    nh.0 ^= Fnv::mat(net.w1.as_ref());
    nh.add(Fnv::mat(net.w2.as_ref()) as f64);
    net.b1.iter().for_each(|v| nh.add(v.to_f64()));
    println!(
        "{:<34} {:<3} it={} cg={} obj={:016x} lb={:016x} gap={:.6e} viol={:016x} netobj={:016x} w={:016x} net={:016x} conv={:016x}{}",
        c.name,
        if T::EPS > 1e-10 { "f32" } else { "f64" },
        sol.iterations,
        sol.cg_iterations,
        cert.objective.to_bits(),
        cert.lower_bound.to_bits(),
        cert.relative_gap,
        feas.constraint_violation.to_bits(),
        feas.network_objective.to_bits(),
        Fnv::mat(model.weights.as_ref()),
        nh.0,
        Fnv::mat(conv.as_ref()),
        extra
    );
}

fn main() {
    use Activation::{GatedRelu as G, Relu as R};
    use Loss::{Logistic, Softmax, Squared};
    use PrecondKind::{Nystrom as N, Structured as S};
    let cases = [
        Case { name: "gated squared nystrom", act: G, loss: Squared, pre: N, n: 300, d: 6, k: 2 },
        Case { name: "gated squared structured", act: G, loss: Squared, pre: S, n: 300, d: 6, k: 2 },
        Case { name: "relu squared nystrom", act: R, loss: Squared, pre: N, n: 300, d: 6, k: 2 },
        Case { name: "relu squared structured", act: R, loss: Squared, pre: S, n: 300, d: 6, k: 2 },
        Case { name: "gated logistic structured", act: G, loss: Logistic, pre: S, n: 300, d: 6, k: 1 },
        Case { name: "relu logistic nystrom", act: R, loss: Logistic, pre: N, n: 300, d: 6, k: 1 },
        Case { name: "gated softmax nystrom", act: G, loss: Softmax, pre: N, n: 300, d: 6, k: 3 },
        Case { name: "relu softmax structured", act: R, loss: Softmax, pre: S, n: 300, d: 6, k: 3 },
        Case { name: "gated wide squared (woodbury)", act: G, loss: Squared, pre: S, n: 40, d: 60, k: 2 },
        Case { name: "relu wide squared (woodbury)", act: R, loss: Squared, pre: S, n: 40, d: 60, k: 2 },
        Case { name: "relu wide logistic (woodbury)", act: R, loss: Logistic, pre: S, n: 40, d: 60, k: 1 },
    ];
    for c in &cases {
        run::<f64>(c, false);
        run::<f32>(c, false);
    }
    let p = Case { name: "gated squared pricing", act: G, loss: Squared, pre: S, n: 300, d: 6, k: 2 };
    run::<f64>(&p, true);
    run::<f32>(&p, true);
}
