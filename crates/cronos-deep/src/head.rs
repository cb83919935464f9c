//! The convex head of CRONOS-AM: solve the two-layer (gated) ReLU program on the current
//! features with `cronos`, turn the recovered network into ordinary frozen layers, and
//! evaluate the head subproblem's objective for a fixed head on given features.

use crate::dense::{Dense, GatedDense};
use crate::error::Result;
use crate::relu::Relu;
use crate::sequential::Sequential;
use crate::tensor::Tensor;
use cronos::{Activation, Beta, Model, Network, Settings, Solution, Solver};
use faer::MatRef;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Settings of each head solve. The defaults are what a head solve per outer step can afford
/// on a CPU: gated ReLU (no cone constraints: ~10× faster to solve than ReLU here), few
/// patterns and a modest iteration cap, since the next outer step re-solves anyway.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeadConfig {
    /// ReLU or gated ReLU.
    pub activation: Activation,
    /// Activation patterns P (up to P·k hidden neurons, P·2k for ReLU).
    pub n_patterns: usize,
    /// β as a fraction of β_max (of the first solve's features; see `beta`).
    pub beta_fraction: f64,
    /// Absolute β, overriding `beta_fraction`. CRONOS-AM sets it after its first solve so
    /// that every outer step works on one and the same objective.
    pub beta: Option<f64>,
    /// ADMM iteration cap per solve.
    pub max_iter: usize,
    /// Certified relative gap at which a solve stops early.
    pub tol_gap: f64,
    /// Wall-clock cap per solve (seconds).
    pub time_limit: Option<f64>,
    /// Solve on this many training rows (a fixed seeded subset) instead of all.
    pub rows: Option<usize>,
    /// Solver threads (0: all cores).
    pub threads: usize,
}

impl Default for HeadConfig {
    fn default() -> Self {
        HeadConfig {
            activation: Activation::GatedRelu,
            n_patterns: 16,
            beta_fraction: 1e-3,
            beta: None,
            max_iter: 40,
            tol_gap: 1e-2,
            time_limit: None,
            rows: None,
            threads: 0,
        }
    }
}

impl HeadConfig {
    /// The solver settings for a given seed.
    pub fn settings(&self, seed: u64) -> Settings {
        Settings {
            activation: self.activation,
            n_patterns: self.n_patterns,
            beta: self
                .beta
                .map_or(Beta::Fraction(self.beta_fraction), Beta::Value),
            max_iter: self.max_iter,
            tol_gap: self.tol_gap,
            time_limit: self.time_limit.map(Duration::from_secs_f64),
            seed,
            threads: self.threads,
            // gates stay fixed while the features move under them: origin-near hyperplanes
            // cut through fewer rows, so fewer patterns flip per feature step (centred gates
            // made a small SGD step raise the head objective 4.8 → 7.2 in the alternation test)
            centered_gates: false,
            ..Settings::default()
        }
    }
}

/// The outcome of one head solve.
pub struct HeadSolve {
    /// The convex model (gates, weights, β per output).
    pub model: Model<f32>,
    /// Status, iterations, certificate.
    pub solution: Solution,
    /// Whether the solve started from the previous head.
    pub warm_started: bool,
}

/// Solves the head on features `f` (n × d) and ±1 targets `y` (n × k), warm-started from
/// `warm` when given (same shapes and settings).
///
/// # Errors
/// When the solver refuses its input (e.g. non-finite features).
pub fn solve_head(
    f: &Tensor,
    y: &Tensor,
    cfg: &HeadConfig,
    seed: u64,
    warm: Option<&Model<f32>>,
) -> Result<HeadSolve> {
    let x = f.mat();
    let yk = y.mat();
    let mut solver = Solver::new(x, yk, cfg.settings(seed))?;
    let warm_started = match warm {
        Some(w) => warm_start(&mut solver, w)?,
        None => false,
    };
    let solution = solver.solve();
    Ok(HeadSolve {
        model: solver.model(),
        solution,
        warm_started,
    })
}

/// Installs a previous head as the solver's starting point. Convex weights only mean the same
/// neurons under the same gates: the solver draws its gates from the same seed, but on new
/// features de-duplication may keep other draws (e.g. when ReLU features make several gates
/// all-active). So every new gate takes the weights of the identical old gate, and neurons
/// whose gate is new start at zero. Returns whether anything was carried over.
fn warm_start(solver: &mut Solver<f32>, model: &Model<f32>) -> Result<bool> {
    let now = solver.model();
    if now.gates.nrows() != model.gates.nrows()
        || now.activation != model.activation
        || now.n_outputs != model.n_outputs
    {
        return Ok(false);
    }
    let (p_new, p_old, k) = (now.gates.ncols(), model.gates.ncols(), now.n_outputs);
    let same = |a: usize, b: usize| {
        (0..now.gates.nrows()).all(|i| now.gates[(i, a)] == model.gates[(i, b)])
    };
    let map: Vec<Option<usize>> = (0..p_new)
        .map(|j| (0..p_old).find(|&o| same(j, o)))
        .collect();
    if map.iter().all(Option::is_none) {
        return Ok(false);
    }
    let weights = now
        .layout()
        .remap_from(&model.layout(), &map, model.weights.as_ref())?;
    let carried = Model::from_parts(
        now.activation,
        now.bias,
        now.n_features,
        k,
        now.gates.clone(),
        weights,
        now.beta.clone(),
    );
    // false when the carried point is worse than a cold start (then the solver starts cold)
    Ok(solver.warm_start(&carried)?)
}

fn row_major(m: MatRef<'_, f32>) -> Vec<f32> {
    (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)]))
        .collect()
}

/// The recovered network as frozen layers: gated dense → dense (gated ReLU), or dense →
/// ReLU → dense (ReLU). The output layer has a zero bias (the convex program has none).
pub fn head_layers(net: &Network<f32>) -> Sequential {
    let (d, m, k) = (net.w1.nrows(), net.width(), net.w2.ncols());
    let w1 = row_major(net.w1.as_ref());
    let w2 = Dense::from_weights(m, k, row_major(net.w2.as_ref()), vec![0.0; k]).frozen();
    match &net.gates {
        Some((gw, gb)) => Sequential::new(&[d])
            .push(
                GatedDense::new(d, m, w1, net.b1.clone(), row_major(gw.as_ref()), gb.clone())
                    .frozen(),
            )
            .push(w2),
        None => Sequential::new(&[d])
            .push(Dense::from_weights(d, m, w1, net.b1.clone()).frozen())
            .push(Relu::new())
            .push(w2),
    }
}

/// The head subproblem's objective for a fixed network on features `f`:
/// ½‖net(f) − y‖² + Σ_j β_c ‖(w1_j, b1_j)‖·|w2_jc| (which equals the convex objective
/// ½‖Σ D_i F̃ u_i − y‖² + β Σ‖u_i‖ at the head's convex weights).
pub fn head_objective(net: &Network<f32>, beta: &[f64], f: &Tensor, y: &Tensor) -> f64 {
    let pred = head_layers(net).predict(f);
    let fit: f64 = pred
        .data
        .iter()
        .zip(&y.data)
        .map(|(&p, &t)| 0.5 * ((p - t) as f64).powi(2))
        .sum();
    let (d, m) = (net.w1.nrows(), net.width());
    let mut pen = 0.0;
    for j in 0..m {
        let mut sq = (net.b1[j] as f64).powi(2);
        for i in 0..d {
            sq += (net.w1[(i, j)] as f64).powi(2);
        }
        for (c, b) in beta.iter().enumerate() {
            pen += b * sq.sqrt() * (net.w2[(j, c)] as f64).abs();
        }
    }
    fit + pen
}
