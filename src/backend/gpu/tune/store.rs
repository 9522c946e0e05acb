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
    /// Each step choice with what was timed for it (empty for a choice read from a file
    /// without times).
    step: Mutex<HashMap<StepKey, (StepChoice, StepTimes)>>,
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
        choose(&self.step, key, tune).map(|((choice, _), tuned)| (choice, tuned))
    }

    /// What the autotune timed for a step choice, where known.
    pub fn step_times(&self, key: &StepKey) -> Option<StepTimes> {
        let step = lock(&self.step);
        step.get(key)
            .map(|(_, times)| times.clone())
            .filter(|t| !t.is_empty())
    }

    /// A GEMM choice already made, if any.
    pub fn known_gemm(&self, key: GemmKey) -> Option<GemmVariant> {
        lock(&self.gemm).get(&key).copied()
    }

    /// A step choice already made, if any.
    pub fn known_step(&self, key: &StepKey) -> Option<StepChoice> {
        lock(&self.step).get(key).map(|(choice, _)| *choice)
    }

    /// Add choices (from a file) with what was timed for them, replacing any for the same keys.
    pub fn insert(&self, gemm: Vec<(GemmKey, GemmVariant)>, step: Vec<(StepKey, StepChoice, StepTimes)>) {
        lock(&self.gemm).extend(gemm);
        lock(&self.step).extend(
            step.into_iter()
                .map(|(key, choice, times)| (key, (choice, times))),
        );
    }

    /// Every choice made, sorted by key.
    pub fn gemm_entries(&self) -> Vec<(GemmKey, GemmVariant)> {
        sorted(&self.gemm)
    }

    /// Every step choice made with what was timed for it, sorted by key.
    pub fn step_entries(&self) -> Vec<(StepKey, (StepChoice, StepTimes))> {
        sorted(&self.step)
    }
}

fn sorted<K: Ord + Copy, V: Clone>(choices: &Mutex<HashMap<K, V>>) -> Vec<(K, V)> {
    let mut v: Vec<(K, V)> = lock(choices).iter().map(|(k, v)| (*k, v.clone())).collect();
    v.sort_by_key(|(k, _)| *k);
    v
}

/// The cached value for `key`, or `tune`'s (then cached); the flag says whether it was tuned now.
fn choose<K: std::hash::Hash + Eq, V: Clone>(
    choices: &Mutex<HashMap<K, V>>,
    key: K,
    tune: impl FnOnce() -> Result<V>,
) -> Result<(V, bool)> {
    if let Some(v) = lock(choices).get(&key) {
        return Ok((v.clone(), false));
    }
    let v = tune()?;
    lock(choices).insert(key, v.clone());
    Ok((v, true))
}
