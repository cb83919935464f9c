//! The passes over X of the ReLU endgame's augmented Lagrangian on the cone constraints
//! (see [`crate::relu_endgame`]). For weights z (d × 2P·k), multipliers μ ≥ 0 (one per row and
//! block, kept in the shards' ν as ν = −μ/(ρσ), the scaling of ADMM's own cone dual, so that
//! the certificate and ADMM read them unchanged) and a penalty σ_al, the term is
//!
//!   A(z) = (1/2σ_al) Σ (‖max(0, μ − σ_al(2D_j − I)X z_b)‖² − ‖μ‖²),
//!
//! with gradient −Xᵀ(2D_j − I)w, w = max(0, μ − σ_al(2D_j − I)X z_b), and generalized
//! Hessian σ_al Xᵀ Π X, Π the rows where w > 0 (because (2D_j − I)² = I).

use super::*;

/// What [`Design::cone_al_pass`] does besides computing the term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConeAlMode {
    /// The value and the violation only (line-search trials).
    Value,
    /// Also the gradient, and the rows Π of the generalized Hessian (kept in the shards).
    Gradient,
    /// Also the multiplier update μ ← w, written to ν.
    Update,
}

/// Sums of a [`Design::cone_al_pass`], over rows, shards and ranks.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConeAlStats {
    /// The augmented-Lagrangian term A(z).
    pub value: f64,
    /// The largest wrong-sign pre-activation max(0, −(2D_j − I)X z_b).
    pub violation: f64,
    /// The largest |X z_b|.
    pub largest: f64,
}

impl<T: Real> Design<T> {
    /// The augmented-Lagrangian term at weights `z` (d × 2P·k) with penalty `sigma_al`;
    /// `rho_sigma` converts ν to μ = max(0, −ρσν). `grad` (d × 2P·k) receives −Xᵀ(2D − I)w in
    /// modes other than [`ConeAlMode::Value`].
    pub fn cone_al_pass(&mut self, z: MatRef<'_, T>, rho_sigma: f64, sigma_al: f64, mode: ConeAlMode, mut grad: MatMut<'_, T>) -> ConeAlStats {
        let (p, w) = (self.p(), z.ncols());
        assert!(w <= self.width, "cone pass wider than the buffers");
        let lay = WeightLayout::new(self.d(), p, true, w / (2 * p).max(1));
        let (x, pat) = (&*self.x, &self.patterns);
        let prep = x.prepare(z);
        let (rs, sa) = (rho_sigma, sigma_al);
        let parts: Vec<ConeAlStats> = self
            .shards
            .par_iter_mut()
            .map(|sh| {
                let mut st = ConeAlStats::default();
                let (r0, nr) = (sh.rows.start, sh.rows.len());
                if mode != ConeAlMode::Value && sh.al_rows.len() != nr * w {
                    sh.al_rows = vec![false; nr * w];
                }
                let mut acc = sh.acc.as_mut().subcols_mut(0, w);
                x.tacc_begin(acc.as_mut(), &mut sh.rm);
                for (b0, bl) in blocks(&sh.rows.clone()) {
                    pat.unpack_rows(b0, bl, &mut sh.mask[..bl * p]);
                    let a = x.mul_block(b0, bl, z, &prep, &mut sh.a, &mut sh.tmp);
                    for col in 0..w {
                        let m = &sh.mask[lay.group_pattern(col) * bl..(lay.group_pattern(col) + 1) * bl];
                        let at = col * nr + (b0 - r0);
                        let out = &mut sh.s[col * bl..(col + 1) * bl];
                        for i in 0..bl {
                            let e = 2.0 * m[i].to_f64() - 1.0;
                            let g = e * a[col * bl + i].to_f64();
                            st.violation = st.violation.max(-g);
                            st.largest = st.largest.max(g.abs());
                            let mu = (-rs * sh.nu[at + i].to_f64()).max(0.0);
                            let wv = (mu - sa * g).max(0.0);
                            st.value += (wv * wv - mu * mu) / (2.0 * sa);
                            out[i] = T::from_f64(-e * wv);
                            if mode != ConeAlMode::Value {
                                sh.al_rows[at + i] = wv > 0.0;
                            }
                            if mode == ConeAlMode::Update {
                                sh.nu[at + i] = T::from_f64(-wv / rs);
                            }
                        }
                    }
                    if mode != ConeAlMode::Value {
                        x.tacc_add(b0, bl, &sh.s[..bl * w], w, acc.as_mut(), &mut sh.rm, &mut sh.tmp);
                    }
                }
                x.tacc_finish(acc, &sh.rm);
                st
            })
            .collect();
        if mode != ConeAlMode::Value {
            reduce_into(grad.as_mut(), &self.shards, 0, &*self.comm);
        }
        let st = tree_reduce(parts, |a, b| ConeAlStats { value: a.value + b.value, violation: a.violation.max(b.violation), largest: a.largest.max(b.largest) });
        let comm = &*self.comm;
        ConeAlStats {
            value: crate::distributed::sum_scalar(comm, st.value),
            violation: -crate::distributed::min_scalar(comm, -st.violation),
            largest: -crate::distributed::min_scalar(comm, -st.largest),
        }
    }

    /// `out = σ_al Xᵀ(Π ⊙ X v)` per block (d × 2P·k), Π the rows of the last
    /// [`Design::cone_al_pass`] in gradient or update mode.
    pub fn cone_al_hessian(&mut self, v: MatRef<'_, T>, sigma_al: f64, mut out: MatMut<'_, T>) {
        let w = v.ncols();
        assert!(w <= self.width, "cone pass wider than the buffers");
        let x = &*self.x;
        let prep = x.prepare(v);
        let s = T::from_f64(sigma_al);
        self.shards.par_iter_mut().for_each(|sh| {
            let (r0, nr) = (sh.rows.start, sh.rows.len());
            let mut acc = sh.acc.as_mut().subcols_mut(0, w);
            x.tacc_begin(acc.as_mut(), &mut sh.rm);
            for (b0, bl) in blocks(&sh.rows.clone()) {
                let a = x.mul_block(b0, bl, v, &prep, &mut sh.a, &mut sh.tmp);
                for col in 0..w {
                    let rows = &sh.al_rows[col * nr + (b0 - r0)..col * nr + (b0 - r0) + bl];
                    let out = &mut sh.s[col * bl..(col + 1) * bl];
                    for i in 0..bl {
                        out[i] = if rows[i] { s * a[col * bl + i] } else { T::default() };
                    }
                }
                x.tacc_add(b0, bl, &sh.s[..bl * w], w, acc.as_mut(), &mut sh.rm, &mut sh.tmp);
            }
            x.tacc_finish(acc, &sh.rm);
        });
        reduce_into(out.as_mut(), &self.shards, 0, &*self.comm);
    }
}

impl<T: Real> Design<T> {
    /// One accelerated projected-gradient (FISTA) step on the cone multipliers for the
    /// certificate's dual feasibility: with λ fixed, every block's ‖q_b‖, q_b = Xᵀ(±D_jλ_c +
    /// (2D_j − I)μ_b), is lowered over μ_b ≥ 0 (any such μ keeps the bound valid, and the smaller
    /// max_b ‖q_b‖, the tighter it is). `q` holds q at the current point y (kept in ν, as μ is);
    /// the step is μ⁺ = max(0, y − η(2D_j − I)X q_b), y⁺ = max(0, μ⁺ + m(μ⁺ − μ)) with the
    /// previous μ kept in the shards (`start` takes it from ν), and `q_next` receives q at y⁺.
    /// [`Design::cone_dual_finish`] then stores the last μ⁺ in ν.
    #[allow(clippy::too_many_arguments)]
    pub fn cone_dual_step(&mut self, lam: MatRef<'_, T>, q: MatRef<'_, T>, rho_sigma: f64, eta: f64, momentum: f64, start: bool, mut q_next: MatMut<'_, T>) {
        let (p, w) = (self.p(), q.ncols());
        assert!(w <= self.width, "cone pass wider than the buffers");
        let lay = WeightLayout::new(self.d(), p, true, w / (2 * p).max(1));
        let (x, pat) = (&*self.x, &self.patterns);
        let prep = x.prepare(q);
        let rs = rho_sigma;
        self.shards.par_iter_mut().for_each(|sh| {
            let (r0, nr) = (sh.rows.start, sh.rows.len());
            if start || sh.al_prev.len() != nr * w {
                sh.al_prev = sh.nu[..nr * w].iter().map(|v| T::from_f64((-rs * v.to_f64()).max(0.0))).collect();
            }
            let mut acc = sh.acc.as_mut().subcols_mut(0, w);
            x.tacc_begin(acc.as_mut(), &mut sh.rm);
            for (b0, bl) in blocks(&sh.rows.clone()) {
                pat.unpack_rows(b0, bl, &mut sh.mask[..bl * p]);
                let a = x.mul_block(b0, bl, q, &prep, &mut sh.a, &mut sh.tmp);
                for col in 0..w {
                    let (c, j) = (lay.group_output(col), lay.group_pattern(col));
                    let sign = WeightLayout::side_sign(lay.group_side(col));
                    let m = &sh.mask[j * bl..(j + 1) * bl];
                    let lc = &lam.col(c).try_as_col_major().unwrap().as_slice()[b0..b0 + bl];
                    let at = col * nr + (b0 - r0);
                    let out = &mut sh.s[col * bl..(col + 1) * bl];
                    for i in 0..bl {
                        let e = 2.0 * m[i].to_f64() - 1.0;
                        let y = (-rs * sh.nu[at + i].to_f64()).max(0.0);
                        let mu = (y - eta * e * a[col * bl + i].to_f64()).max(0.0);
                        let y_next = (mu + momentum * (mu - sh.al_prev[at + i].to_f64())).max(0.0);
                        sh.al_prev[at + i] = T::from_f64(mu);
                        sh.nu[at + i] = T::from_f64(-y_next / rs);
                        out[i] = T::from_f64(sign * m[i].to_f64() * lc[i].to_f64() + e * y_next);
                    }
                }
                x.tacc_add(b0, bl, &sh.s[..bl * w], w, acc.as_mut(), &mut sh.rm, &mut sh.tmp);
            }
            x.tacc_finish(acc, &sh.rm);
        });
        reduce_into(q_next.as_mut(), &self.shards, 0, &*self.comm);
    }

    /// Stores the last multipliers of [`Design::cone_dual_step`] in ν.
    pub fn cone_dual_finish(&mut self, rho_sigma: f64) {
        for sh in &mut self.shards {
            for (v, mu) in sh.nu.iter_mut().zip(&sh.al_prev) {
                *v = T::from_f64(-mu.to_f64() / rho_sigma);
            }
        }
    }
}
