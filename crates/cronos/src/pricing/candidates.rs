//! Candidate gates of a pricing round, their violation of dual feasibility, and the ascent
//! that raises it.
//!
//! Everything works on the solver's scaled X (bias column last when there is one; a positive
//! scale of X leaves every hyperplane's sign pattern unchanged). For a gate h with pattern
//! m = 1[X h ≥ 0], the certificate's dual feasibility asks, for every output c,
//! ‖Xᵀ(m ⊙ λ_c)‖ ≤ β_c with λ = −∇ℓ(Fz); the *violation ratio* of h is
//! max_c ‖Xᵀ(m ⊙ λ_c)‖ / β_c, and a gate with ratio > 1 would enter the optimal model.

use crate::data::XMat;
use crate::real::Real;
use faer::{Mat, MatRef};
use rand::rngs::StdRng;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Most entries of the n × (candidates·k) products of one scoring batch (128 MiB in f64).
const BATCH_ENTRIES: usize = 1 << 24;

/// One scored gate.
#[derive(Clone, Debug)]
pub struct Scored {
    /// max_c ‖Xᵀ(m ⊙ λ_c)‖ / β_c.
    pub ratio: f64,
    /// The packed pattern (as [`crate::patterns::Patterns::column`]).
    pub bits: Vec<u64>,
    /// Rows active.
    pub active: usize,
}

/// What the generators and the scoring read: the scaled X, the dual λ (n × k), β per output
/// (internal scaling), the targets and the current gates.
pub struct Context<'a, T: Real> {
    /// Scaled X, bias column last when `bias`.
    pub x: &'a XMat<T>,
    /// λ = −∇ℓ(Fz), n × k.
    pub lam: MatRef<'a, T>,
    /// β per output.
    pub beta: &'a [f64],
    /// Targets, n × k (class labels for the class-mean candidates).
    pub y: MatRef<'a, T>,
    /// Whether the last column of X is the bias.
    pub bias: bool,
    /// Current gates, d × P.
    pub gates: MatRef<'a, T>,
    /// Whether each current gate's group is non-zero.
    pub active: &'a [bool],
}

/// Scores gates `h` (d × C): their patterns and violation ratios.
pub fn score<T: Real>(ctx: &Context<'_, T>, h: MatRef<'_, T>) -> Vec<Scored> {
    let (n, k, c_all) = (ctx.x.nrows(), ctx.lam.ncols(), h.ncols());
    let words = n.div_ceil(64);
    let per = (BATCH_ENTRIES / (n * k).max(1)).clamp(1, c_all.max(1));
    let mut out = Vec::with_capacity(c_all);
    for c0 in (0..c_all).step_by(per) {
        let cb = per.min(c_all - c0);
        let mut z = Mat::<T>::zeros(n, cb);
        ctx.x.mul(h.subcols(c0, cb), z.as_mut());
        let zero = T::from_f64(0.0);
        let mut s = Mat::<T>::zeros(n, cb * k);
        let mut bits = vec![vec![0u64; words]; cb];
        for j in 0..cb {
            for i in 0..n {
                if z[(i, j)] >= zero {
                    bits[j][i / 64] |= 1 << (i % 64);
                    for c in 0..k {
                        s[(i, j * k + c)] = ctx.lam[(i, c)];
                    }
                }
            }
        }
        drop(z);
        let mut g = Mat::<T>::zeros(ctx.x.ncols(), cb * k);
        ctx.x.tmul_add(s.as_ref(), g.as_mut(), T::from_f64(1.0));
        for (j, b) in bits.into_iter().enumerate() {
            let ratio = (0..k).map(|c| col_norm(g.as_ref(), j * k + c) / ctx.beta[c]).fold(0.0, f64::max);
            let active = b.iter().map(|w| w.count_ones() as usize).sum();
            out.push(Scored { ratio, bits: b, active });
        }
    }
    out
}

fn col_norm<T: Real>(m: MatRef<'_, T>, j: usize) -> f64 {
    (0..m.nrows()).map(|i| m[(i, j)].to_f64().powi(2)).sum::<f64>().sqrt()
}

/// Row `i` of X as f64 (slow for sparse X: a few anchor rows only).
fn row<T: Real>(x: &XMat<T>, i: usize) -> Vec<f64> {
    match x {
        XMat::Dense(m) => (0..m.ncols()).map(|j| m[(i, j)].to_f64()).collect(),
        XMat::Sparse { x: s, .. } => {
            let mut r = vec![0.0; s.ncols()];
            s.row(i).for_each(|(j, v)| r[j] = v.to_f64());
            r
        }
    }
}

/// The gate with normal `w` (its bias entry ignored) whose hyperplane passes through `p`
/// (a point of X's row space, bias entry included); through the origin without a bias.
fn through(w: &[f64], p: &[f64], bias: bool) -> Vec<f64> {
    let d = w.len();
    let mut h = w.to_vec();
    if bias {
        let b = p[d - 1];
        let dot: f64 = (0..d - 1).map(|j| w[j] * p[j]).sum();
        h[d - 1] = if b != 0.0 { -dot / b } else { 0.0 };
    }
    h
}

/// The candidate gates of one round, at most `count`, as columns (see the module doc of
/// [`crate::pricing`] for the families).
pub fn generate<T: Real>(ctx: &Context<'_, T>, count: usize, rng: &mut StdRng) -> Mat<T> {
    let mut hs: Vec<Vec<f64>> = Vec::with_capacity(count);
    let quarter = count.div_ceil(4);
    dual_directions(ctx, quarter, &mut hs);
    class_means(ctx, quarter / 2, &mut hs);
    perturbations(ctx, quarter, rng, &mut hs);
    let rest = count.saturating_sub(hs.len());
    data_points(ctx, rest, rng, &mut hs);
    hs.truncate(count);
    let d = ctx.x.ncols();
    Mat::from_fn(d, hs.len(), |i, j| T::from_f64(hs[j][i]))
}

/// For each output c, the direction w_c = Xᵀλ_c (the rows' residuals, summed: the gate the
/// loss gradient points at) with thresholds at quantiles of X w_c, both signs.
fn dual_directions<T: Real>(ctx: &Context<'_, T>, budget: usize, hs: &mut Vec<Vec<f64>>) {
    let (n, d, k) = (ctx.x.nrows(), ctx.x.ncols(), ctx.lam.ncols());
    let mut w = Mat::<T>::zeros(d, k);
    ctx.x.tmul_add(ctx.lam, w.as_mut(), T::from_f64(1.0));
    let mut proj = Mat::<T>::zeros(n, k);
    ctx.x.mul(w.as_ref(), proj.as_mut());
    let quantiles: &[f64] = if ctx.bias { &[0.1, 0.3, 0.5, 0.7, 0.9] } else { &[0.5] };
    let bcol = if ctx.bias { ctx.x.get(0, d - 1).to_f64() } else { 0.0 };
    'outer: for c in 0..k {
        let mut v: Vec<f64> = (0..n).map(|i| proj[(i, c)].to_f64()).collect();
        v.sort_by(f64::total_cmp);
        for &q in quantiles {
            let t = v[((n - 1) as f64 * q) as usize];
            for sign in [1.0, -1.0] {
                if hs.len() >= budget {
                    break 'outer;
                }
                let mut h: Vec<f64> = (0..d).map(|j| sign * w[(j, c)].to_f64()).collect();
                if ctx.bias && bcol != 0.0 {
                    // x·h = sign·(x·w − t)
                    h[d - 1] -= sign * t / bcol;
                }
                hs.push(h);
            }
        }
    }
}

/// Class labels of the rows: the argmax of y (several outputs) or its sign (one).
fn labels<T: Real>(y: MatRef<'_, T>) -> (Vec<usize>, usize) {
    let k = y.ncols();
    if k == 1 {
        return ((0..y.nrows()).map(|i| usize::from(y[(i, 0)].to_f64() > 0.0)).collect(), 2);
    }
    let l = (0..y.nrows()).map(|i| (0..k).max_by(|&a, &b| y[(i, a)].to_f64().total_cmp(&y[(i, b)].to_f64())).unwrap_or(0)).collect();
    (l, k)
}

/// The bisectors between class means (and between each class and the rest).
fn class_means<T: Real>(ctx: &Context<'_, T>, budget: usize, hs: &mut Vec<Vec<f64>>) {
    let (n, d) = (ctx.x.nrows(), ctx.x.ncols());
    let (lab, classes) = labels(ctx.y);
    let mut count = vec![0usize; classes];
    lab.iter().for_each(|&c| count[c] += 1);
    // indicator columns: one per class, then one for all rows
    let ind = Mat::<T>::from_fn(n, classes + 1, |i, c| {
        let w = if c == classes { 1.0 / n as f64 } else if lab[i] == c { 1.0 / count[c].max(1) as f64 } else { 0.0 };
        T::from_f64(w)
    });
    let mut mu = Mat::<T>::zeros(d, classes + 1);
    ctx.x.tmul_add(ind.as_ref(), mu.as_mut(), T::from_f64(1.0));
    let m = |c: usize| -> Vec<f64> { (0..d).map(|j| mu[(j, c)].to_f64()).collect() };
    let start = hs.len();
    let mut pairs: Vec<(usize, usize)> = (0..classes).map(|a| (a, classes)).collect();
    pairs.extend((0..classes).flat_map(|a| (a + 1..classes).map(move |b| (a, b))));
    for (a, b) in pairs {
        if hs.len() - start >= budget || count[a] == 0 || (b < classes && count[b] == 0) {
            continue;
        }
        let (ma, mb) = (m(a), m(b));
        let w: Vec<f64> = ma.iter().zip(&mb).map(|(p, q)| p - q).collect();
        let mid: Vec<f64> = ma.iter().zip(&mb).map(|(p, q)| 0.5 * (p + q)).collect();
        hs.push(through(&w, &mid, ctx.bias));
    }
}

/// Active gates moved by relative Gaussian steps of 5 %, 20 % and 50 %.
fn perturbations<T: Real>(ctx: &Context<'_, T>, budget: usize, rng: &mut StdRng, hs: &mut Vec<Vec<f64>>) {
    let d = ctx.gates.nrows();
    let active: Vec<usize> = (0..ctx.gates.ncols()).filter(|&j| ctx.active.get(j).copied().unwrap_or(false)).collect();
    if active.is_empty() {
        return;
    }
    for t in 0..budget {
        let j = active[rng.random_range(0..active.len())];
        let eps = [0.05, 0.2, 0.5][t % 3];
        let h: Vec<f64> = (0..d).map(|i| ctx.gates[(i, j)].to_f64()).collect();
        let norm = h.iter().map(|v| v * v).sum::<f64>().sqrt() / (d as f64).sqrt();
        hs.push(h.iter().map(|&v| { let g: f64 = StandardNormal.sample(rng); v + eps * norm * g }).collect::<Vec<f64>>());
    }
}

/// Hyperplanes through data points: anchors drawn in proportion to ‖λ_i‖ (rows the model
/// fits worst); half with a Gaussian normal through the anchor, half the bisector between the
/// anchor and a second row of another class (a split where the classes meet).
fn data_points<T: Real>(ctx: &Context<'_, T>, budget: usize, rng: &mut StdRng, hs: &mut Vec<Vec<f64>>) {
    let (n, d, k) = (ctx.x.nrows(), ctx.x.ncols(), ctx.lam.ncols());
    let mut cum = Vec::with_capacity(n);
    let mut acc = 0.0;
    for i in 0..n {
        acc += (0..k).map(|c| ctx.lam[(i, c)].to_f64().powi(2)).sum::<f64>().sqrt();
        cum.push(acc);
    }
    let draw = |rng: &mut StdRng| -> usize {
        if acc > 0.0 {
            let u = rng.random::<f64>() * acc;
            cum.partition_point(|&c| c < u).min(n - 1)
        } else {
            rng.random_range(0..n)
        }
    };
    let (lab, _) = labels(ctx.y);
    for t in 0..budget {
        let i = draw(rng);
        let p = row(ctx.x, i);
        if t % 2 == 0 {
            let w: Vec<f64> = (0..d).map(|_| -> f64 { StandardNormal.sample(rng) }).collect();
            hs.push(through(&w, &p, ctx.bias));
        } else {
            let mut j = draw(rng);
            for _ in 0..8 {
                if lab[j] != lab[i] {
                    break;
                }
                j = draw(rng);
            }
            let q = row(ctx.x, j);
            let w: Vec<f64> = p.iter().zip(&q).map(|(a, b)| a - b).collect();
            let mid: Vec<f64> = p.iter().zip(&q).map(|(a, b)| 0.5 * (a + b)).collect();
            hs.push(through(&w, &mid, ctx.bias));
        }
    }
}

/// Raises the violation ratio of each gate of `h` (columns) by `steps` ascent steps on a
/// smooth surrogate: with m_i = s(x_i·h/τ) (logistic, τ a quarter of the mean |x_i·h|) and
/// g_c = Xᵀ(m ⊙ λ_c), f(h) = Σ_c ‖g_c‖²/β_c², ∇f = Xᵀ(s′ ⊙ Σ_c (2/β_c²) λ_c ⊙ X g_c). A step of
/// 50 %, 15 % or 5 % of ‖h‖ along ∇f is kept when it raises the *exact* ratio. Returns the
/// final gates and their scores.
pub fn ascend<T: Real>(ctx: &Context<'_, T>, h: Mat<T>, first: Vec<Scored>, steps: usize) -> (Mat<T>, Vec<Scored>) {
    let (n, d, k) = (ctx.x.nrows(), ctx.x.ncols(), ctx.lam.ncols());
    let a = h.ncols();
    let (mut h, mut best) = (h, first);
    let mut live = vec![true; a];
    for _ in 0..steps {
        if a == 0 || !live.iter().any(|&l| l) {
            break;
        }
        let mut s = Mat::<T>::zeros(n, a);
        ctx.x.mul(h.as_ref(), s.as_mut());
        let tau: Vec<f64> = (0..a).map(|j| 0.25 * (0..n).map(|i| s[(i, j)].to_f64().abs()).sum::<f64>() / n as f64 + 1e-300).collect();
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        let mut ml = Mat::<T>::zeros(n, a * k);
        for j in 0..a {
            for i in 0..n {
                let m = sig(s[(i, j)].to_f64() / tau[j]);
                for c in 0..k {
                    ml[(i, j * k + c)] = T::from_f64(m * ctx.lam[(i, c)].to_f64());
                }
            }
        }
        let mut g = Mat::<T>::zeros(d, a * k);
        ctx.x.tmul_add(ml.as_ref(), g.as_mut(), T::from_f64(1.0));
        drop(ml);
        let mut xg = Mat::<T>::zeros(n, a * k);
        ctx.x.mul(g.as_ref(), xg.as_mut());
        let r = Mat::<T>::from_fn(n, a, |i, j| {
            let v = s[(i, j)].to_f64() / tau[j];
            let ds = sig(v) * (1.0 - sig(v)) / tau[j];
            let sum: f64 = (0..k).map(|c| 2.0 / (ctx.beta[c] * ctx.beta[c]) * ctx.lam[(i, c)].to_f64() * xg[(i, j * k + c)].to_f64()).sum();
            T::from_f64(ds * sum)
        });
        drop(xg);
        let mut grad = Mat::<T>::zeros(d, a);
        ctx.x.tmul_add(r.as_ref(), grad.as_mut(), T::from_f64(1.0));
        let etas = [0.5, 0.15, 0.05];
        let trial = Mat::<T>::from_fn(d, a * etas.len(), |i, t| {
            let (j, e) = (t / etas.len(), etas[t % etas.len()]);
            let hn = col_norm(h.as_ref(), j);
            let gn = col_norm(grad.as_ref(), j).max(1e-300);
            T::from_f64(h[(i, j)].to_f64() + e * hn * grad[(i, j)].to_f64() / gn)
        });
        let scored = score(ctx, trial.as_ref());
        for j in 0..a {
            let pick = (0..etas.len()).map(|e| j * etas.len() + e).max_by(|&p, &q| scored[p].ratio.total_cmp(&scored[q].ratio));
            match pick {
                Some(t) if live[j] && scored[t].ratio > best[j].ratio => {
                    best[j] = scored[t].clone();
                    for i in 0..d {
                        h[(i, j)] = trial[(i, t)];
                    }
                }
                _ => live[j] = false,
            }
        }
    }
    (h, best)
}
