//! Honest limits: the bytes a solve will allocate, estimated from the shapes before any
//! large allocation, against the memory this process can still get.
//!
//! Available memory is the least of `MemAvailable` (/proc/meminfo), the cgroup's
//! `memory.max − memory.current`, and the address-space limit (`ulimit -v`) minus the
//! current virtual size. `CRONOS_MEMORY_LIMIT` (bytes, or with a K/M/G suffix) caps it for
//! tests, as does [`with_limit`] for solvers set up on the calling thread. Where none can be
//! read (not Linux), nothing is checked.

use crate::error::{CronosError, Result};
use crate::gram::GramForm;
use crate::settings::{PrecondKind, Rank};
use std::cell::Cell;

thread_local! {
    static LIMIT: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Runs `f` with the available memory capped at `bytes` for solvers set up on this thread.
#[doc(hidden)]
pub fn with_limit<R>(bytes: u64, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<u64>);
    impl Drop for Reset {
        fn drop(&mut self) {
            LIMIT.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(LIMIT.with(|c| c.replace(Some(bytes))));
    f()
}

/// The shapes a solve's memory depends on.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Rows (this rank's).
    pub n: usize,
    /// Columns, bias included.
    pub d: usize,
    /// Patterns (an upper bound).
    pub p: usize,
    /// Outputs.
    pub k: usize,
    /// ReLU (cone constraints) rather than gated.
    pub relu: bool,
    /// Bytes of the scalar type.
    pub scalar: usize,
    /// Row shards (threads).
    pub threads: usize,
    /// Whether the loss is split (r = Fu; all but the unweighted squared loss).
    pub split: bool,
    /// Stored entries of X (bias column included) when X is kept sparse, `None` when dense.
    pub nnz: Option<usize>,
}

/// Estimated bytes per item.
#[derive(Clone, Debug, Default)]
pub struct Estimate {
    /// (what, bytes).
    pub parts: Vec<(&'static str, u64)>,
}

impl Estimate {
    /// Sum of the parts.
    pub fn total(&self) -> u64 {
        self.parts.iter().map(|p| p.1).sum()
    }
}

/// The bytes the solve of `s` allocates, by item; `sketch_cols` is the Nyström sketch size
/// that will be reached (its rank cap, see [`sketch_bytes_per_column`]).
pub fn estimate(s: Shape, form: GramForm, precond: PrecondKind, sketch_cols: usize) -> Estimate {
    let (n, d, p, k, t) = (s.n as u64, s.d as u64, s.p as u64, s.k as u64, s.scalar as u64);
    let nb = if s.relu { 2 * p } else { p };
    let len = d * nb * k;
    let mut e = Estimate::default();
    let shards = s.threads.clamp(1, s.n.max(1)) as u64;
    let nu = if s.relu { n * 2 * p * k * t } else { 0 };
    match s.nnz {
        None => {
            e.parts.push(("scaled copy of X", n * d * t));
            e.parts.push(("row-shard buffers", shards * d * 2 * nb * k * t + nu + n * p / 8));
        }
        Some(nnz) => {
            // X and Xᵀ in CSR (u32 indices, usize offsets); each shard also keeps a row-major
            // accumulator beside the column-major one
            e.parts.push(("scaled sparse X and Xᵀ", 2 * nnz as u64 * (4 + t) + (n + d + 2) * 8));
            e.parts.push(("row-shard buffers", 2 * shards * d * 2 * nb * k * t + nu + n * p / 8));
        }
    }
    // ADMM state (5), workspaces (7, +3 with a split), certificate (2), Fᵀy, the delta
    // buffers and the preconditioner's temporaries (3)
    let vectors = 18 + if s.split { 3 } else { 0 };
    e.parts.push(("ADMM vectors", vectors * len * t));
    let structured = precond == PrecondKind::Structured;
    match form {
        GramForm::Primal if s.relu => {
            // Gram, its σ²-scaled copy; eigendecomposition in f64 (matrix, vectors, work)
            // and the whitener's two T copies
            let per = if structured { 5 * t + 24 } else { 2 * t };
            e.parts.push(("d × d Gram XᵀX", d * d * per));
        }
        GramForm::Primal => {}
        GramForm::Dual if structured && s.relu => {
            // X Xᵀ, its eigendecomposition, and the Woodbury matrices (see crate::woodbury)
            e.parts.push(("n × n X Xᵀ and Woodbury factors", n * n * (9 * 8 + 2 * t)));
        }
        GramForm::Dual if structured => {
            // gated: X Xᵀ and the Cholesky factor, both f64; on sparse X only the factor (X Xᵀ
            // is re-formed into it at each new ρ; crate::woodbury)
            let mats = if s.nnz.is_some() { 1 } else { 2 };
            e.parts.push(("n × n X Xᵀ and Woodbury factors", n * n * mats * 8));
        }
        GramForm::Dual => {}
    }
    let sketch = !(structured && form == GramForm::Dual) && precond != PrecondKind::None;
    if sketch {
        e.parts.push(("Nyström sketch", sketch_cols as u64 * sketch_bytes_per_column(s)));
    }
    e
}

/// Bytes per column of a Nyström sketch of the d·nb-dimensional operator: the factor, the
/// test matrix and its image in T, and the f64 columns a doubling adds (see [`crate::nystrom`]).
pub fn sketch_bytes_per_column(s: Shape) -> u64 {
    let nb = if s.relu { 2 * s.p } else { s.p } as u64;
    (s.d as u64) * nb * (3 * s.scalar as u64 + 8)
}

/// The sketch size a rank setting reaches at most.
pub fn sketch_columns(rank: Rank) -> usize {
    match rank {
        Rank::Fixed(r) => r,
        Rank::Adaptive { max } => max,
    }
}

/// The bytes this process can still allocate, if known.
pub fn available_bytes() -> Option<u64> {
    let mut avail: Option<u64> = None;
    let mut take = |v: Option<u64>| {
        if let Some(v) = v {
            avail = Some(avail.map_or(v, |a| a.min(v)));
        }
    };
    take(LIMIT.with(|c| c.get()));
    take(std::env::var("CRONOS_MEMORY_LIMIT").ok().and_then(|v| parse_size(&v)));
    take(meminfo_available());
    take(cgroup_available());
    take(address_space_left());
    avail
}

/// `123`, `4K`, `5M`, `6G` (binary units) as bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim().parse::<f64>().ok().filter(|v| *v >= 0.0).map(|v| (v * mult as f64) as u64)
}

fn meminfo_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    kb_field(&text, "MemAvailable:")
}

fn kb_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

fn cgroup_available() -> Option<u64> {
    let max: u64 = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok()?.trim().parse().ok()?;
    let cur: u64 = std::fs::read_to_string("/sys/fs/cgroup/memory.current").ok()?.trim().parse().ok()?;
    Some(max.saturating_sub(cur))
}

fn address_space_left() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max address space"))?;
    let soft: u64 = line["Max address space".len()..].split_whitespace().next()?.parse().ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let size = kb_field(&status, "VmSize:").unwrap_or(0);
    Some(soft.saturating_sub(size).saturating_sub(gemm_reservation()))
}

/// Address space the GEMM kernels reserve outside our estimates: faer's x86 GEMM keeps a
/// packing buffer of twice the L3 size per thread that multiplies (reserved, mostly never
/// touched: it counts against `ulimit -v`, not against resident memory). Counted for the
/// calling thread and every thread of the global pool and of a solver pool alike.
fn gemm_reservation() -> u64 {
    let l3 = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cache/index3/size").ok().and_then(|s| parse_size(&s)).unwrap_or(0);
    let threads = 1 + 2 * std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    2 * l3 * threads
}

/// Fails with [`CronosError::OutOfMemory`] when `e` exceeds the available memory.
///
/// # Errors
/// As above, naming the total, the largest items and what to do instead.
pub fn check(e: &Estimate) -> Result<()> {
    let Some(avail) = available_bytes() else { return Ok(()) };
    let need = e.total();
    if need <= avail {
        return Ok(());
    }
    let mut parts = e.parts.clone();
    parts.sort_by(|a, b| b.1.cmp(&a.1));
    let items: Vec<String> = parts.iter().take(3).map(|(w, b)| format!("{w} {}", gb(*b))).collect();
    Err(CronosError::OutOfMemory {
        needed: need,
        available: avail,
        detail: format!(
            "largest: {}; use fewer patterns (--patterns), spread the rows over processes (--distributed), or f32 instead of f64",
            items.join(", ")
        ),
    })
}

/// Bytes in GB (or MB, below 1 GB) with 2 decimals.
pub fn gb(b: u64) -> String {
    if b >= 1_000_000_000 {
        format!("{:.2} GB", b as f64 / 1e9)
    } else {
        format!("{:.2} MB", b as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("2K"), Some(2048));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn wide_primal_counts_the_d_by_d_gram_and_dual_does_not() {
        let s = Shape { n: 2000, d: 87724, p: 32, k: 1, relu: true, scalar: 4, threads: 2, split: true, nnz: None };
        let primal = estimate(s, GramForm::Primal, PrecondKind::Structured, 128);
        let dual = estimate(s, GramForm::Dual, PrecondKind::Structured, 128);
        assert!(primal.total() > 87724u64 * 87724 * 4 * 5);
        assert!(dual.total() < 4 * 2000 * 87724 * 4, "{dual:?}");
        let err = with_limit(1 << 30, || check(&dual)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("--patterns") && msg.contains("GB") && msg.contains("available"), "{msg}");
        assert!(with_limit(u64::MAX, || check(&Estimate { parts: vec![("x", 1)] })).is_ok());
    }

    #[test]
    fn sparse_x_counts_its_entries_not_n_times_d() {
        // 20,000 × 50,000 at 0.5% (bag of words): the dense X alone would be 8 GB in f64
        let dense = Shape { n: 20_000, d: 50_001, p: 64, k: 1, relu: false, scalar: 8, threads: 2, split: true, nnz: None };
        let sparse = Shape { nnz: Some(5_000_000 + 20_000), ..dense };
        let x_part = |e: &Estimate| e.parts.iter().filter(|p| p.0.starts_with("scaled")).map(|p| p.1).sum::<u64>();
        let (ed, es) = (estimate(dense, GramForm::Dual, PrecondKind::Structured, 0), estimate(sparse, GramForm::Dual, PrecondKind::Structured, 0));
        assert!(x_part(&ed) >= 8_000_000_000);
        assert!(x_part(&es) < 200_000_000, "{es:?}");
        assert!(es.total() < ed.total());
    }
}
