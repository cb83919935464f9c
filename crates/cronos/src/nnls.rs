//! Non-negative least squares by the Lawson–Hanson active-set method, for few dimensions.
//!
//! The ReLU certificate needs, for a block at zero, the cone multipliers μ ≥ 0 that minimize
//! ‖a + Σ_i μ_i m_i‖ (a = F_bᵀλ, m_i = (2D_j − I)_ii x_i): the block is dual feasible when that
//! minimum is at most β. The minimizer's residual is the projection of a onto the block's cone,
//! so the active set has at most d members: an exact solve costs a few d × d systems, where
//! accelerated gradient steps on all n multipliers stall on ill-conditioned blocks (wine: a
//! block left at 1.09β after 500 steps, which the primal then showed to be zero).

/// `μ ≥ 0` minimizing ‖a + C μ‖ (C: d × m, column-major, `cols[i]` its column i), within
/// `max_iter` outer iterations; returns μ (zero where not in the active set).
pub fn nnls_residual(a: &[f64], cols: &[Vec<f64>], max_iter: usize) -> Vec<f64> {
    let (d, m) = (a.len(), cols.len());
    let e: Vec<f64> = a.iter().map(|v| -v).collect();
    let mut mu = vec![0.0; m];
    let mut active: Vec<usize> = Vec::new();
    let scale = cols.iter().map(|c| dot(c, c)).fold(0.0, f64::max).max(dot(a, a)).max(f64::MIN_POSITIVE);
    let tol = 1e-12 * scale;
    for _ in 0..max_iter {
        let r = residual(&e, cols, &mu, &active);
        let (best, w) = (0..m).filter(|i| !active.contains(i)).map(|i| (i, dot(&cols[i], &r))).fold((usize::MAX, tol), |acc, x| if x.1 > acc.1 { x } else { acc });
        if best == usize::MAX || w <= tol || active.len() >= d {
            break;
        }
        active.push(best);
        loop {
            let Some(s) = least_squares(&e, cols, &active) else {
                active.pop();
                return mu;
            };
            if s.iter().all(|v| *v > 0.0) {
                for (k, &i) in active.iter().enumerate() {
                    mu[i] = s[k];
                }
                break;
            }
            // step towards s until the first member reaches zero, and drop it
            let alpha = active.iter().zip(&s).filter(|(_, sv)| **sv <= 0.0).map(|(&i, sv)| mu[i] / (mu[i] - sv)).fold(f64::INFINITY, f64::min);
            for (k, &i) in active.iter().enumerate() {
                mu[i] += alpha * (s[k] - mu[i]);
            }
            active.retain(|&i| mu[i] > 1e-15 * scale.sqrt());
            for i in 0..m {
                if !active.contains(&i) {
                    mu[i] = 0.0;
                }
            }
            if active.is_empty() {
                break;
            }
        }
    }
    mu
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// e − C μ over the active columns.
fn residual(e: &[f64], cols: &[Vec<f64>], mu: &[f64], active: &[usize]) -> Vec<f64> {
    let mut r = e.to_vec();
    for &i in active {
        r.iter_mut().zip(&cols[i]).for_each(|(a, c)| *a -= mu[i] * c);
    }
    r
}

/// argmin_s ‖e − C_A s‖ by the normal equations (|A| ≤ d, small); `None` if singular.
fn least_squares(e: &[f64], cols: &[Vec<f64>], active: &[usize]) -> Option<Vec<f64>> {
    let k = active.len();
    let mut g = vec![0.0; k * k];
    let mut rhs = vec![0.0; k];
    for (p, &i) in active.iter().enumerate() {
        rhs[p] = dot(&cols[i], e);
        for (q, &j) in active.iter().enumerate() {
            g[p * k + q] = dot(&cols[i], &cols[j]);
        }
    }
    // a relative ridge against rank deficiency (g is symmetric: its layout does not matter)
    let top = (0..k).map(|p| g[p * k + p]).fold(0.0, f64::max);
    (0..k).for_each(|p| g[p * k + p] += 1e-13 * top);
    if !crate::block_precond::cholesky_in_place(&mut g, k) {
        return None;
    }
    let mut x = rhs;
    crate::block_precond::cholesky_solve(&g, k, &mut x);
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm_at(a: &[f64], cols: &[Vec<f64>], mu: &[f64]) -> f64 {
        let mut r = a.to_vec();
        for (c, m) in cols.iter().zip(mu) {
            r.iter_mut().zip(c).for_each(|(x, y)| *x += m * y);
        }
        dot(&r, &r).sqrt()
    }

    #[test]
    fn matches_the_projection_onto_a_cone_in_the_plane() {
        // cone {z : z_0 ≥ 0, z_1 ≥ 0}; multipliers act through columns −e_0, −e_1... here m_i
        // are the rows of (2D − I)X = I, so ‖a + μ‖ over μ ≥ 0 removes the negative parts
        let cols = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let a = [-3.0, 2.0];
        let mu = nnls_residual(&a, &cols, 10);
        assert!((mu[0] - 3.0).abs() < 1e-12 && mu[1] == 0.0, "{mu:?}");
        assert!((norm_at(&a, &cols, &mu) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn never_worse_than_zero_or_random_feasible_multipliers() {
        let mut state = 7u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        };
        let cols: Vec<Vec<f64>> = (0..40).map(|_| (0..5).map(|_| next()).collect()).collect();
        let a: Vec<f64> = (0..5).map(|_| 3.0 * next()).collect();
        let mu = nnls_residual(&a, &cols, 100);
        assert!(mu.iter().all(|v| *v >= 0.0));
        let best = norm_at(&a, &cols, &mu);
        assert!(best <= norm_at(&a, &cols, &vec![0.0; 40]) + 1e-12);
        for _ in 0..200 {
            let trial: Vec<f64> = (0..40).map(|_| next().max(0.0) * 0.3).collect();
            assert!(best <= norm_at(&a, &cols, &trial) + 1e-9);
        }
    }
}
