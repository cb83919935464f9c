//! Ready-made feature extractors: an MLP and the small CNN of the CRONOS-AM experiments
//! (two 3×3 convolutions, each followed by ReLU and 2×2 max pooling), plus the trainable
//! two-layer head used by the end-to-end baselines.

use crate::conv::{Conv2d, ConvShape};
use crate::dense::Dense;
use crate::pool::{Flatten, MaxPool};
use crate::relu::Relu;
use crate::sequential::Sequential;
use serde::{Deserialize, Serialize};

/// Which feature network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Arch {
    /// Dense + ReLU layers of these widths on flat inputs.
    Mlp {
        /// Hidden widths (the last one is the feature width).
        hidden: Vec<usize>,
    },
    /// conv3×3(c1) → ReLU → pool2 → conv3×3(c2) → ReLU → pool2 → flatten on h × w × c images,
    /// then dense(`dense`) → ReLU when `dense` > 0. The projection keeps the head's input
    /// narrow: a head solve costs O(n·d·P·k) per CG step, so d = 128 instead of 7·7·c2 = 1568
    /// makes each CRONOS-AM outer step ~10× cheaper.
    Cnn {
        /// Channels of the first convolution.
        c1: usize,
        /// Channels of the second convolution.
        c2: usize,
        /// Width of the dense feature layer after the convolutions (0: none).
        #[serde(default)]
        dense: usize,
    },
}

impl Arch {
    /// Builds the feature network for samples of `input_shape` (`[h, w, c]` for a CNN; any
    /// shape for an MLP, which flattens it), with seeded initial weights.
    pub fn build(&self, input_shape: &[usize], seed: u64) -> Sequential {
        match self {
            Arch::Mlp { hidden } => {
                let mut s = Sequential::new(input_shape).push(Flatten::new());
                let mut width: usize = input_shape.iter().product();
                for (i, &h) in hidden.iter().enumerate() {
                    s = s.push(Dense::new(width, h, seed.wrapping_add(i as u64))).push(Relu::new());
                    width = h;
                }
                s
            }
            Arch::Cnn { c1, c2, dense } => {
                let (h, w, c) = (input_shape[0], input_shape[1], input_shape.get(2).copied().unwrap_or(1));
                let conv1 = ConvShape { height: h, width: w, in_channels: c, out_channels: *c1, kernel: 3, padding: 1 };
                let (h2, w2) = (h / 2, w / 2);
                let conv2 = ConvShape { height: h2, width: w2, in_channels: *c1, out_channels: *c2, kernel: 3, padding: 1 };
                let s = Sequential::new(&[h, w, c])
                    .push(Conv2d::new(conv1, seed))
                    .push(Relu::new())
                    .push(MaxPool::new(h, w, *c1, 2))
                    .push(Conv2d::new(conv2, seed.wrapping_add(1)))
                    .push(Relu::new())
                    .push(MaxPool::new(h2, w2, *c2, 2))
                    .push(Flatten::new());
                if *dense == 0 {
                    return s;
                }
                let flat = (h2 / 2) * (w2 / 2) * c2;
                s.push(Dense::new(flat, *dense, seed.wrapping_add(2))).push(Relu::new())
            }
        }
    }

    /// Short name for reports.
    pub fn name(&self) -> String {
        match self {
            Arch::Mlp { hidden } => format!("mlp{hidden:?}"),
            Arch::Cnn { c1, c2, dense: 0 } => format!("cnn({c1},{c2})"),
            Arch::Cnn { c1, c2, dense } => format!("cnn({c1},{c2})+dense({dense})"),
        }
    }
}

/// The trainable head of the baselines: dense(hidden) → ReLU → dense(outputs), the same
/// two-layer shape CRONOS solves for (but with an output bias, as usual end to end).
pub fn dense_head(features: usize, hidden: usize, outputs: usize, seed: u64) -> Sequential {
    Sequential::new(&[features])
        .push(Dense::new(features, hidden, seed.wrapping_add(100)))
        .push(Relu::new())
        .push(Dense::new(hidden, outputs, seed.wrapping_add(101)))
}
