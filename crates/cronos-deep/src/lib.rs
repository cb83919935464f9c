//! # cronos-deep: deeper networks for cronos
//!
//! Feature layers with hand-written gradients on faer (dense, ReLU, convolution by im2col +
//! GEMM, max pooling, flatten), first-order optimizers (SGD with momentum, Adam, AdamW,
//! D-Adaptation AdamW), **CRONOS-AM** — alternating minimization between the feature layers
//! and a convex two-layer head solved by [`cronos`] — and end-to-end baselines of the same
//! architecture, plus a safetensors model file.
//!
//! Why hand-written gradients rather than an autodiff crate: measured on the 2-core target,
//! a CNN forward+backward batch here costs a fraction of candle-core's (see the README's
//! "Deeper networks" section), the build stays free of a 5-minute dependency, and the
//! gradients are checked against finite differences in the tests.
//!
//! ```no_run
//! use cronos_deep::{train_am, AmConfig, Dataset, EvalSets, Tensor};
//! # fn main() -> cronos_deep::Result<()> {
//! let x = Tensor::zeros(&[100, 28, 28, 1]);
//! let train = Dataset::new(x, vec![0; 100], 10)?;
//! let (mut model, report, last_head) = train_am(&AmConfig::default(), &train, EvalSets::default(), |_| {})?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod am;
pub mod arch;
pub mod baseline;
pub mod conv;
pub mod data;
pub mod dense;
pub mod error;
pub mod head;
pub mod init;
pub mod io;
pub mod layer;
pub mod loss;
pub mod model;
pub mod ops;
pub mod optim;
pub mod pool;
pub mod relu;
pub mod run;
pub mod sequential;
pub mod tensor;

pub use am::{train_am, AmConfig};
pub use arch::Arch;
pub use baseline::{default_grid, train_baseline, BaselineConfig};
pub use data::{Batches, Dataset};
pub use error::{DeepError, Result};
pub use head::HeadConfig;
pub use layer::{Layer, LayerSpec, Param};
pub use loss::Loss;
pub use model::{DeepModel, ModelInfo};
pub use optim::OptimizerKind;
pub use run::{EvalSets, Point, RunReport};
pub use sequential::Sequential;
pub use tensor::Tensor;
