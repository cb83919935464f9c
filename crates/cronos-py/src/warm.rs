//! Warm start across `fit` calls (`warm_start=True` in the estimators).
//!
//! The previous fit's gates and convex weights are carried into a new solver neuron by
//! neuron. Convex weights only mean the same neurons under the same gates: the solver draws its
//! gates from the seed, but on other data de-duplication may keep other draws, and gated ReLU
//! moves each gate's bias entry to the data mean. So a gate is matched on its direction (every
//! row but the last, which is the bias or the intercept column of a weighted fit), each new
//! gate takes the weights of the old gate with the identical direction, and neurons whose gate
//! is new start at zero. The same rule as `cronos-deep`'s head warm start, with the looser
//! match because the Python package refits on new data (another split, more rows).

use cronos::{Activation, Model, Real, Solver, WeightLayout};
use faer::Mat;

/// Starts `solver` from the previous fit's `gates` ((d + 1) × P_old) and `weights`
/// ((d + 1) × (nb_old · k)). Returns whether any neuron was carried over (false: a cold start,
/// because the width, output count or every gate differs).
pub(crate) fn carry<T: Real>(solver: &mut Solver<T>, gates: &Mat<T>, weights: &Mat<T>) -> bool {
    let now = solver.model();
    let (rows, k) = (now.gates.nrows(), now.n_outputs);
    let relu = now.activation == Activation::Relu;
    let (p_new, p_old) = (now.gates.ncols(), gates.ncols());
    let old = WeightLayout::new(rows, p_old, relu, k);
    if gates.nrows() != rows || weights.nrows() != rows || p_old == 0 || weights.ncols() != old.groups() {
        return false;
    }
    // the direction rows: all but the last (a single row is compared whole)
    let dir = if rows > 1 { rows - 1 } else { rows };
    let same = |a: usize, b: usize| (0..dir).all(|i| now.gates[(i, a)] == gates[(i, b)]);
    let map: Vec<Option<usize>> = (0..p_new).map(|j| (0..p_old).find(|&o| same(j, o))).collect();
    if map.iter().all(Option::is_none) {
        return false;
    }
    let Ok(carried) = now.layout().remap_from(&old, &map, weights.as_ref()) else { return false };
    let start = Model::from_parts(now.activation, now.bias, now.n_features, k, now.gates.clone(), carried, now.beta.clone());
    matches!(solver.warm_start(&start), Ok(true))
}
