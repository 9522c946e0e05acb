//! The short autotune: time each candidate kernel variant on this device and keep the fastest.
//! It runs once per shape class and device (the choice lives in the `PipelineCache`, and on disk
//! when asked: [`file`]), and its submissions are counted apart from the forward's own
//! (`ForwardStats::autotune_submits`). Steps are timed as slices of the forward's own plan.

pub(crate) mod file;
pub(crate) mod key;
pub(crate) mod store;

use std::time::{Duration, Instant};

use wgpu::util::DeviceExt;

use super::limits;
use super::pipelines::{bind_group, EngineKernels};
use super::plan::{Dispatch, GemmShape, Part, Plan, Resources};
use super::shaders::KernelRef;
use super::variants::{GemmVariant, Schedule, StepVariant, Variants};
use super::workspace::Workspace;
use crate::error::{Error, GpuError, Result};

pub(crate) use key::{GemmKey, StepKey};
pub(crate) use store::{StepChoice, Tuning};

/// Timed submissions per candidate (after one untimed); the fastest counts.
const TRIALS: usize = 3;

/// Rows of the synthetic GEMM the input-projection variants are timed on.
const GEMM_ROWS: u64 = 256;

/// Step dispatches per timed submission.
const STEPS: usize = 4;

/// The fastest timed candidate that `keep` accepts.
fn fastest_of<V: Copy>(times: &[(V, Duration)], keep: impl Fn(V) -> bool) -> Option<V> {
    times
        .iter()
        .filter(|(v, _)| keep(*v))
        .min_by_key(|(_, t)| *t)
        .map(|(v, _)| *v)
}

/// The fastest of `TRIALS` timed submissions (after one untimed) of what `run` records, and the
/// submissions made.
fn time_of(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    mut run: impl FnMut(&mut wgpu::CommandEncoder),
) -> Result<(Duration, u32)> {
    let mut fastest = Duration::MAX;
    for trial in 0..=TRIALS {
        let start = Instant::now();
        let mut encoder = device.create_command_encoder(&Default::default());
        run(&mut encoder);
        queue.submit([encoder.finish()]);
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu {
                during: "autotune",
                source: GpuError::Poll(e),
            })?;
        if trial > 0 {
            fastest = fastest.min(start.elapsed());
        }
    }
    Ok((fastest, TRIALS as u32 + 1))
}

/// Time both input-projection variants on a synthetic `GEMM_ROWS × n × k` problem; the choice
/// and the submissions made.
pub(crate) fn gemm(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &EngineKernels,
    k: usize,
    n: usize,
) -> Result<(GemmVariant, u32)> {
    let shape = GemmShape {
        rows: GEMM_ROWS,
        n: n as u64,
        k: k as u64,
    };
    let storage = |label, floats: u64| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: floats.max(4) * 4,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        })
    };
    let (x, w, bias, xp) = (
        storage("tune x", shape.rows * shape.k),
        storage("tune w", shape.n * shape.k),
        storage("tune bias", shape.n),
        storage("tune xp", shape.rows * shape.n),
    );
    let params = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("tune gemm params"),
        contents: bytemuck::bytes_of(&shape.params()?),
        usage: wgpu::BufferUsages::UNIFORM,
    });
    let mut times = Vec::new();
    let mut submits = 0;
    for variant in GemmVariant::ALL {
        let kernel = KernelRef::Gemm(variant);
        let pipeline = kernels.get(kernel)?;
        let group = bind_group(
            device,
            &kernels.layout(kernel),
            "tune gemm",
            &[
                params.as_entire_binding(),
                x.as_entire_binding(),
                w.as_entire_binding(),
                bias.as_entire_binding(),
                xp.as_entire_binding(),
            ],
        );
        let [gx, gy, gz] = shape.grid(variant).map(|g| g as u32);
        let (time, n) = time_of(device, queue, |encoder| {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &group, &[]);
            pass.dispatch_workgroups(gx, gy, gz);
        })?;
        submits += n;
        times.push((variant, time));
    }
    Ok((fastest_of(&times, |_| true).expect("two variants"), submits))
}

/// Each part's first dispatch in `plan`, with its pipeline.
fn slice<'p>(
    kernels: &EngineKernels,
    plan: &'p Plan,
    parts: &[Part],
) -> Result<Vec<(&'p Dispatch, wgpu::ComputePipeline)>> {
    parts
        .iter()
        .map(|&part| {
            let dispatch = plan.find(part).expect("the plan has the part");
            Ok((dispatch, kernels.get(dispatch.kernel)?))
        })
        .collect()
}

/// Candidates for a batch: more elements per invocation than the batch has is no use.
fn step_candidates(batch: usize) -> Vec<StepVariant> {
    StepVariant::ALL
        .into_iter()
        .filter(|v| v.batch_block() as usize <= batch.max(1))
        .collect()
}

/// Time the step variants on a workspace's real buffers (a few steps of layer 0 each, from each
/// candidate's plan); then, where the layers can also run as a wavefront, time both schedules,
/// each with the fastest step it can use, and keep the faster. Candidates whose plan exceeds the
/// device's limits are not tried.
pub(crate) fn step(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &EngineKernels,
    ws: &Workspace,
    gemm: GemmVariant,
) -> Result<(StepChoice, u32)> {
    let res: &Resources = &ws.resources;
    let limits = device.limits();
    let plan_of = |step, schedule| res.plan(Variants { gemm, step, schedule });
    // Record `repeats` of each dispatch of a slice, with full-length sequences.
    let record =
        |encoder: &mut wgpu::CommandEncoder, slice: &[(&Dispatch, wgpu::ComputePipeline)], repeats| {
            ws.encode_lengths(device, encoder, None);
            for (dispatch, pipeline) in slice {
                ws.record_repeated(encoder, dispatch, pipeline, repeats);
            }
        };
    let mut submits = 0;
    let mut times = Vec::new();
    for candidate in step_candidates(res.dims.batch) {
        let plan = plan_of(candidate, Schedule::Layers);
        if limits::plan(&limits, &plan).is_err() {
            continue;
        }
        let slice = slice(kernels, &plan, &[Part::Step { layer: 0, step: 0 }])?;
        let (time, n) = time_of(device, queue, |encoder| record(encoder, &slice, STEPS))?;
        submits += n;
        times.push((candidate, time));
    }
    let step = fastest_of(&times, |_| true).ok_or_else(|| Error::DeviceLimit {
        limit: "max_compute_workgroups_per_dimension",
        needed: res.dims.batch as u64,
        available: limits.max_compute_workgroups_per_dimension as u64,
        hint: "; no step variant fits this batch on this device",
    })?;
    // The wavefront takes the fastest step it has (all but split-K).
    let Some(wave_step) = fastest_of(&times, |v| v != StepVariant::SplitK) else {
        return Ok(((step, Schedule::Layers), submits));
    };
    let wavefront = plan_of(wave_step, Schedule::Wavefront);
    if wavefront.variants.schedule != Schedule::Wavefront || limits::plan(&limits, &wavefront).is_err() {
        return Ok(((step, Schedule::Layers), submits));
    }
    // Each schedule's cost of a whole forward but layer 0's input projection, which both run:
    // layer by layer, T steps of every layer and the input projections of layers ≥ 1; as a
    // wavefront, T + L − 1 dispatches. Times are less one empty submission, and per STEPS.
    let layers = plan_of(step, Schedule::Layers);
    let (t, nl) = (res.dims.seq_len as f64, ws.layers());
    let mut time = |plan: &Plan, parts: &[Part], repeats| -> Result<f64> {
        let slice = slice(kernels, plan, parts)?;
        let (d, n) = time_of(device, queue, |encoder| record(encoder, &slice, repeats))?;
        submits += n;
        Ok(d.as_secs_f64())
    };
    let empty = time(&layers, &[], 0)?;
    let steps: Vec<Part> = (0..nl).map(|layer| Part::Step { layer, step: 0 }).collect();
    let projections: Vec<Part> = (1..nl).map(|layer| Part::InputProjection { layer }).collect();
    let by_layer = (time(&layers, &steps, STEPS)? - empty).max(0.0) * t / STEPS as f64
        + (time(&layers, &projections, 1)? - empty).max(0.0);
    // The dispatch in which the last layer takes its first step: every layer at once.
    let full = [Part::Wavefront { k: nl - 1 }];
    let as_wavefront =
        (time(&wavefront, &full, STEPS)? - empty).max(0.0) * (t + nl as f64 - 1.0) / STEPS as f64;
    let choice = if as_wavefront < by_layer {
        (wave_step, Schedule::Wavefront)
    } else {
        (step, Schedule::Layers)
    };
    Ok((choice, submits))
}
