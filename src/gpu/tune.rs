//! The short autotune: time each candidate kernel variant on this device and keep the fastest.
//! It runs once per shape class and device (the choice lives in the `PipelineCache`), and its
//! submissions are counted apart from the forward's own (`ForwardStats::autotune_submits`).

use std::time::{Duration, Instant};

use wgpu::util::DeviceExt;

use super::params::GemmParams;
use super::pipelines::{Pipelines, TuneKey};
use super::shaders::{INPUT_PROJECTION_BLOCKED, INPUT_PROJECTION_BLOCKED_ROWS, INPUT_PROJECTION_TILE};
use super::variants::{batch_class, GemmVariant, Schedule, StepVariant, Variants};
use super::workspace::Workspace;
use super::KernelPart;
use crate::config::LstmConfig;
use crate::error::{Error, Result};
use crate::forward::Dims;

/// Timed submissions per candidate (after one untimed); the fastest counts.
const TRIALS: usize = 3;

/// Rows of the synthetic GEMM the input-projection variants are timed on.
const GEMM_ROWS: u32 = 256;

pub(crate) fn gemm_key(k: usize, n: usize) -> TuneKey {
    TuneKey(vec![
        0,
        k.next_power_of_two() as u64,
        n.next_power_of_two() as u64,
    ])
}

/// The step's shape class; with `stacked` weights the schedule is chosen too, and that choice
/// also depends on the depth and the length class.
pub(crate) fn step_key(cfg: &LstmConfig, dims: Dims, stacked: bool) -> TuneKey {
    let (layers, t) = if stacked {
        (cfg.num_layers as u64, dims.seq_len.next_power_of_two() as u64)
    } else {
        (0, 0)
    };
    TuneKey(vec![
        1,
        layers,
        t,
        batch_class(dims.batch) as u64,
        cfg.hidden_size.next_power_of_two() as u64,
        cfg.output_size().next_power_of_two() as u64,
        cfg.num_directions() as u64,
    ])
}

/// Candidates for a batch: more elements per invocation than the batch has is no use.
pub(crate) fn step_candidates(batch: usize) -> Vec<StepVariant> {
    StepVariant::ALL
        .into_iter()
        .filter(|v| v.batch_block() as usize <= batch.max(1))
        .collect()
}

/// Step dispatches per timed submission.
const STEPS: usize = 4;

/// The fastest of `candidates`, `run` recording one trial of a candidate into an encoder.
fn fastest<V: Copy>(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    candidates: &[V],
    mut run: impl FnMut(&mut wgpu::CommandEncoder, V),
) -> Result<(V, u32)> {
    let (times, submits) = timings(device, queue, candidates, &mut run)?;
    Ok((
        fastest_of(&times, |_| true).expect("at least one candidate"),
        submits,
    ))
}

/// Each candidate's time.
fn timings<V: Copy>(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    candidates: &[V],
    mut run: impl FnMut(&mut wgpu::CommandEncoder, V),
) -> Result<(Vec<(V, Duration)>, u32)> {
    let mut times = Vec::new();
    let mut submits = 0;
    for &candidate in candidates {
        let (time, n) = time_of(device, queue, |encoder| run(encoder, candidate))?;
        submits += n;
        times.push((candidate, time));
    }
    Ok((times, submits))
}

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
                message: e.to_string(),
            })?;
        if trial > 0 {
            fastest = fastest.min(start.elapsed());
        }
    }
    Ok((fastest, TRIALS as u32 + 1))
}

/// Time both input-projection variants on a synthetic `GEMM_ROWS × n × k` problem.
pub(crate) fn gemm(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    pipelines: &Pipelines,
    k: usize,
    n: usize,
) -> Result<GemmVariant> {
    let storage = |label, floats: usize| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (floats.max(4) * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        })
    };
    let m = GEMM_ROWS as usize;
    let (x, w, bias, xp) = (
        storage("tune x", m * k),
        storage("tune w", n * k),
        storage("tune bias", n),
        storage("tune xp", m * n),
    );
    let params = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("tune gemm params"),
        contents: bytemuck::bytes_of(&GemmParams {
            m: m as u32,
            n: n as u32,
            k: k as u32,
            _pad: 0,
        }),
        usage: wgpu::BufferUsages::UNIFORM,
    });
    let groups: Vec<wgpu::BindGroup> = GemmVariant::ALL
        .iter()
        .map(|&v| {
            pipelines.gemm(v).bind_group(
                device,
                "tune gemm",
                &[
                    params.as_entire_binding(),
                    x.as_entire_binding(),
                    w.as_entire_binding(),
                    bias.as_entire_binding(),
                    xp.as_entire_binding(),
                ],
            )
        })
        .collect();
    let (choice, _) = fastest(device, queue, &GemmVariant::ALL, |encoder, v| {
        let index = GemmVariant::ALL.iter().position(|&c| c == v).expect("listed");
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipelines.gemm(v).pipeline);
        pass.set_bind_group(0, &groups[index], &[]);
        let (n, m) = (n as u32, m as u32);
        match v {
            GemmVariant::Tiled => pass.dispatch_workgroups(
                n.div_ceil(INPUT_PROJECTION_TILE),
                m.div_ceil(INPUT_PROJECTION_TILE),
                1,
            ),
            GemmVariant::RegisterBlocked => pass.dispatch_workgroups(
                (n / 4).div_ceil(2 * INPUT_PROJECTION_BLOCKED.workgroup_size[0]),
                m.div_ceil(INPUT_PROJECTION_BLOCKED_ROWS),
                1,
            ),
        }
    })?;
    Ok(choice)
}

/// Time the step variants on a workspace's real buffers (a few steps of layer 0 each); then, with
/// stacked weights, time both schedules, each with the fastest step it can use, and keep the
/// faster.
pub(crate) fn step(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    pipelines: &Pipelines,
    cfg: &LstmConfig,
    ws: &Workspace,
    stacked: bool,
) -> Result<((StepVariant, Schedule), u32)> {
    let layers = |step| Variants {
        gemm: ws.gemm,
        step,
        schedule: Schedule::Layers,
    };
    let (times, mut submits) = timings(device, queue, &step_candidates(ws.dims.batch), |encoder, v| {
        ws.encode_lengths(device, encoder, None);
        ws.record_kernel(
            encoder,
            cfg,
            pipelines,
            layers(v),
            KernelPart::Step { layer: 0 },
            STEPS,
        );
    })?;
    let step = fastest_of(&times, |_| true).expect("at least one candidate");
    // The wavefront takes the fastest step it has (all but split-K).
    let Some(wave_step) = fastest_of(&times, |v| v != StepVariant::SplitK) else {
        return Ok(((step, Schedule::Layers), submits));
    };
    let wavefront = Variants {
        schedule: Schedule::Wavefront,
        ..layers(wave_step)
    };
    if !stacked || wavefront.effective(cfg) != wavefront {
        return Ok(((step, Schedule::Layers), submits));
    }
    // Each schedule's cost of a whole forward but layer 0's input projection, which both run:
    // layer by layer, T steps of every layer and the input projections of layers ≥ 1; as a
    // wavefront, T + L − 1 dispatches. Times are less one empty submission, and per STEPS.
    let (t, nl) = (ws.dims.seq_len as f64, cfg.num_layers);
    let mut time = |v: Variants, parts: &[KernelPart], repeats| -> Result<f64> {
        let (d, n) = time_of(device, queue, |encoder| {
            ws.encode_lengths(device, encoder, None);
            for &part in parts {
                ws.record_kernel(encoder, cfg, pipelines, v, part, repeats);
            }
        })?;
        submits += n;
        Ok(d.as_secs_f64())
    };
    let empty = time(layers(step), &[], 0)?;
    let steps: Vec<KernelPart> = (0..nl).map(|layer| KernelPart::Step { layer }).collect();
    let projections: Vec<KernelPart> = (1..nl)
        .map(|layer| KernelPart::InputProjection { layer })
        .collect();
    let by_layer = (time(layers(step), &steps, STEPS)? - empty).max(0.0) * t / STEPS as f64
        + (time(layers(step), &projections, 1)? - empty).max(0.0);
    let last = KernelPart::Step { layer: nl - 1 };
    let as_wavefront =
        (time(wavefront, &[last], STEPS)? - empty).max(0.0) * (t + nl as f64 - 1.0) / STEPS as f64;
    let choice = if as_wavefront < by_layer {
        (wave_step, Schedule::Wavefront)
    } else {
        (step, Schedule::Layers)
    };
    Ok((choice, submits))
}
