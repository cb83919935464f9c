//! The checkpoint file of `cronos train --checkpoint`: the solver's state (the library's
//! [`Checkpoint`]) plus what the front end observed (records, best iterate), tied to the
//! training data and the settings it was taken with.

use super::observe::{Best, Record};
use anyhow::{anyhow, bail, Context, Result};
use cronos::{Checkpoint, Settings, Solver};
use serde::{Deserialize, Serialize};
use std::path::Path;

const CHECKPOINT_MAGIC: &str = "cronos-checkpoint-3";

/// The file's contents.
#[derive(Serialize, Deserialize)]
pub struct CheckpointFile {
    magic: String,
    fingerprint: String,
    settings: String,
    /// The solver's state.
    pub solver: Checkpoint<f32>,
    /// Records of the iterations so far.
    pub records: Vec<Record>,
    /// The best validation iterate so far.
    pub best: Option<Best>,
}

/// The settings a resumed run must share: all but the iteration and time limits.
fn settings_key(s: &Settings) -> String {
    let mut s = s.clone();
    s.max_iter = 1;
    s.time_limit = None;
    serde_json::to_string(&s).unwrap_or_default()
}

/// Where and when checkpoints are written.
pub struct CheckpointSink {
    /// The file.
    pub path: std::path::PathBuf,
    /// Every this many iterations (and on an interrupt).
    pub every: usize,
    /// Fingerprint of the training rows.
    pub fingerprint: String,
    /// The run's settings.
    pub settings: Settings,
}

impl CheckpointSink {
    /// Writes the checkpoint (temporary file, then rename: a crash never leaves half a file).
    pub fn write(&self, solver: &Solver<f32>, records: &[Record], best: &Option<Best>) -> Result<()> {
        let cf = CheckpointFile {
            magic: CHECKPOINT_MAGIC.into(),
            fingerprint: self.fingerprint.clone(),
            settings: settings_key(&self.settings),
            solver: solver.checkpoint(),
            records: records.to_vec(),
            best: best.clone(),
        };
        let bytes = bincode::serialize(&cf)?;
        cronos_data::atomic_write(&self.path, true, |w| w.write_all(&bytes))?;
        Ok(())
    }
}

/// Reads a checkpoint and checks that it belongs to this data and these settings.
pub fn read(p: &Path, fingerprint: &str, settings: &Settings) -> Result<CheckpointFile> {
    let bytes = std::fs::read(p).with_context(|| format!("{}", p.display()))?;
    let cf: CheckpointFile = bincode::deserialize(&bytes)
        .map_err(|e| anyhow!("{}: not a cronos checkpoint, from another version, or corrupted: {e}", p.display()))?;
    if cf.magic != CHECKPOINT_MAGIC {
        bail!("{}: not a cronos checkpoint (or from another version)", p.display());
    }
    if cf.fingerprint != fingerprint {
        bail!(
            "{}: checkpoint was taken on different training data (fingerprint {} vs {fingerprint})",
            p.display(),
            cf.fingerprint
        );
    }
    if cf.settings != settings_key(settings) {
        bail!("{}: checkpoint was taken with different settings (only --max-iter and --time-limit may change)", p.display());
    }
    Ok(cf)
}
