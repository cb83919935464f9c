//! Builds the conic program of [`crate::solve_loss`] in clarabel's form
//! `min ½ zᵀPz + qᵀz  s.t.  A z + s = b, s ∈ K` (see the crate docs for the
//! math), and maps clarabel's primal solution back to the weight layout.
//!
//! Variables: `[z (all weights, group-major), t (one per group), r (n × k),
//! e (epigraph variables of the exp-cone losses)]`. The order in which
//! entries are pushed is part of the contract: it fixes clarabel's input and
//! so the returned numbers bit for bit.

use clarabel::algebra::CscMatrix;
use clarabel::solver::SupportedConeT;

use crate::validate::Inputs;
use crate::{Kind, Loss};

/// One validated instance of [`crate::solve_loss`] (`masks` non-empty).
pub(crate) struct Instance<'a> {
    pub data: Inputs<'a>,
    pub beta: f64,
    pub kind: Kind,
    pub loss: Loss,
    /// Softmax labels (argmax column of each row of `y`); empty otherwise.
    pub labels: &'a [usize],
}

impl Instance<'_> {
    /// Sample weight `ω_j` (1 without weights).
    fn om(&self, j: usize) -> f64 {
        self.data.weights.map_or(1.0, |wt| wt[j])
    }
}

/// Column layout of the variables.
pub(crate) struct Layout {
    /// Groups of one output and their (mask index, sign in `F`).
    pub groups: Vec<(usize, f64)>,
    /// Groups per output.
    pub ng1: usize,
    /// All groups, output-major: `gg = c·ng1 + g`.
    pub ng: usize,
    /// `t_gg` at `col_t + gg`.
    pub col_t: usize,
    /// `r_jc` at `col_r + j·k + c`.
    pub col_r: usize,
    /// First epigraph variable of the exp-cone losses.
    pub col_e: usize,
    /// Number of variables.
    pub nvar: usize,
}

impl Layout {
    fn new(inst: &Instance, n_active: usize) -> Self {
        let (p, d, n, k) = (inst.data.masks.len(), inst.data.d, inst.data.n, inst.data.k);
        let groups: Vec<(usize, f64)> = match inst.kind {
            Kind::Relu => (0..p)
                .map(|i| (i, 1.0))
                .chain((0..p).map(|i| (i, -1.0)))
                .collect(),
            Kind::GatedRelu => (0..p).map(|i| (i, 1.0)).collect(),
        };
        let ng1 = groups.len();
        let ng = k * ng1;
        let nz = ng * d; // weight variables
        let col_t = nz;
        let col_r = nz + ng;
        let col_e = col_r + n * k;
        let ne = match inst.loss {
            Loss::Squared => 0,
            Loss::Logistic => 3 * k * n_active, // (ℓ, u1, u2) per (j, c)
            Loss::Softmax => (1 + k) * n_active, // (ℓ, u_1..u_k) per j
        };
        Layout {
            groups,
            ng1,
            ng,
            col_t,
            col_r,
            col_e,
            nvar: col_e + ne,
        }
    }
}

/// The program in clarabel's form, plus the layout to read the solution.
pub(crate) struct Program {
    pub p_mat: CscMatrix<f64>,
    pub q: Vec<f64>,
    pub a_mat: CscMatrix<f64>,
    pub b: Vec<f64>,
    pub cones: Vec<SupportedConeT<f64>>,
    pub layout: Layout,
}

/// Constraint rows `A z + s = b` as triplets, filled cone block by cone block.
#[derive(Default)]
struct Rows {
    ri: Vec<usize>,
    ci: Vec<usize>,
    vals: Vec<f64>,
    b: Vec<f64>,
    /// Next row to fill.
    row: usize,
}

impl Rows {
    /// Adds `A[r, c] = v` (zeros are skipped to keep `A` sparse).
    fn push(&mut self, r: usize, c: usize, v: f64) {
        if v != 0.0 {
            self.ri.push(r);
            self.ci.push(c);
            self.vals.push(v);
        }
    }
}

/// Builds the program of `inst`.
pub(crate) fn build(inst: &Instance) -> Program {
    let active: Vec<usize> = (0..inst.data.n).filter(|&j| inst.om(j) > 0.0).collect();
    let lay = Layout::new(inst, active.len());
    // ---- objective: Σ_j ω_j loss_j + β Σ t_g
    let mut q = vec![0.0; lay.nvar];
    q[lay.col_t..lay.col_r]
        .iter_mut()
        .for_each(|c| *c = inst.beta);
    let p_mat = quadratic(inst, &lay);
    // ---- constraints  A z + s = b, s ∈ K
    let mut rows = Rows::default();
    let mut cones: Vec<SupportedConeT<f64>> =
        vec![SupportedConeT::ZeroConeT(inst.data.n * inst.data.k)];
    prediction_rows(inst, &lay, &mut rows);
    cones.extend((0..lay.ng).map(|_| SupportedConeT::SecondOrderConeT(inst.data.d + 1)));
    norm_cone_rows(inst, &lay, &mut rows);
    if inst.kind == Kind::Relu {
        cones.push(SupportedConeT::NonnegativeConeT(lay.ng * inst.data.n));
        relu_cone_rows(inst, &lay, &mut rows);
    }
    if inst.loss != Loss::Squared {
        exp_cone_rows(inst, &lay, &active, &mut rows, &mut q, &mut cones);
    }
    let nrows = rows.row;
    debug_assert_eq!(rows.b.len(), nrows);
    let a_mat = CscMatrix::new_from_triplets(nrows, lay.nvar, rows.ri, rows.ci, rows.vals);
    Program {
        p_mat,
        q,
        a_mat,
        b: rows.b,
        cones,
        layout: lay,
    }
}

/// `P`: `ω_j` on the residuals `r_jc` for the squared loss, empty otherwise.
fn quadratic(inst: &Instance, lay: &Layout) -> CscMatrix<f64> {
    let nvar = lay.nvar;
    if inst.loss != Loss::Squared {
        return CscMatrix::new_from_triplets(nvar, nvar, Vec::new(), Vec::new(), Vec::new());
    }
    let mut idx = Vec::new();
    let mut val = Vec::new();
    for j in 0..inst.data.n {
        if inst.om(j) > 0.0 {
            for c in 0..inst.data.k {
                idx.push(lay.col_r + j * inst.data.k + c);
                val.push(inst.om(j));
            }
        }
    }
    CscMatrix::new_from_triplets(nvar, nvar, idx.clone(), idx, val)
}

/// Zero cone: `r − F z = −y` (squared: `r` is the residual) or `0` (`r` is
/// the prediction).
fn prediction_rows(inst: &Instance, lay: &Layout, rows: &mut Rows) {
    let (d, k) = (inst.data.d, inst.data.k);
    for j in 0..inst.data.n {
        for c in 0..k {
            rows.push(rows.row, lay.col_r + j * k + c, 1.0);
            for (g, &(i, sgn)) in lay.groups.iter().enumerate() {
                if inst.data.masks[i][j] {
                    let gg = c * lay.ng1 + g;
                    for l in 0..d {
                        rows.push(rows.row, gg * d + l, -sgn * inst.data.x[j * d + l]);
                    }
                }
            }
            rows.b.push(if inst.loss == Loss::Squared {
                -inst.data.y[j * k + c]
            } else {
                0.0
            });
            rows.row += 1;
        }
    }
}

/// Second-order cones: `s = (t_g, z_g)`.
fn norm_cone_rows(inst: &Instance, lay: &Layout, rows: &mut Rows) {
    let d = inst.data.d;
    for gg in 0..lay.ng {
        rows.push(rows.row, lay.col_t + gg, -1.0);
        rows.b.push(0.0);
        rows.row += 1;
        for l in 0..d {
            rows.push(rows.row, gg * d + l, -1.0);
            rows.b.push(0.0);
            rows.row += 1;
        }
    }
}

/// Nonnegative cone (ReLU): `s = (2D_i − I) X z_g ≥ 0`.
fn relu_cone_rows(inst: &Instance, lay: &Layout, rows: &mut Rows) {
    let d = inst.data.d;
    for gg in 0..lay.ng {
        let (i, _) = lay.groups[gg % lay.ng1];
        for j in 0..inst.data.n {
            let s = if inst.data.masks[i][j] { 1.0 } else { -1.0 };
            for l in 0..d {
                rows.push(rows.row, gg * d + l, -s * inst.data.x[j * d + l]);
            }
            rows.b.push(0.0);
            rows.row += 1;
        }
    }
}

/// Exp-cone losses; each block `[ℓ, u_1, …, u_m]` sits at `col_e + e·(m+1)`,
/// one block per `(j, c)` (logistic, `m = 2`) or per `j` (softmax, `m = k`),
/// for the rows `j` with `ω_j > 0`.
fn exp_cone_rows(
    inst: &Instance,
    lay: &Layout,
    active: &[usize],
    rows: &mut Rows,
    q: &mut [f64],
    cones: &mut Vec<SupportedConeT<f64>>,
) {
    let (k, loss, col_r) = (inst.data.k, inst.loss, lay.col_r);
    let m = if loss == Loss::Logistic { 2 } else { k };
    let mut blocks = Vec::new(); // (row j, output c or usize::MAX)
    for &j in active {
        if loss == Loss::Logistic {
            blocks.extend((0..k).map(|c| (j, c)));
        } else {
            blocks.push((j, usize::MAX));
        }
    }
    let base = |e: usize| lay.col_e + e * (m + 1);
    // Σ u ≤ 1:  s = 1 − Σ u ≥ 0
    for e in 0..blocks.len() {
        for t in 1..=m {
            rows.push(rows.row, base(e) + t, 1.0);
        }
        rows.b.push(1.0);
        rows.row += 1;
    }
    cones.push(SupportedConeT::NonnegativeConeT(blocks.len()));
    for (e, &(j, c)) in blocks.iter().enumerate() {
        let ell = base(e);
        q[ell] += inst.om(j);
        for t in 1..=m {
            let row = rows.row;
            // first component: a_t − ℓ
            match loss {
                Loss::Logistic if t == 1 => {
                    // a = −y r:  s = −y r − ℓ
                    rows.push(row, col_r + j * k + c, inst.data.y[j * k + c]);
                }
                Loss::Logistic => {} // a = 0: s = −ℓ
                _ => {
                    // a = r_j,t−1: s = r − ℓ
                    rows.push(row, col_r + j * k + (t - 1), -1.0);
                }
            }
            rows.push(row, ell, 1.0);
            rows.b.push(0.0);
            // second component: 1
            rows.b.push(1.0);
            // third component: u_t
            rows.push(row + 2, ell + t, -1.0);
            rows.b.push(0.0);
            rows.row += 3;
            cones.push(SupportedConeT::ExponentialConeT());
        }
        if loss == Loss::Softmax {
            q[col_r + j * k + inst.labels[j]] -= inst.om(j);
        }
    }
}

/// Weights `(v, w)` in the [`crate::OracleSolution`] layout from clarabel's
/// primal solution (`w` empty for gated ReLU).
pub(crate) fn unpack(
    inst: &Instance,
    lay: &Layout,
    xsol: &[f64],
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let (p, d, k) = (inst.data.masks.len(), inst.data.d, inst.data.k);
    let mut v = vec![vec![0.0; d]; k * p];
    let mut w = if inst.kind == Kind::Relu {
        vec![vec![0.0; d]; k * p]
    } else {
        Vec::new()
    };
    for c in 0..k {
        for (g, &(i, sgn)) in lay.groups.iter().enumerate() {
            let gg = c * lay.ng1 + g;
            let dst = if sgn > 0.0 {
                &mut v[c * p + i]
            } else {
                &mut w[c * p + i]
            };
            dst.copy_from_slice(&xsol[gg * d..(gg + 1) * d]);
        }
    }
    (v, w)
}
