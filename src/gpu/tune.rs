//! The short autotune: time each candidate kernel variant on this device and keep the fastest.
//! It runs once per shape class and device (the choice lives in the `PipelineCache`), and its
//! submissions are counted apart from the forward's own (`ForwardStats::autotune_submits`).

use std::time::{Duration, Instant};

use wgpu::util::DeviceExt;

use super::params::GemmParams;
use super::pipelines::{Pipelines, TuneKey};
use super::shaders::{INPUT_PROJECTION_BLOCKED, INPUT_PROJECTION_BLOCKED_ROWS, INPUT_PROJECTION_TILE};
use super::variants::{batch_class, GemmVariant, StepVariant};
use super::workspace::Workspace;
use crate::config::LstmConfig;
use crate::error::{Error, Result};

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

pub(crate) fn step_key(cfg: &LstmConfig, batch: usize) -> TuneKey {
    TuneKey(vec![
        1,
        batch_class(batch) as u64,
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

/// The fastest of `candidates`, `run` recording one trial of a candidate into an encoder.
fn fastest<V: Copy>(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    candidates: &[V],
    mut run: impl FnMut(&mut wgpu::CommandEncoder, V),
) -> Result<(V, u32)> {
    let mut best: Option<(V, Duration)> = None;
    let mut submits = 0;
    for &candidate in candidates {
        let mut fastest = Duration::MAX;
        for trial in 0..=TRIALS {
            let start = Instant::now();
            let mut encoder = device.create_command_encoder(&Default::default());
            run(&mut encoder, candidate);
            queue.submit([encoder.finish()]);
            submits += 1;
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
        if best.is_none_or(|(_, t)| fastest < t) {
            best = Some((candidate, fastest));
        }
    }
    Ok((best.expect("at least one candidate").0, submits))
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

/// Time the step variants on a workspace's real buffers (a few steps of layer 0 each).
pub(crate) fn step(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    pipelines: &Pipelines,
    cfg: &LstmConfig,
    ws: &Workspace,
) -> Result<(StepVariant, u32)> {
    const STEPS: usize = 4;
    let candidates = step_candidates(ws.dims.batch);
    fastest(device, queue, &candidates, |encoder, v| {
        ws.encode_lengths(device, encoder, None);
        ws.record_kernel(
            encoder,
            cfg,
            pipelines,
            v,
            super::KernelPart::Step { layer: 0 },
            STEPS,
        );
    })
}
