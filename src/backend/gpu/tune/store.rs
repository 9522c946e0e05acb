//! The choices made so far on one device, shared by the engines of a `PipelineCache`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::key::{GemmKey, StepKey};
use crate::backend::gpu::variants::{GemmVariant, Schedule, StepVariant};
use crate::error::Result;

/// A step variant with the schedule it runs under.
pub(crate) type StepChoice = (StepVariant, Schedule);

/// What the autotune timed for a step choice, ms: each step variant per layer (by name), then,
/// where the model can run as a wavefront, each schedule's forward (`<step> + layers`,
/// `<step> + wavefront`).
pub(crate) type StepTimes = Vec<(String, f64)>;

/// Kernel variants chosen per shape class on one device.
#[derive(Default)]
pub(crate) struct Tuning {
    gemm: Mutex<HashMap<GemmKey, GemmVariant>>,
    step: Mutex<HashMap<StepKey, StepChoice>>,
    /// What was timed for each step choice (none for a choice read from a file without times).
    step_times: Mutex<HashMap<StepKey, StepTimes>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Tuning {
    /// The GEMM variant chosen for a shape class, deciding with `tune` the first time.
    pub fn gemm(&self, key: GemmKey, tune: impl FnOnce() -> Result<GemmVariant>) -> Result<GemmVariant> {
        choose(&self.gemm, key, tune).map(|(v, _)| v)
    }

    /// The step variant and schedule chosen for a shape class, deciding with `tune` the first
    /// time (which also says what it timed); the flag says whether it was tuned now.
    pub fn step(
        &self,
        key: StepKey,
        tune: impl FnOnce() -> Result<(StepChoice, StepTimes)>,
    ) -> Result<(StepChoice, bool)> {
        choose(&self.step, key, || {
            let (choice, times) = tune()?;
            lock(&self.step_times).insert(key, times);
            Ok(choice)
        })
    }

    /// What the autotune timed for a step choice, where known.
    pub fn step_times(&self, key: &StepKey) -> Option<StepTimes> {
        lock(&self.step_times).get(key).cloned()
    }

    /// A GEMM choice already made, if any.
    pub fn known_gemm(&self, key: GemmKey) -> Option<GemmVariant> {
        lock(&self.gemm).get(&key).copied()
    }

    /// A step choice already made, if any.
    pub fn known_step(&self, key: &StepKey) -> Option<StepChoice> {
        lock(&self.step).get(key).copied()
    }

    /// Add choices (from a file) with what was timed for them, replacing any for the same keys.
    pub fn insert(&self, gemm: Vec<(GemmKey, GemmVariant)>, step: Vec<(StepKey, StepChoice, StepTimes)>) {
        lock(&self.gemm).extend(gemm);
        let mut times = lock(&self.step_times);
        for (key, choice, timed) in step {
            lock(&self.step).insert(key, choice);
            if timed.is_empty() {
                times.remove(&key);
            } else {
                times.insert(key, timed);
            }
        }
    }

    /// Every choice made, sorted by key.
    pub fn gemm_entries(&self) -> Vec<(GemmKey, GemmVariant)> {
        sorted(&self.gemm)
    }

    pub fn step_entries(&self) -> Vec<(StepKey, StepChoice)> {
        sorted(&self.step)
    }
}

fn sorted<K: Ord + Copy, V: Copy>(choices: &Mutex<HashMap<K, V>>) -> Vec<(K, V)> {
    let mut v: Vec<(K, V)> = lock(choices).iter().map(|(k, v)| (*k, *v)).collect();
    v.sort_by_key(|(k, _)| *k);
    v
}

/// The cached value for `key`, or `tune`'s (then cached); the flag says whether it was tuned now.
fn choose<K: std::hash::Hash + Eq, V: Copy>(
    choices: &Mutex<HashMap<K, V>>,
    key: K,
    tune: impl FnOnce() -> Result<V>,
) -> Result<(V, bool)> {
    if let Some(v) = lock(choices).get(&key) {
        return Ok((*v, false));
    }
    let v = tune()?;
    lock(choices).insert(key, v);
    Ok((v, true))
}
