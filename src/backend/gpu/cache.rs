//! [`PipelineCache`]: what engines on one device share, compiled pipelines and autotune choices.

use std::path::Path;
use std::sync::Arc;

use super::pipelines::Pipelines;
use super::tune::{self, Tuning};
use crate::error::Result;

/// Compiled pipelines and autotune choices for one device, shared by every engine built with
/// [`Lstm::with_cache`](super::Lstm::with_cache), which runs on the cache's device. Pipelines
/// are keyed by kernel and pipeline constants, so engines whose configurations specialise the
/// kernels the same way (activations, clip, input_forget, peepholes, projection) reuse them.
/// There is no global cache; an application keeps one per device.
pub struct PipelineCache {
    pipelines: Arc<Pipelines>,
    tuning: Arc<Tuning>,
}

impl PipelineCache {
    // On the web wgpu's handles are neither Send nor Sync (a page has one thread); natively the
    // cache is shared between threads.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub fn new(device: &wgpu::Device) -> Self {
        PipelineCache {
            pipelines: Arc::new(Pipelines::new(device)),
            tuning: Arc::default(),
        }
    }

    /// How many pipelines have been compiled.
    pub fn len(&self) -> usize {
        self.pipelines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The device the pipelines are compiled for (engines built from this cache run on it).
    pub fn device(&self) -> &wgpu::Device {
        self.pipelines.device()
    }

    /// The WGSL files (relative to the crate's `shaders/`) of every kernel compiled so far, so a
    /// conformance run can say which it exercised.
    pub fn shader_files(&self) -> Vec<&'static str> {
        self.pipelines.files().into_iter().collect()
    }

    pub(crate) fn pipelines(&self) -> Arc<Pipelines> {
        self.pipelines.clone()
    }

    pub(crate) fn tuning(&self) -> Arc<Tuning> {
        self.tuning.clone()
    }

    /// Add the autotune choices that the file at `path` holds for this device's adapter, driver
    /// and crate version (written by [`PipelineCache::save_tuning`], perhaps by an earlier run),
    /// so engines built from this cache skip those timings; returns how many were loaded. A
    /// missing file, or one written by an earlier version, holds none; an unreadable or
    /// malformed one is an error and loads nothing.
    pub fn load_tuning(&self, path: &Path) -> Result<usize> {
        tune::file::load(&self.tuning, &self.identity(), path)
    }

    /// Write the choices made so far on this device to `path` (JSON, schema
    /// `wgpu-lstm-tuning/3`), replacing the file's entry for this adapter, driver and crate
    /// version and keeping the others. The file is replaced whole or not at all.
    pub fn save_tuning(&self, path: &Path) -> Result<()> {
        tune::file::save(&self.tuning, &self.identity(), path)
    }

    fn identity(&self) -> String {
        tune::file::identity(&self.device().adapter_info())
    }
}
