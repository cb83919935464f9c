//! The layout of the convex weights: which block of d numbers belongs to which output,
//! side and pattern.
//!
//! The weights of k outputs are one d × (nb·k) column-major matrix (a plain slice in the
//! solver, a [`faer::Mat`] in a [`crate::Model`]). Its columns are *blocks* (also called
//! groups: the group lasso acts on each one), ordered by output c, then side, then pattern j:
//!
//! ```text
//!   block(c, side, j) = c·nb + side·P + j,     elements block·d .. (block + 1)·d
//! ```
//!
//! ReLU has two sides per pattern, v_j (side 0, output weight +1) and w_j (side 1, output
//! weight −1), so nb = 2P; gated ReLU has one (nb = P). Output c owns blocks c·nb .. (c+1)·nb
//! and its β is `beta[c]`. The operators F, Fᵀ act through the "delta" matrix d × (P·k) whose
//! column c·P + j is v_j − w_j of output c ([`WeightLayout::delta_block`]).
//!
//! Every index computation on the weights goes through this type, so that the layout is
//! stated once. A layout can describe any number of outputs: the operators also run on
//! Nyström sketch columns, which are "outputs" of the same per-output shape
//! ([`WeightLayout::for_len`]).

use crate::error::{invalid_data, Result};
use crate::real::Real;
use faer::{Mat, MatRef};
use std::ops::Range;

/// Side of a ReLU weight block: v (output weight +1).
pub const SIDE_V: usize = 0;
/// Side of a ReLU weight block: w (output weight −1).
pub const SIDE_W: usize = 1;

/// Shape and index arithmetic of the convex weights (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightLayout {
    d: usize,
    p: usize,
    relu: bool,
    k: usize,
}

impl WeightLayout {
    /// Blocks of `d` rows for `p` patterns, two sides each when `relu`, for `k` outputs.
    pub fn new(d: usize, p: usize, relu: bool, k: usize) -> Self {
        WeightLayout { d, p, relu, k }
    }

    /// The same per-output shape for `k` outputs.
    pub fn with_outputs(self, k: usize) -> Self {
        WeightLayout { k, ..self }
    }

    /// The same per-output shape for as many outputs as a buffer of `len` numbers holds.
    pub fn for_len(self, len: usize) -> Self {
        self.with_outputs(len / self.output_len().max(1))
    }

    /// Rows of a block (features, bias included).
    pub fn d(&self) -> usize {
        self.d
    }
    /// Patterns P.
    pub fn p(&self) -> usize {
        self.p
    }
    /// Whether blocks come in v/w pairs (ReLU) rather than one per pattern (gated ReLU).
    pub fn relu(&self) -> bool {
        self.relu
    }
    /// Outputs k.
    pub fn outputs(&self) -> usize {
        self.k
    }
    /// Sides per pattern: 2 (ReLU: v, w) or 1 (gated ReLU).
    pub fn sides(&self) -> usize {
        if self.relu {
            2
        } else {
            1
        }
    }
    /// Blocks per output: nb = 2P (ReLU) or P (gated ReLU).
    pub fn nb(&self) -> usize {
        self.sides() * self.p
    }
    /// Numbers per output, d·nb.
    pub fn output_len(&self) -> usize {
        self.d * self.nb()
    }
    /// Blocks (groups) of all outputs, nb·k: the columns of the weight matrix.
    pub fn groups(&self) -> usize {
        self.nb() * self.k
    }
    /// Numbers in all, d·nb·k.
    pub fn len(&self) -> usize {
        self.d * self.groups()
    }
    /// Whether the weights hold no number.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Block index (weight column) of output `c`, side `side` (0: v, 1: w) and pattern `j`.
    pub fn block(&self, c: usize, side: usize, j: usize) -> usize {
        debug_assert!(side < self.sides() && j < self.p, "block ({c}, {side}, {j}) outside {self:?}");
        c * self.nb() + side * self.p + j
    }
    /// Element range of [`WeightLayout::block`]`(c, side, j)`.
    pub fn range(&self, c: usize, side: usize, j: usize) -> Range<usize> {
        self.group_range(self.block(c, side, j))
    }
    /// Element range of block `g`.
    pub fn group_range(&self, g: usize) -> Range<usize> {
        g * self.d..(g + 1) * self.d
    }
    /// Element range of output `c`'s weights.
    pub fn output_range(&self, c: usize) -> Range<usize> {
        c * self.output_len()..(c + 1) * self.output_len()
    }
    /// Block indices of output `c`.
    pub fn output_groups(&self, c: usize) -> Range<usize> {
        c * self.nb()..(c + 1) * self.nb()
    }
    /// Element ranges of output `c`'s blocks, in order.
    pub fn output_group_ranges(&self, c: usize) -> impl Iterator<Item = Range<usize>> {
        let d = self.d;
        self.output_groups(c).map(move |g| g * d..(g + 1) * d)
    }
    /// Element ranges of all blocks, in order.
    pub fn group_ranges(&self) -> impl Iterator<Item = Range<usize>> {
        let d = self.d;
        (0..self.groups()).map(move |g| g * d..(g + 1) * d)
    }

    /// Output of block `g` (the index of its β).
    pub fn group_output(&self, g: usize) -> usize {
        g / self.nb()
    }
    /// Side of block `g` (0: v, 1: w; always 0 for gated ReLU).
    pub fn group_side(&self, g: usize) -> usize {
        (g % self.nb()) / self.p
    }
    /// Pattern (gate) of block `g`.
    pub fn group_pattern(&self, g: usize) -> usize {
        (g % self.nb()) % self.p
    }
    /// Output-layer sign of a side: +1 for v, −1 for w.
    pub fn side_sign(side: usize) -> f64 {
        if side == SIDE_V {
            1.0
        } else {
            -1.0
        }
    }

    /// Column of output `c`, pattern `j` in the d × (P·k) delta matrix (v_j − w_j, or u_j for
    /// gated ReLU) through which F and Fᵀ act.
    pub fn delta_block(&self, c: usize, j: usize) -> usize {
        c * self.p + j
    }
    /// Element range of [`WeightLayout::delta_block`]`(c, j)` in a flat delta buffer.
    pub fn delta_range(&self, c: usize, j: usize) -> Range<usize> {
        let b = self.delta_block(c, j);
        b * self.d..(b + 1) * self.d
    }

    /// `(new block, old block)` pairs that carry weights from `old` to this layout when new
    /// pattern j takes old pattern `from[j]` (`None`: no source), for every output and side.
    pub fn remap_blocks<'a>(&'a self, old: &'a WeightLayout, from: &'a [Option<usize>]) -> impl Iterator<Item = (usize, usize)> + 'a {
        (0..self.k).flat_map(move |c| {
            from.iter().enumerate().filter_map(|(j, o)| o.map(|o| (j, o))).flat_map(move |(j, o)| {
                (0..self.sides()).map(move |side| (self.block(c, side, j), old.block(c, side, o)))
            })
        })
    }

    /// Weights in this layout from `weights` (d × old.groups()) in layout `old`: new pattern j
    /// takes old pattern `from[j]` for every output and side, or zero for `None`.
    ///
    /// # Errors
    /// When the layouts differ in anything but P, `from` does not have one entry per new
    /// pattern, an old index is out of range, or `weights` does not have `old`'s shape.
    pub fn remap_from<T: Real>(&self, old: &WeightLayout, from: &[Option<usize>], weights: MatRef<'_, T>) -> Result<Mat<T>> {
        if old.d != self.d || old.relu != self.relu || old.k != self.k {
            return Err(invalid_data("weights", format!("layout {old:?} cannot be carried into {self:?}")));
        }
        if from.len() != self.p {
            return Err(invalid_data("patterns", format!("{} sources for {} patterns", from.len(), self.p)));
        }
        if let Some(o) = from.iter().flatten().find(|&&o| o >= old.p) {
            return Err(invalid_data("patterns", format!("source pattern {o} of {}", old.p)));
        }
        if weights.nrows() != old.d || weights.ncols() != old.groups() {
            return Err(invalid_data("weights", format!("{} × {} for layout {old:?}", weights.nrows(), weights.ncols())));
        }
        let mut out = Mat::<T>::zeros(self.d, self.groups());
        for (dst, src) in self.remap_blocks(old, from) {
            out.col_mut(dst).copy_from(weights.col(src));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_output_then_side_then_pattern() {
        let l = WeightLayout::new(3, 4, true, 2);
        assert_eq!((l.nb(), l.groups(), l.len(), l.output_len()), (8, 16, 48, 24));
        assert_eq!(l.block(1, SIDE_W, 2), 14);
        assert_eq!(l.range(1, SIDE_W, 2), 42..45);
        assert_eq!(l.output_range(1), 24..48);
        assert_eq!((l.group_output(14), l.group_side(14), l.group_pattern(14)), (1, 1, 2));
        assert_eq!(l.output_group_ranges(1).next(), Some(24..27));
        assert_eq!(l.group_ranges().count(), 16);
        let g = WeightLayout::new(3, 4, false, 2);
        assert_eq!((g.nb(), g.block(1, SIDE_V, 2), g.group_side(6), g.group_pattern(6)), (4, 6, 0, 2));
        assert_eq!(g.for_len(5 * 12).outputs(), 5);
    }

    #[test]
    fn remap_carries_every_side_and_zeroes_new_patterns() {
        let old = WeightLayout::new(2, 3, true, 2);
        let new = WeightLayout::new(2, 2, true, 2);
        let w = Mat::<f64>::from_fn(2, old.groups(), |i, g| (10 * g + i) as f64);
        let m = new.remap_from(&old, &[Some(2), None], w.as_ref()).unwrap();
        for c in 0..2 {
            for side in 0..2 {
                assert_eq!(m.col(new.block(c, side, 0))[1], w.col(old.block(c, side, 2))[1]);
                assert!(m.col(new.block(c, side, 1)).iter().all(|&v| v == 0.0));
            }
        }
        assert!(new.remap_from(&old, &[Some(3), None], w.as_ref()).is_err());
        assert!(new.remap_from(&old, &[Some(0)], w.as_ref()).is_err());
    }
}
