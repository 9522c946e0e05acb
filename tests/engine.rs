//! The GPU engine's structure and robustness: one submit and one readback per forward, the
//! dispatch count, buffer reuse, typed errors for bad requests and sizes beyond device limits,
//! and exact saturation.

mod common;

use common::config;

use wgpu_lstm::gpu::{GemmVariant, Schedule, StepVariant, Variants};
use wgpu_lstm::Dims;
use wgpu_lstm::{CpuLstm, Direction, Error, Lstm, LstmConfig, LstmWeights, State, Tensor};

#[test]
fn one_submit_one_readback_and_one_projection_plus_t_steps_per_layer() {
    let Some(ctx) = common::gpu() else { return };
    let cfg = config(7, 11, 3, Direction::Bidirectional);
    let w = LstmWeights::random(&cfg, 1).unwrap();
    let cache = wgpu_lstm::gpu::PipelineCache::new(&ctx.device);
    let per_step = Variants {
        gemm: GemmVariant::RegisterBlocked,
        step: StepVariant::Batch1,
        schedule: Schedule::Layers,
    };
    let lstm = Lstm::with_variants(&cache, &ctx.queue, &cfg, &w, Some(per_step)).unwrap();
    let (t, b) = (9, 4);
    let x = common::random_tensor(vec![t, b, 7], 1.0, 2);
    let first = lstm.forward(&x, None).unwrap();
    let stats = lstm.last_stats();
    assert_eq!(stats.variants, per_step);
    assert_eq!(stats.submits, 1);
    assert_eq!(stats.readbacks, 1);
    // Per layer: one projection GEMM for both directions, then one fused step per timestep.
    assert_eq!(stats.dispatches as usize, cfg.num_layers * (1 + t));
    let state_bytes = 2 * cfg.num_layers * 2 * b * 11 * 4;
    assert_eq!(stats.bytes_uploaded as usize, t * b * 7 * 4 + b * 4 + state_bytes);
    // Plus two u64 timestamps where the device has timestamp queries.
    let timestamps = if stats.gpu_ns.is_some() { 16 } else { 0 };
    assert_eq!(
        stats.bytes_downloaded as usize,
        t * b * 2 * 11 * 4 + state_bytes + timestamps
    );
    eprintln!("GPU time {:?} ns, recording {} ns", stats.gpu_ns, stats.record_ns);
    assert!(stats.record_ns > 0);

    // Reused buffers give the same answer, and another shape still works.
    let again = lstm.forward(&x, None).unwrap();
    assert_eq!(first, again);
    let x2 = common::random_tensor(vec![3, 5, 7], 1.0, 3);
    let other = lstm.forward(&x2, None).unwrap();
    let reference = CpuLstm::new(&cfg, &w).unwrap().forward(&x2, None).unwrap();
    common::assert_close("second shape y", &other.y, &reference.y, common::TOLERANCE);

    // The sequence kernels run each layer's steps in one dispatch: two per layer.
    for step in [StepVariant::Sequence, StepVariant::SequenceResident] {
        let whole = Variants { step, ..per_step };
        let lstm = Lstm::with_variants(&cache, &ctx.queue, &cfg, &w, Some(whole)).unwrap();
        let got = lstm.forward(&x2, None).unwrap();
        let stats = lstm.last_stats();
        assert_eq!(stats.variants, whole);
        assert_eq!(
            (stats.dispatches, stats.submits, stats.readbacks),
            (2 * 3, 1, 1),
            "{step:?}"
        );
        assert!(
            got.max_abs_diff(&reference).unwrap() <= common::TOLERANCE,
            "{step:?}"
        );
    }
}

/// A unidirectional stack can run as a wavefront: layer 0's input projection, then T + L − 1
/// dispatches that each run every layer with a step left (down to T < L); layer by layer the same
/// model takes L·(1 + T) dispatches. Both give the CPU's answer, and the autotune's choice
/// between them shows in the stats and the dispatch count.
#[test]
fn a_unidirectional_stack_runs_as_a_wavefront_in_t_plus_l_minus_1_steps() {
    let Some(ctx) = common::gpu() else { return };
    let cache = wgpu_lstm::gpu::PipelineCache::new(&ctx.device);
    for (direction, layers, t, b, step) in [
        (Direction::Forward, 3, 9, 4, StepVariant::Batch1),
        (Direction::Reverse, 2, 5, 3, StepVariant::Batch2),
        (Direction::Forward, 4, 2, 2, StepVariant::Batch8Units2),
        (Direction::Reverse, 3, 1, 5, StepVariant::Batch4),
    ] {
        let cfg = config(7, 11, layers, direction);
        let w = LstmWeights::random(&cfg, 21).unwrap();
        let x = common::random_tensor(vec![t, b, 7], 1.0, 22);
        let lens: Vec<usize> = (0..b).map(|i| t - i % t).collect();
        let expected = CpuLstm::new(&cfg, &w)
            .unwrap()
            .forward_with_lens(&x, None, Some(&lens))
            .unwrap();
        for schedule in [Schedule::Wavefront, Schedule::Layers] {
            let forced = Variants {
                gemm: GemmVariant::RegisterBlocked,
                step,
                schedule,
            };
            let what = format!("{direction:?} L={layers} T={t} B={b} {forced}");
            let lstm = Lstm::with_variants(&cache, &ctx.queue, &cfg, &w, Some(forced)).unwrap();
            let got = lstm.forward_with_lens(&x, None, Some(&lens)).unwrap();
            let stats = lstm.last_stats();
            assert_eq!(stats.variants, forced, "{what}");
            assert_eq!((stats.submits, stats.readbacks), (1, 1), "{what}");
            let dispatches = match schedule {
                Schedule::Wavefront => 1 + t + layers - 1,
                Schedule::Layers => layers * (1 + t),
            };
            assert_eq!(stats.dispatches as usize, dispatches, "{what}");
            let err = got.max_abs_diff(&expected).unwrap();
            assert!(err <= common::TOLERANCE, "{what}: error {err:.3e}");
        }

        let tuned = Lstm::with_cache(&cache, &ctx.queue, &cfg, &w).unwrap();
        let got = tuned.forward_with_lens(&x, None, Some(&lens)).unwrap();
        let stats = tuned.last_stats();
        let dispatches = common::expected_dispatches(stats.variants, layers, t, false);
        assert_eq!(
            stats.dispatches as usize, dispatches,
            "autotuned {}",
            stats.variants
        );
        assert!(got.max_abs_diff(&expected).unwrap() <= common::TOLERANCE);
        eprintln!(
            "{direction:?} L={layers} T={t} B={b}: autotune chose {}",
            stats.variants
        );
    }
}

/// Where the wavefront cannot run (two directions, a projection, the split-K step) a forced
/// wavefront runs layer by layer, and the stats say so.
#[test]
fn a_wavefront_falls_back_on_layers_where_it_cannot_run() {
    let Some(ctx) = common::gpu() else { return };
    let cache = wgpu_lstm::gpu::PipelineCache::new(&ctx.device);
    let wavefront = |step| Variants {
        gemm: GemmVariant::RegisterBlocked,
        step,
        schedule: Schedule::Wavefront,
    };
    let projected = LstmConfig {
        proj_size: Some(3),
        ..config(4, 6, 2, Direction::Forward)
    };
    for (cfg, step) in [
        (config(4, 6, 2, Direction::Bidirectional), StepVariant::Batch1),
        (projected, StepVariant::Batch1),
        (
            config(4, 6, 2, Direction::Forward),
            StepVariant::SplitK { units: 16, batch: 1 },
        ),
        (config(4, 6, 1, Direction::Forward), StepVariant::Batch1),
    ] {
        let w = LstmWeights::random(&cfg, 5).unwrap();
        let lstm = Lstm::with_variants(&cache, &ctx.queue, &cfg, &w, Some(wavefront(step))).unwrap();
        let x = common::random_tensor(vec![3, 2, 4], 1.0, 6);
        assert_eq!(
            lstm.variants(Dims { seq_len: 3, batch: 2 }),
            wavefront(step).effective(&cfg)
        );
        let got = lstm.forward(&x, None).unwrap();
        let stats = lstm.last_stats();
        assert_eq!(stats.variants.schedule, Schedule::Layers, "{cfg:?} {step:?}");
        assert_eq!(stats.variants, wavefront(step).effective(&cfg));
        let expected = CpuLstm::new(&cfg, &w).unwrap().forward(&x, None).unwrap();
        assert!(got.max_abs_diff(&expected).unwrap() <= common::TOLERANCE);
    }
}

#[test]
fn a_projection_adds_one_dispatch_per_step_and_nothing_else() {
    let Some(ctx) = common::gpu() else { return };
    let cfg = LstmConfig {
        proj_size: Some(4),
        ..config(5, 9, 2, Direction::Bidirectional)
    };
    let w = LstmWeights::random(&cfg, 3).unwrap();
    let lstm = Lstm::new(&ctx.device, &ctx.queue, &cfg, &w).unwrap();
    let t = 6;
    let x = common::random_tensor(vec![t, 3, 5], 1.0, 4);
    let got = lstm.forward_with_lens(&x, None, Some(&[6, 2, 5])).unwrap();
    let stats = lstm.last_stats();
    assert_eq!((stats.submits, stats.readbacks), (1, 1));
    assert_eq!(stats.dispatches as usize, cfg.num_layers * (1 + 2 * t));
    assert_eq!(got.y.shape(), &[t, 3, 2 * 4]);
    assert_eq!(got.h_n.shape(), &[4, 3, 4]);
    assert_eq!(got.c_n.shape(), &[4, 3, 9]);
    let expected = CpuLstm::new(&cfg, &w)
        .unwrap()
        .forward_with_lens(&x, None, Some(&[6, 2, 5]))
        .unwrap();
    assert!(got.max_abs_diff(&expected).unwrap() <= common::TOLERANCE);
}

#[test]
fn saturating_preactivations_give_exact_limits_not_nan() {
    let Some(ctx) = common::gpu() else { return };
    let cfg = config(4, 70, 1, Direction::Bidirectional);
    let mut w = LstmWeights::random(&cfg, 5).unwrap();
    // Positive inputs and input weights of one sign per row, scaled so every pre-activation is
    // in the hundreds or beyond without cancellation (which would make f32 and f64 disagree).
    let layers: Vec<Vec<_>> = w
        .layers()
        .iter()
        .map(|dirs| {
            dirs.iter()
                .map(|d| {
                    let mut d = d.clone();
                    let inp = d.w_ih.len() / (4 * 70);
                    for (r, row) in d.w_ih.chunks_mut(inp).enumerate() {
                        let sign = if r % 3 == 0 { -1.0 } else { 1.0 };
                        row.iter_mut().for_each(|v| *v = sign * (v.abs() + 0.05) * 400.0);
                    }
                    d
                })
                .collect()
        })
        .collect();
    w = LstmWeights::new(4, 70, Direction::Bidirectional, layers).unwrap();
    let lstm = Lstm::new(&ctx.device, &ctx.queue, &cfg, &w).unwrap();
    let x = common::random_tensor(vec![6, 3, 4], 1000.0, 6);
    let x = Tensor::new(
        x.shape().to_vec(),
        x.data().iter().map(|v| v.abs() + 100.0).collect(),
    )
    .unwrap();
    let got = lstm.forward(&x, None).unwrap();
    let expected = CpuLstm::new(&cfg, &w).unwrap().forward(&x, None).unwrap();
    for (what, g, e) in [
        ("y", &got.y, &expected.y),
        ("h_n", &got.h_n, &expected.h_n),
        ("c_n", &got.c_n, &expected.c_n),
    ] {
        common::assert_finite(what, g);
        common::assert_close(what, g, e, common::TOLERANCE);
    }
    assert!(got.y.data().iter().all(|v| v.abs() <= 1.0));
}

#[test]
fn bad_requests_are_typed_errors_on_both_paths() {
    let cfg = config(3, 4, 2, Direction::Forward);
    let w = LstmWeights::random(&cfg, 0).unwrap();
    let cpu = CpuLstm::new(&cfg, &w).unwrap();
    let gpu = common::gpu().map(|ctx| Lstm::new(&ctx.device, &ctx.queue, &cfg, &w).unwrap());
    let good = common::random_tensor(vec![5, 2, 3], 1.0, 0);
    let wrong_width = common::random_tensor(vec![5, 2, 4], 1.0, 0);
    let rank2 = common::random_tensor(vec![5, 3], 1.0, 0);
    let empty = Tensor::zeros(vec![0, 2, 3]).unwrap();
    let bad_state = State {
        h: Tensor::zeros(vec![2, 3, 4]).unwrap(),
        c: Tensor::zeros(vec![2, 3, 4]).unwrap(),
    };
    type Run<'a> =
        Box<dyn Fn(&Tensor, Option<&State>, Option<&[usize]>) -> wgpu_lstm::Result<wgpu_lstm::Output> + 'a>;
    let mut paths: Vec<(&str, Run)> = vec![("cpu", Box::new(|x, s, l| cpu.forward_with_lens(x, s, l)))];
    if let Some(g) = &gpu {
        paths.push(("gpu", Box::new(move |x, s, l| g.forward_with_lens(x, s, l))));
    }
    for (name, run) in &paths {
        assert!(
            matches!(run(&wrong_width, None, None), Err(Error::Shape { .. })),
            "{name}"
        );
        assert!(
            matches!(run(&rank2, None, None), Err(Error::Shape { .. })),
            "{name}"
        );
        assert!(
            matches!(run(&empty, None, None), Err(Error::Invalid { .. })),
            "{name}"
        );
        let e = run(&good, Some(&bad_state), None).unwrap_err().to_string();
        assert!(
            e.contains("h0") && e.contains("[2, 2, 4]") && e.contains("[2, 3, 4]"),
            "{name}: {e}"
        );
        for lens in [vec![6, 1], vec![5]] {
            assert!(run(&good, None, Some(&lens)).is_err(), "{name}: {lens:?}");
        }
        // Length 0 is a sequence with no steps (tests/cells.rs checks its zeros).
        assert!(run(&good, None, Some(&[5, 1])).is_ok(), "{name}");
        assert!(run(&good, None, Some(&[5, 0])).is_ok(), "{name}");
    }
    let other = config(3, 5, 2, Direction::Forward);
    assert!(matches!(CpuLstm::new(&other, &w), Err(Error::Invalid { .. })));
}

#[test]
fn sizes_beyond_device_limits_are_refused_with_the_limit_named() {
    let Some(ctx) = common::gpu() else { return };
    let limits = ctx.device.limits();
    let cfg = config(1, 64, 1, Direction::Forward);
    let w = LstmWeights::random(&cfg, 0).unwrap();
    let lstm = Lstm::new(&ctx.device, &ctx.queue, &cfg, &w).unwrap();

    // The projected gates of T·B rows need T·B·4H·4 bytes in one storage binding.
    let cap = limits.max_storage_buffer_binding_size.min(u32::MAX as u64);
    let t = (cap / (4 * 64 * 4) + 1) as usize;
    if t <= 40_000_000 {
        match lstm.forward(&Tensor::zeros(vec![t, 1, 1]).unwrap(), None) {
            Err(Error::DeviceLimit {
                limit,
                needed,
                available,
                ..
            }) => {
                assert_eq!(limit, "max_storage_buffer_binding_size");
                assert!(needed > available);
            }
            other => panic!("expected a device-limit error, got {:?}", other.map(|_| ())),
        }
    }

    // One workgroup row per batch element: B beyond the per-dimension limit folds into z
    // (tests/grids.rs covers every kernel), with one element per invocation as with the autotune's
    // pick.
    let b = limits.max_compute_workgroups_per_dimension as usize + 1;
    let forced = Variants {
        gemm: GemmVariant::RegisterBlocked,
        step: StepVariant::Batch1,
        schedule: Schedule::Layers,
    };
    let cache = wgpu_lstm::gpu::PipelineCache::new(&ctx.device);
    let cfg = config(1, 3, 1, Direction::Forward);
    let w = LstmWeights::random(&cfg, 0).unwrap();
    let one_per_invocation = Lstm::with_variants(&cache, &ctx.queue, &cfg, &w, Some(forced)).unwrap();
    let lstm = Lstm::with_cache(&cache, &ctx.queue, &cfg, &w).unwrap();
    let wide = common::random_tensor(vec![1, b, 1], 1.0, 1);
    let expected = CpuLstm::new(&cfg, &w).unwrap().forward(&wide, None).unwrap();
    let folded = one_per_invocation.forward(&wide, None).unwrap();
    assert_eq!(one_per_invocation.last_stats().variants, forced);
    common::assert_close(
        "wide batch y, one per invocation",
        &folded.y,
        &expected.y,
        common::TOLERANCE,
    );
    let got = lstm.forward(&wide, None).unwrap();
    common::assert_close("wide batch y", &got.y, &expected.y, common::TOLERANCE);

    // The engine still works afterwards.
    assert!(lstm.forward(&Tensor::zeros(vec![2, 3, 1]).unwrap(), None).is_ok());
}

#[test]
fn autotune_runs_once_per_shape_class_and_reports_the_variants() {
    let Some(ctx) = common::gpu() else { return };
    let cache = wgpu_lstm::gpu::PipelineCache::new(&ctx.device);
    let cfg = config(6, 13, 1, Direction::Forward);
    let w = LstmWeights::random(&cfg, 8).unwrap();
    let lstm = Lstm::with_cache(&cache, &ctx.queue, &cfg, &w).unwrap();
    let x = common::random_tensor(vec![5, 9, 6], 1.0, 9);
    lstm.forward(&x, None).unwrap();
    let first = lstm.last_stats();
    assert!(
        first.autotune_submits > 0,
        "the first forward of a batch class tunes the step"
    );
    assert_eq!(
        (first.submits, first.readbacks),
        (1, 1),
        "the forward itself still submits once"
    );
    lstm.forward(&x, None).unwrap();
    let second = lstm.last_stats();
    assert_eq!(second.autotune_submits, 0, "the choice is remembered");
    assert_eq!(second.variants, first.variants);
    assert_eq!(lstm.variants(Dims { seq_len: 5, batch: 9 }), first.variants);
    // A second engine on the same cache reuses the choices.
    let other = Lstm::with_cache(&cache, &ctx.queue, &cfg, &w).unwrap();
    other.forward(&x, None).unwrap();
    assert_eq!(other.last_stats().autotune_submits, 0);
    eprintln!("chosen: {}", first.variants);

    // Forced variants are used as given and tune nothing.
    let forced = Variants {
        gemm: GemmVariant::TILED,
        step: StepVariant::Batch2,
        schedule: Schedule::Layers,
    };
    let fixed = Lstm::with_variants(&cache, &ctx.queue, &cfg, &w, Some(forced)).unwrap();
    let out = fixed.forward(&x, None).unwrap();
    assert_eq!(fixed.last_stats().variants, forced);
    assert_eq!(fixed.last_stats().autotune_submits, 0);
    let expected = CpuLstm::new(&cfg, &w).unwrap().forward(&x, None).unwrap();
    assert!(out.max_abs_diff(&expected).unwrap() <= common::TOLERANCE);
}

/// Autotune choices saved to a file are loaded by another cache on the same adapter, which then
/// tunes nothing; entries of other adapters survive a save; bad files are typed errors that load
/// nothing.
#[test]
fn autotune_choices_round_trip_through_a_file() {
    let Some(ctx) = common::gpu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tuning.json");
    let cfg = config(6, 13, 2, Direction::Forward);
    let w = LstmWeights::random(&cfg, 8).unwrap();
    let x = common::random_tensor(vec![5, 3, 6], 1.0, 9);

    // Another adapter's entry, which saving must keep.
    let other = serde_json::json!({
        "adapter": "some other GPU",
        "gemm": [{"key": {"k": 8, "n": 64}, "variant": "gemm-tiled-64x64"}],
        "step": [],
    });
    // A file of an earlier version holds nothing to load, and saving replaces it.
    let oldest = serde_json::json!({"schema": "wgpu-lstm-tuning/1", "adapters": [{
        "adapter": "some other GPU", "gemm": [{"key": [0, 8, 64], "variant": "gemm-tiled-64x64"}], "step": []
    }]});
    let old = serde_json::json!({"schema": "wgpu-lstm-tuning/2", "adapters": [other]});
    for earlier in [oldest, old] {
        std::fs::write(&path, earlier.to_string()).unwrap();
        assert_eq!(
            wgpu_lstm::gpu::PipelineCache::new(&ctx.device)
                .load_tuning(&path)
                .unwrap(),
            0
        );
    }
    let file = serde_json::json!({"schema": "wgpu-lstm-tuning/3", "adapters": [other]});
    std::fs::write(&path, file.to_string()).unwrap();

    let first = wgpu_lstm::gpu::PipelineCache::new(&ctx.device);
    assert_eq!(
        first.load_tuning(&path).unwrap(),
        0,
        "nothing for this adapter yet"
    );
    let lstm = Lstm::with_cache(&first, &ctx.queue, &cfg, &w).unwrap();
    lstm.forward(&x, None).unwrap();
    let tuned = lstm.last_stats();
    assert!(tuned.autotune_submits > 0);
    let dims = Dims { seq_len: 5, batch: 3 };
    // What was timed: every candidate per layer, the chosen one among them.
    let times = lstm.autotune_times(dims).expect("the autotune's times");
    assert!(
        times.iter().all(|(_, ms)| ms.is_finite() && *ms > 0.0),
        "{times:?}"
    );
    assert!(
        times.iter().any(|(v, _)| *v == tuned.variants.step.name()),
        "{times:?}"
    );
    first.save_tuning(&path).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let adapters = saved["adapters"].as_array().unwrap();
    assert_eq!(adapters.len(), 2, "{saved}");
    assert_eq!(adapters[0], other);
    assert_eq!(
        adapters[1]["step"][0]["times_ms"].as_array().unwrap().len(),
        times.len(),
        "{saved}"
    );

    let second = wgpu_lstm::gpu::PipelineCache::new(&ctx.device);
    // The GEMM choice and the step (and schedule) choice.
    assert_eq!(second.load_tuning(&path).unwrap(), 2);
    let lstm = Lstm::with_cache(&second, &ctx.queue, &cfg, &w).unwrap();
    lstm.forward(&x, None).unwrap();
    assert_eq!(
        lstm.last_stats().autotune_submits,
        0,
        "loaded choices are not timed again"
    );
    assert_eq!(lstm.last_stats().variants, tuned.variants);
    let reloaded = lstm.autotune_times(dims).unwrap();
    assert_eq!(reloaded.len(), times.len());
    for ((a, x), (b, y)) in reloaded.iter().zip(&times) {
        assert!(
            a == b && (x - y).abs() <= 1e-9 * y.abs(),
            "{reloaded:?} vs {times:?}"
        );
    }

    let missing = dir.path().join("missing.json");
    assert_eq!(second.load_tuning(&missing).unwrap(), 0);
    let mut bad_entry = saved.clone();
    bad_entry["adapters"][1]["step"][0]["step"] = "step-b99".into();
    for (what, text, foreign) in [
        ("not JSON", "{ not json".to_string(), true),
        (
            "wrong schema",
            r#"{"schema": "something/9", "adapters": []}"#.to_string(),
            true,
        ),
        ("unknown variant", bad_entry.to_string(), false),
    ] {
        std::fs::write(&path, &text).unwrap();
        let fresh = wgpu_lstm::gpu::PipelineCache::new(&ctx.device);
        match fresh.load_tuning(&path) {
            Err(Error::Format { .. }) => {}
            other => panic!("{what}: expected a format error, got {other:?}"),
        }
        let lstm = Lstm::with_cache(&fresh, &ctx.queue, &cfg, &w).unwrap();
        lstm.forward(&x, None).unwrap();
        assert!(
            lstm.last_stats().autotune_submits > 0,
            "{what}: nothing was loaded"
        );
        if foreign {
            // Saving over a file that is not a tuning file refuses rather than overwrite it.
            assert!(fresh.save_tuning(&path).is_err(), "{what}");
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                text,
                "{what}: the file is untouched"
            );
        } else {
            // A bad entry of this adapter is replaced by the choices just made.
            fresh.save_tuning(&path).unwrap();
            assert_eq!(fresh.load_tuning(&path).unwrap(), 2, "{what}");
        }
    }
}

#[test]
fn engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Lstm>();
    assert_send_sync::<CpuLstm>();
}
