//! Autotune choices on disk ([`PipelineCache::load_tuning`](crate::gpu::PipelineCache::load_tuning),
//! [`save_tuning`](crate::gpu::PipelineCache::save_tuning)): a JSON file with one entry per
//! adapter, driver and crate version, each holding the variants chosen per shape class. Entries
//! of other adapters are kept when one is saved, so one file serves every device of a machine.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::key::{GemmKey, StepKey};
use super::store::Tuning;
use crate::backend::gpu::variants::{GemmVariant, Schedule, StepVariant};
use crate::error::{Error, Result};
use crate::files::{read_regular, ReadLimits};

pub(crate) const SCHEMA: &str = "wgpu-lstm-tuning/3";

/// Tuning files are a few kilobytes; anything this large is not one.
const MAX_BYTES: ReadLimits = ReadLimits::with_max_bytes(64 << 20);

/// Schemas of earlier versions: their choices are not read, and saving replaces the file.
const OLDER_SCHEMAS: [&str; 2] = ["wgpu-lstm-tuning/1", "wgpu-lstm-tuning/2"];

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
    step: Vec<StepChoiceEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GemmChoice {
    key: GemmKey,
    variant: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepChoiceEntry {
    key: StepKey,
    step: String,
    schedule: String,
    /// What the autotune timed (`store::StepTimes`).
    #[serde(default)]
    times_ms: Vec<Timed>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Timed {
    variant: String,
    ms: f64,
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

fn empty() -> TuningFile {
    TuningFile {
        schema: SCHEMA.into(),
        adapters: Vec::new(),
    }
}

/// The file's choices: none when it does not exist or was written by an earlier version.
fn read(path: &Path) -> Result<TuningFile> {
    let bytes = match read_regular(path, MAX_BYTES) {
        Ok(bytes) => bytes,
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => return Ok(empty()),
        Err(e) => return Err(e),
    };
    let text = String::from_utf8_lossy(&bytes);
    let format = |message: String| Error::format(path, message);
    #[derive(Deserialize)]
    struct Schema {
        schema: String,
    }
    let schema: Schema =
        serde_json::from_str(&text).map_err(|e| format(format!("not a tuning file: {e}")))?;
    if OLDER_SCHEMAS.contains(&schema.schema.as_str()) {
        return Ok(empty());
    }
    if schema.schema != SCHEMA {
        return Err(format(format!("schema '{}', expected '{SCHEMA}'", schema.schema)));
    }
    serde_json::from_str(&text).map_err(|e| format(format!("not a tuning file: {e}")))
}

/// Add the choices `path` holds for `identity` to `tuning` (all or none); how many there were.
pub(crate) fn load(tuning: &Tuning, identity: &str, path: &Path) -> Result<usize> {
    let file = read(path)?;
    let Some(entry) = file.adapters.iter().find(|a| a.adapter == identity) else {
        return Ok(0);
    };
    let unknown = |what: &str, name: &str| Error::format(path, format!("unknown {what} '{name}'"));
    let gemm = entry
        .gemm
        .iter()
        .map(|c| {
            let v = GemmVariant::from_name(&c.variant).ok_or_else(|| unknown("GEMM variant", &c.variant))?;
            Ok((c.key, v))
        })
        .collect::<Result<Vec<_>>>()?;
    let step = entry
        .step
        .iter()
        .map(|c| {
            let step = StepVariant::from_name(&c.step).ok_or_else(|| unknown("step variant", &c.step))?;
            let schedule =
                Schedule::from_name(&c.schedule).ok_or_else(|| unknown("schedule", &c.schedule))?;
            let times = c.times_ms.iter().map(|t| (t.variant.clone(), t.ms)).collect();
            Ok((c.key, (step, schedule), times))
        })
        .collect::<Result<Vec<_>>>()?;
    let count = gemm.len() + step.len();
    tuning.insert(gemm, step);
    Ok(count)
}

/// Write `tuning`'s choices to `path` as the entry for `identity`, keeping the other entries.
pub(crate) fn save(tuning: &Tuning, identity: &str, path: &Path) -> Result<()> {
    let mut file = read(path)?;
    file.adapters.retain(|a| a.adapter != identity);
    file.adapters.push(AdapterChoices {
        adapter: identity.into(),
        gemm: tuning
            .gemm_entries()
            .into_iter()
            .map(|(key, v)| GemmChoice {
                key,
                variant: v.name(),
            })
            .collect(),
        step: tuning
            .step_entries()
            .into_iter()
            .map(|(key, ((step, schedule), times))| StepChoiceEntry {
                key,
                step: step.name(),
                schedule: schedule.name().into(),
                times_ms: times
                    .into_iter()
                    .map(|(variant, ms)| Timed { variant, ms })
                    .collect(),
            })
            .collect(),
    });
    let text = serde_json::to_string_pretty(&file).expect("tuning files serialize");
    crate::files::write_atomic(path, text.as_bytes())
}
