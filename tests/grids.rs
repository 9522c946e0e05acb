//! Grids past the device's per-dimension workgroup limit fold (src/backend/gpu/grid.rs): on a device
//! that allows only 8 workgroups per dimension, every inference kernel variant (GEMMs, per-step
//! kernels layer by layer and as a wavefront, split-K, tiled, the sequence kernels, the output
//! projection) and every training kernel that can need a fold runs on shapes whose grids fold,
//! and matches the CPU reference. On the device as it is, T = 70000, B = 30, I = H = 1 runs.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{config, gpu, random_tensor, Gpu};
use wgpu_lstm::conform::ConformCase;
use wgpu_lstm::gpu::{GemmVariant, PipelineCache, Schedule, StepVariant, TrainLstm, Trainer, Variants};
use wgpu_lstm::train::flatten;
use wgpu_lstm::{CpuLstm, Dims, Direction, Error, Lstm, LstmConfig, LstmWeights, Optimizer};

/// Workgroups per dimension on the small-grid device.
const MAX_WORKGROUPS: u32 = 8;

/// A second device on the shared adapter whose grids may hold only [`MAX_WORKGROUPS`]
/// workgroups per dimension (the caller holds the shared device's turn).
fn small_grid_device(gpu: &Gpu) -> (wgpu::Device, wgpu::Queue) {
    let adapter = &gpu.adapter;
    let limits = wgpu::Limits {
        max_compute_workgroups_per_dimension: MAX_WORKGROUPS,
        ..adapter.limits()
    };
    pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("small grids"),
        required_features: gpu.device.features(),
        required_limits: limits,
        ..Default::default()
    }))
    .expect("a device with smaller limits")
}

/// Models whose dispatches cover every kernel: bidirectional (z = 2 unfolds), a unidirectional
/// stack (the wavefront, z = layers of a dispatch), and a projection (the output projection).
fn models() -> Vec<LstmConfig> {
    vec![
        config(5, 20, 1, Direction::Bidirectional),
        config(3, 9, 2, Direction::Forward),
        LstmConfig {
            proj_size: Some(7),
            ..config(4, 20, 1, Direction::Reverse)
        },
    ]
}

/// Shapes whose grids fold on the small-grid device, each variant in at least one of them while
/// its folded grid still fits (B = 30 for one batch element per invocation, the split-K of one
/// or two, the sequence kernels, the wavefront and the output projection; B = 70 for blocks of
/// four and eight; B = 600 for the tiled steps' blocks of 32 and 64; T·B = 1800 for the
/// 128-row GEMM tiles, 600 for the others). A variant whose folded grid still passes the limit at
/// a shape is refused there with `DeviceLimit`, as on any device.
const SHAPES: [(usize, usize); 4] = [(20, 30), (10, 70), (2, 600), (60, 30)];

#[test]
fn every_inference_kernel_runs_on_folded_grids() {
    let Some(gpu) = gpu() else { return };
    let (device, queue) = small_grid_device(&gpu);
    let cache = PipelineCache::new(&device);
    let mut passed: BTreeMap<String, usize> = BTreeMap::new();
    let mut every = BTreeSet::new();
    for (seq_len, batch) in SHAPES {
        for (k, model) in models().into_iter().enumerate() {
            let case = ConformCase {
                convention: None,
                config: model,
                batch,
                seq_len,
                initial_state: true,
                seq_lens: true,
                seed: 40 + k as u64,
                pooled: false,
            };
            let prepared = case.prepare().unwrap();
            for variants in prepared.variants() {
                let names = [variants.gemm.name().to_string(), variants.step.name().to_string()];
                every.extend(names.clone());
                let check = match prepared.run(&cache, &queue, Some(variants)) {
                    Err(Error::DeviceLimit { .. }) => continue,
                    other => other.unwrap_or_else(|e| panic!("{} with {variants}: {e}", case.describe())),
                };
                assert_eq!(check.variants, variants, "{}: other kernels ran", case.describe());
                assert!(
                    check.passed(),
                    "{} with {variants}: {:?}",
                    case.describe(),
                    check.comparison
                );
                for name in names {
                    *passed.entry(name).or_default() += 1;
                }
            }
        }
    }
    eprintln!("passed on folded grids: {passed:?}");
    let missing: Vec<&String> = every.iter().filter(|v| !passed.contains_key(*v)).collect();
    assert!(
        missing.is_empty(),
        "never ran on the small-grid device: {missing:?}"
    );
}

#[test]
fn training_kernels_run_on_folded_grids() {
    let Some(gpu) = gpu() else { return };
    let (device, queue) = small_grid_device(&gpu);
    let cache = PipelineCache::new(&device);
    // B = 70: 9 groups of 8 sequences per direction (18 pairs > 8), 700 rows (11 tiles of 64 in
    // the tiled GEMMs), 10,496 weights (41 update workgroups); B = 9 runs single sequences (18
    // pairs) in two layers, 270 rows (17 of 16 in the direct GEMMs).
    let mut folded_updates = 0;
    for (seq_len, batch, input, hidden, layers) in [(10, 70, 64, 16, 1), (30, 9, 3, 5, 2)] {
        let cfg = config(input, hidden, layers, Direction::Bidirectional);
        let weights = LstmWeights::random(&cfg, 3).unwrap();
        let x = random_tensor(vec![seq_len, batch, input], 1.0, 4);
        let cpu = CpuLstm::new(&cfg, &weights).unwrap();
        let model = TrainLstm::with_cache(&cache, &queue, &cfg, &weights).unwrap();
        let (cpu_out, cpu_tape) = cpu.forward_train(&x, None, None).unwrap();
        let (gpu_out, gpu_tape) = model.forward_train(&x, None, None).unwrap();
        let out_err = gpu_out.max_abs_diff(&cpu_out).unwrap();
        assert!(
            out_err <= common::TOLERANCE,
            "B = {batch}: forward off by {out_err:e}"
        );
        let dy = random_tensor(cpu_out.y.shape().to_vec(), 1.0, 5);
        let want = cpu.backward(&cpu_tape, &dy, None, None).unwrap();
        let got = model.backward(&gpu_tape, &dy, None, None).unwrap();
        let dims = Dims { seq_len, batch };
        let worst = common::assert_gradients(&format!("B = {batch}"), &cfg, dims, &got, &want);
        eprintln!("B = {batch}: worst gradient {worst:.3} of its bound");
        // The optimizer's update: one workgroup per 256 weights, folded into y past 8 of them.
        let optimizer = Optimizer::sgd(0.1, 0.9);
        let mut host = flatten(&weights);
        folded_updates += usize::from(host.len() > 256 * MAX_WORKGROUPS as usize);
        let mut state = vec![0.0; host.len() * optimizer.state_per_weight()];
        optimizer
            .step_host(1, &mut host, &flatten(&want.weights), &mut state)
            .unwrap();
        let mut trainer = Trainer::new(&model, optimizer).unwrap();
        trainer.step(&model, &gpu_tape, &dy, None, None).unwrap();
        let stepped = flatten(&model.weights().unwrap());
        let worst = stepped
            .iter()
            .zip(&host)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            worst <= common::TOLERANCE,
            "B = {batch}: updated weights off by {worst:e}"
        );
    }
    assert!(folded_updates > 0, "no update's grid folded");
}

/// A grid that does not fit even folded is refused before anything runs, with its real numbers:
/// one batch element per invocation at B = 70 in both directions folds to 8 × 18.
#[test]
fn a_grid_past_the_limit_even_folded_is_refused_with_its_numbers() {
    let Some(gpu) = gpu() else { return };
    let (device, queue) = small_grid_device(&gpu);
    let cache = PipelineCache::new(&device);
    let cfg = config(2, 5, 1, Direction::Bidirectional);
    let weights = LstmWeights::random(&cfg, 1).unwrap();
    let variants = Variants {
        gemm: GemmVariant::TILED,
        step: StepVariant::Batch1,
        schedule: Schedule::Layers,
    };
    let lstm = Lstm::with_variants(&cache, &queue, &cfg, &weights, Some(variants)).unwrap();
    match lstm.forward(&random_tensor(vec![3, 70, 2], 1.0, 2), None) {
        Err(Error::DeviceLimit {
            limit,
            needed,
            available,
            ..
        }) => assert_eq!(
            (limit, needed, available),
            ("max_compute_workgroups_per_dimension", 18, MAX_WORKGROUPS as u64)
        ),
        other => panic!("expected a device limit, got {:?}", other.map(|_| ())),
    }
    // Blocks of eight batch elements fold to 5 × 4 and run.
    let blocks = Variants {
        step: StepVariant::Batch8,
        ..variants
    };
    let lstm = Lstm::with_variants(&cache, &queue, &cfg, &weights, Some(blocks)).unwrap();
    assert!(lstm.forward(&random_tensor(vec![3, 70, 2], 1.0, 2), None).is_ok());
    assert_eq!(lstm.last_stats().variants, blocks);
}

/// A few seconds of audio at sample level for 30 streams: the input projection's 131,250 row
/// blocks fold, and 70,001 dispatches record into several compute passes.
#[test]
fn a_long_sequence_of_many_streams_runs() {
    let Some(gpu) = gpu() else { return };
    let cfg = config(1, 1, 1, Direction::Forward);
    let weights = LstmWeights::random(&cfg, 7).unwrap();
    let x = random_tensor(vec![70_000, 30, 1], 1.0, 8);
    let variants = Variants {
        gemm: GemmVariant::RegisterBlocked,
        step: StepVariant::Batch8,
        schedule: Schedule::Layers,
    };
    let lstm = Lstm::with_variants(gpu.pipeline_cache(), &gpu.queue, &cfg, &weights, Some(variants)).unwrap();
    let got = lstm.forward(&x, None).unwrap();
    assert_eq!(lstm.last_stats().variants, variants.effective(&cfg));
    let want = CpuLstm::new(&cfg, &weights).unwrap().forward(&x, None).unwrap();
    let err = got.max_abs_diff(&want).unwrap();
    eprintln!("T = 70000, B = 30: max |gpu - cpu| = {err:e}");
    assert!(err <= common::TOLERANCE, "max |gpu - cpu| = {err:e}");
}
