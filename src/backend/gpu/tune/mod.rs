//! The short autotune: time each candidate kernel variant on this device and keep the fastest.
//! It runs once per shape class and device (the choice lives in the `PipelineCache`, and on disk
//! when asked: [`file`]), and its submissions are counted apart from the forward's own
//! (`ForwardStats::autotune_submits`, `autotune_ns`). Steps are timed as slices of the forward's
//! own plan, on the GPU with timestamp queries where the device has them.

pub(crate) mod file;
pub(crate) mod key;
pub(crate) mod store;

use web_time::Instant;

use wgpu::util::DeviceExt;

use super::grid;
use super::limits;
use super::pipelines::{bind_group, EngineKernels};
use super::plan::{Dispatch, GemmShape, Part, Plan, Resources};
use super::readback;
use super::shaders::KernelRef;
use super::variants::{GemmVariant, Schedule, StepVariant, Variants};
use super::workspace::Workspace;
use crate::error::{Error, GpuError, Result};
use crate::forward::Dims;

pub(crate) use key::{GemmKey, StepKey};
pub(crate) use store::{StepChoice, StepTimes, Tuning};

/// Timed submissions per measurement (after one untimed); the fastest counts.
const TRIALS: usize = 3;

/// Rows of the synthetic GEMM the input-projection variants are timed on.
const GEMM_ROWS: u64 = 256;

/// Step dispatches per timed submission of a per-step kernel.
const STEPS: usize = 16;

/// Times compute passes: on the GPU with timestamp queries where the device has them, else by
/// the wall clock less the time of an empty submission. Counts its submissions.
struct Timer<'a> {
    device: &'a wgpu::Device,
    queue: &'a wgpu::Queue,
    queries: Option<Queries>,
    /// Seconds of an empty submission, taken off wall-clock timings.
    empty: f64,
    submits: u32,
}

struct Queries {
    set: wgpu::QuerySet,
    resolved: wgpu::Buffer,
    readback: wgpu::Buffer,
}

impl<'a> Timer<'a> {
    fn new(device: &'a wgpu::Device, queue: &'a wgpu::Queue) -> Result<Self> {
        let queries = device
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY)
            .then(|| {
                let buffer = |label, usage| {
                    device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some(label),
                        size: 16,
                        usage,
                        mapped_at_creation: false,
                    })
                };
                Queries {
                    set: device.create_query_set(&wgpu::QuerySetDescriptor {
                        label: Some("autotune timestamps"),
                        ty: wgpu::QueryType::Timestamp,
                        count: 2,
                    }),
                    resolved: buffer(
                        "autotune resolved",
                        wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                    ),
                    readback: buffer(
                        "autotune readback",
                        wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    ),
                }
            });
        let mut timer = Timer {
            device,
            queue,
            queries,
            empty: 0.0,
            submits: 0,
        };
        if timer.queries.is_none() {
            timer.empty = timer.time(|_| {}, |_| {})?;
        }
        Ok(timer)
    }

    /// Seconds of the fastest of `TRIALS` runs (after an untimed one) of the pass `record`
    /// fills, after `prepare` has recorded what must precede it.
    fn time(
        &mut self,
        prepare: impl Fn(&mut wgpu::CommandEncoder),
        record: impl Fn(&mut wgpu::ComputePass<'_>),
    ) -> Result<f64> {
        let mut fastest = f64::MAX;
        for trial in 0..=TRIALS {
            let start = Instant::now();
            let mut encoder = self.device.create_command_encoder(&Default::default());
            prepare(&mut encoder);
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("autotune"),
                    timestamp_writes: self.queries.as_ref().map(|q| wgpu::ComputePassTimestampWrites {
                        query_set: &q.set,
                        beginning_of_pass_write_index: Some(0),
                        end_of_pass_write_index: Some(1),
                    }),
                });
                record(&mut pass);
            }
            if let Some(q) = &self.queries {
                encoder.resolve_query_set(&q.set, 0..2, &q.resolved, 0);
                encoder.copy_buffer_to_buffer(&q.resolved, 0, &q.readback, 0, 16);
            }
            let submission = self.queue.submit([encoder.finish()]);
            self.submits += 1;
            let seconds = match &self.queries {
                Some(q) => {
                    let raw = pollster::block_on(readback::read_bytes(
                        self.device,
                        &q.readback,
                        16,
                        Some(submission),
                    ))?;
                    let tick = |at: usize| u64::from_le_bytes(raw[at..at + 8].try_into().expect("8 bytes"));
                    tick(8).saturating_sub(tick(0)) as f64 * self.queue.get_timestamp_period() as f64 * 1e-9
                }
                None => {
                    self.device
                        .poll(wgpu::PollType::Wait {
                            submission_index: Some(submission),
                            timeout: None,
                        })
                        .map_err(|e| Error::Gpu {
                            during: "autotune",
                            source: GpuError::Poll(e),
                        })?;
                    (start.elapsed().as_secs_f64() - self.empty).max(0.0)
                }
            };
            if trial > 0 {
                fastest = fastest.min(seconds);
            }
        }
        Ok(fastest)
    }
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
    let mut timer = Timer::new(device, queue)?;
    let mut times = Vec::new();
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
        let max = device.limits().max_compute_workgroups_per_dimension as u64;
        let [gx, gy, gz] = grid::fold_y(shape.grid(variant), max).map(|g| g as u32);
        let time = timer.time(
            |_| {},
            |pass| {
                pass.set_pipeline(&pipeline);
                pass.set_bind_group(0, &group, &[]);
                pass.dispatch_workgroups(gx, gy, gz);
            },
        )?;
        times.push((variant, time));
    }
    Ok((
        clear_winner(times.into_iter()).expect("five variants"),
        timer.submits,
    ))
}

/// A later candidate beats an earlier one only by this factor, so that timing noise between
/// near-equal variants does not decide: the choice is then the first in the enum's order.
const CLEAR_WIN: f64 = 0.9;

/// The candidate that no later one beats by [`CLEAR_WIN`], in the order given.
fn clear_winner<V>(costs: impl Iterator<Item = (V, f64)>) -> Option<V> {
    costs
        .fold(None, |best: Option<(V, f64)>, (v, cost)| match best {
            Some((_, best_cost)) if cost >= best_cost * CLEAR_WIN => best,
            _ => Some((v, cost)),
        })
        .map(|(v, _)| v)
}

/// Candidates for a shape, each within the range it is made for: no more elements per block
/// than the batch has; split-K for batches up to 16; the sequence kernels for batches up to 64
/// and long sequences ([`key::LONG_SEQUENCE`]).
fn step_candidates(dims: Dims) -> Vec<StepVariant> {
    let batch = dims.batch;
    StepVariant::ALL
        .into_iter()
        .filter(|v| v.batch_block() as usize <= batch.max(1))
        .filter(|v| match v {
            StepVariant::SplitK { .. } => batch <= 16,
            StepVariant::Sequence | StepVariant::SequenceResident => {
                batch <= 64 && dims.seq_len >= key::LONG_SEQUENCE
            }
            _ => true,
        })
        .collect()
}

/// `repeats` copies of each part's first dispatch in a plan, with its pipeline.
struct Slice<'p> {
    dispatches: Vec<(&'p Dispatch, wgpu::ComputePipeline)>,
    repeats: usize,
}

impl<'p> Slice<'p> {
    fn of(kernels: &EngineKernels, plan: &'p Plan, parts: &[Part], repeats: usize) -> Result<Self> {
        let dispatches = parts
            .iter()
            .map(|&part| {
                let dispatch = plan.find(part).expect("the plan has the part");
                Ok((dispatch, kernels.get(dispatch.kernel)?))
            })
            .collect::<Result<_>>()?;
        Ok(Slice { dispatches, repeats })
    }
}

/// Time the step variants on a workspace's real buffers as slices of each candidate's plan, as
/// the cost of the steps of a layer: 16 steps of a per-step kernel scaled to T, or one dispatch
/// of the sequence kernel. Then, where the layers can also run as a wavefront, weigh both
/// schedules, each with the fastest step it can use, and keep the faster. Candidates whose plan
/// exceeds the device's limits are not tried; one that falls back on another step is that step.
pub(crate) fn step(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    kernels: &EngineKernels,
    ws: &Workspace,
    gemm: GemmVariant,
) -> Result<(StepChoice, StepTimes, u32)> {
    let res: &Resources = &ws.resources;
    let limits = device.limits();
    let mut timer = Timer::new(device, queue)?;
    let plan_of = |step, schedule| res.plan(Variants { gemm, step, schedule });
    let (t, nl) = (res.dims.seq_len, ws.layers());
    // Seconds of a slice, times `scale`.
    let measure = |timer: &mut Timer, slice: &Slice, scale: f64| -> Result<f64> {
        let time = timer.time(
            // Full-length sequences, so every step does its work.
            |encoder| ws.encode_lengths(device, encoder, None),
            |pass| {
                for (dispatch, pipeline) in &slice.dispatches {
                    ws.dispatch_repeated(pass, dispatch, pipeline, slice.repeats);
                }
            },
        )?;
        Ok(time * scale)
    };
    // The steps of `layers`: T of them, whether one dispatch each or one for all.
    let steps_of = |plan: &Plan, layers: &[usize]| -> (Vec<Part>, usize, f64) {
        if plan.variants.step.whole_sequence() {
            (
                layers.iter().map(|&layer| Part::Sequence { layer }).collect(),
                1,
                1.0,
            )
        } else {
            let parts = layers
                .iter()
                .map(|&layer| Part::Step { layer, step: 0 })
                .collect();
            (parts, STEPS, t as f64 / STEPS as f64)
        }
    };
    let mut costs = Vec::new();
    // Why the last candidate that did not fit was refused, for the error when none fits.
    let mut refused = None;
    // A candidate that falls back on another step ([`Variants::effective`]) is that step, tried
    // once.
    let mut tried = Vec::new();
    for asked in step_candidates(res.dims) {
        let plan = plan_of(asked, Schedule::Layers);
        let candidate = plan.variants.step;
        if tried.contains(&candidate) {
            continue;
        }
        tried.push(candidate);
        if let Err(e) = limits::plan(&limits, &plan) {
            refused = Some(e);
            continue;
        }
        let (parts, repeats, scale) = steps_of(&plan, &[0]);
        let cost = measure(&mut timer, &Slice::of(kernels, &plan, &parts, repeats)?, scale)?;
        log::debug!(
            "autotune {:?}: {} costs {:.3} ms per layer",
            res.dims,
            candidate.name(),
            cost * 1e3
        );
        costs.push((candidate, cost));
    }
    // What was timed, for the tune cache and `bench`: ms per layer of each step variant.
    let mut times: StepTimes = costs.iter().map(|(v, cost)| (v.name(), cost * 1e3)).collect();
    let fastest =
        |keep: &dyn Fn(StepVariant) -> bool| clear_winner(costs.iter().copied().filter(|(v, _)| keep(*v)));
    let Some(step) = fastest(&|_| true) else {
        return Err(refused.unwrap_or_else(|| Error::Invalid {
            what: "the step kernels".into(),
            message: "none of them can run this shape".into(),
        }));
    };
    // The wavefront takes the fastest step it has a kernel for.
    let Some(wave_step) = fastest(&|v| v.runs_in_a_wavefront()) else {
        return Ok(((step, Schedule::Layers), times, timer.submits));
    };
    let wavefront = plan_of(wave_step, Schedule::Wavefront);
    if wavefront.variants.schedule != Schedule::Wavefront || limits::plan(&limits, &wavefront).is_err() {
        return Ok(((step, Schedule::Layers), times, timer.submits));
    }
    // Each schedule's cost of a whole forward but layer 0's input projection, which both run:
    // layer by layer, the steps of every layer and the input projections of layers ≥ 1; as a
    // wavefront, T + L − 1 dispatches.
    let layers = plan_of(step, Schedule::Layers);
    let all: Vec<usize> = (0..nl).collect();
    let (parts, repeats, scale) = steps_of(&layers, &all);
    let projections: Vec<Part> = (1..nl).map(|layer| Part::InputProjection { layer }).collect();
    let by_layer = measure(&mut timer, &Slice::of(kernels, &layers, &parts, repeats)?, scale)?
        + measure(&mut timer, &Slice::of(kernels, &layers, &projections, 1)?, 1.0)?;
    // The dispatch in which the last layer takes its first step: every layer at once.
    let full = [Part::Wavefront { k: nl - 1 }];
    let as_wavefront = measure(
        &mut timer,
        &Slice::of(kernels, &wavefront, &full, STEPS)?,
        (t + nl - 1) as f64 / STEPS as f64,
    )?;
    let choice = if as_wavefront < by_layer {
        (wave_step, Schedule::Wavefront)
    } else {
        (step, Schedule::Layers)
    };
    // Each schedule's cost, ms of a forward but layer 0's input projection.
    times.push((format!("{} + layers", step.name()), by_layer * 1e3));
    times.push((format!("{} + wavefront", wave_step.name()), as_wavefront * 1e3));
    Ok((choice, times, timer.submits))
}
