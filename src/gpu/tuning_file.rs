//! Autotune choices on disk ([`PipelineCache::load_tuning`](super::PipelineCache::load_tuning),
//! [`save_tuning`](super::PipelineCache::save_tuning)): a JSON file with one entry per adapter,
//! driver and crate version, each holding the variants chosen per shape class. Entries of other
//! adapters are kept when one is saved, so one file serves every device of a machine.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::pipelines::{TuneKey, Tuning};
use super::variants::{GemmVariant, Schedule, StepVariant};
use crate::error::{Error, Result};

pub const SCHEMA: &str = "wgpu-lstm-tuning/1";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TuningFile {
    schema: String,
    adapters: Vec<AdapterChoices>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdapterChoices {
    /// [`identity`] of the adapter the choices were timed on.
    adapter: String,
    gemm: Vec<GemmChoice>,
    step: Vec<StepChoice>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GemmChoice {
    key: Vec<u64>,
    variant: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepChoice {
    key: Vec<u64>,
    step: String,
    schedule: String,
}

/// Adapter, backend, driver and crate version: a choice timed under one says nothing of another
/// (a new driver or new kernels are timed again).
pub(crate) fn identity(info: &wgpu::AdapterInfo) -> String {
    format!(
        "{} | {:?} | vendor {:#06x} device {:#06x} | {} {} | wgpu-lstm {}",
        info.name,
        info.backend,
        info.vendor,
        info.device,
        info.driver,
        info.driver_info,
        env!("CARGO_PKG_VERSION")
    )
}

/// The file's choices, or none when it does not exist.
fn read(path: &Path) -> Result<TuningFile> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(TuningFile {
                schema: SCHEMA.into(),
                adapters: Vec::new(),
            })
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    let format = |message: String| Error::Format {
        path: path.to_path_buf(),
        message,
    };
    let file: TuningFile =
        serde_json::from_str(&text).map_err(|e| format(format!("not a tuning file: {e}")))?;
    if file.schema != SCHEMA {
        return Err(format(format!("schema '{}', expected '{SCHEMA}'", file.schema)));
    }
    Ok(file)
}

/// Add the choices `path` holds for `identity` to `tuning` (all or none); how many there were.
pub(crate) fn load(tuning: &Tuning, identity: &str, path: &Path) -> Result<usize> {
    let file = read(path)?;
    let Some(entry) = file.adapters.iter().find(|a| a.adapter == identity) else {
        return Ok(0);
    };
    let unknown = |what: &str, name: &str| Error::Format {
        path: path.to_path_buf(),
        message: format!("unknown {what} '{name}'"),
    };
    let gemm = entry
        .gemm
        .iter()
        .map(|c| {
            let v = GemmVariant::from_name(&c.variant).ok_or_else(|| unknown("GEMM variant", &c.variant))?;
            Ok((TuneKey(c.key.clone()), v))
        })
        .collect::<Result<Vec<_>>>()?;
    let step = entry
        .step
        .iter()
        .map(|c| {
            let step = StepVariant::from_name(&c.step).ok_or_else(|| unknown("step variant", &c.step))?;
            let schedule =
                Schedule::from_name(&c.schedule).ok_or_else(|| unknown("schedule", &c.schedule))?;
            Ok((TuneKey(c.key.clone()), (step, schedule)))
        })
        .collect::<Result<Vec<_>>>()?;
    let count = gemm.len() + step.len();
    tuning.insert(gemm, step);
    Ok(count)
}

/// Write `tuning`'s choices to `path` as the entry for `identity`, keeping the other entries.
pub(crate) fn save(tuning: &Tuning, identity: &str, path: &Path) -> Result<()> {
    let mut file = read(path)?;
    let (gemm, step) = tuning.entries();
    file.adapters.retain(|a| a.adapter != identity);
    file.adapters.push(AdapterChoices {
        adapter: identity.into(),
        gemm: gemm
            .into_iter()
            .map(|(key, v)| GemmChoice {
                key: key.0,
                variant: v.name().into(),
            })
            .collect(),
        step: step
            .into_iter()
            .map(|(key, (step, schedule))| StepChoice {
                key: key.0,
                step: step.name().into(),
                schedule: schedule.name().into(),
            })
            .collect(),
    });
    let text = serde_json::to_string_pretty(&file).expect("tuning files serialize");
    crate::files::write_atomic(path, text.as_bytes())
}
