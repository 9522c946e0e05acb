//! The GPU engine's structure and robustness: one submit and one readback per forward, the
//! dispatch count, buffer reuse, typed errors for bad requests and sizes beyond device limits,
//! and exact saturation.

mod common;

use wgpu_lstm::forward::CONFORMANCE_TOLERANCE;
use wgpu_lstm::{CpuLstm, Direction, Error, Layout, Lstm, LstmConfig, LstmWeights, State, Tensor};

fn config(input: usize, hidden: usize, layers: usize, direction: Direction) -> LstmConfig {
    LstmConfig {
        input_size: input,
        hidden_size: hidden,
        num_layers: layers,
        direction,
        bias: true,
        layout: Layout::SeqMajor,
        ..LstmConfig::default()
    }
}

#[test]
fn one_submit_one_readback_and_one_projection_plus_t_steps_per_layer() {
    let Some(ctx) = common::gpu() else { return };
    let cfg = config(7, 11, 3, Direction::Bidirectional);
    let w = LstmWeights::random(&cfg, 1).unwrap();
    let lstm = Lstm::new(&ctx.device, &ctx.queue, &cfg, &w).unwrap();
    let (t, b) = (9, 4);
    let x = common::random_tensor(vec![t, b, 7], 1.0, 2);
    let first = lstm.forward(&x, None).unwrap();
    let stats = lstm.last_stats();
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
    common::assert_close("second shape y", &other.y, &reference.y, CONFORMANCE_TOLERANCE);
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
    assert!(got.max_abs_diff(&expected).unwrap() <= CONFORMANCE_TOLERANCE);
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
        common::assert_close(what, g, e, CONFORMANCE_TOLERANCE);
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
    let empty = Tensor::zeros(vec![0, 2, 3]);
    let bad_state = State {
        h: Tensor::zeros(vec![2, 3, 4]),
        c: Tensor::zeros(vec![2, 3, 4]),
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
        for lens in [vec![5, 0], vec![6, 1], vec![5]] {
            assert!(run(&good, None, Some(&lens)).is_err(), "{name}: {lens:?}");
        }
        assert!(run(&good, None, Some(&[5, 1])).is_ok(), "{name}");
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
        match lstm.forward(&Tensor::zeros(vec![t, 1, 1]), None) {
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

    // One workgroup row per batch element: B beyond the per-dimension limit.
    let b = limits.max_compute_workgroups_per_dimension as usize + 1;
    match lstm.forward(&Tensor::zeros(vec![1, b, 1]), None) {
        Err(Error::DeviceLimit { limit, .. }) => {
            assert_eq!(limit, "max_compute_workgroups_per_dimension")
        }
        other => panic!("expected a device-limit error, got {:?}", other.map(|_| ())),
    }
    // The engine still works afterwards.
    assert!(lstm.forward(&Tensor::zeros(vec![2, 3, 1]), None).is_ok());
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
    assert_eq!(lstm.variants(9), first.variants);
    // A second engine on the same cache reuses the choices.
    let other = Lstm::with_cache(&cache, &ctx.queue, &cfg, &w).unwrap();
    other.forward(&x, None).unwrap();
    assert_eq!(other.last_stats().autotune_submits, 0);
    eprintln!("chosen: {}", first.variants);

    // Forced variants are used as given and tune nothing.
    let forced = wgpu_lstm::gpu::Variants {
        gemm: wgpu_lstm::gpu::GemmVariant::Tiled,
        step: wgpu_lstm::gpu::StepVariant::Batch2,
    };
    let fixed = Lstm::with_variants(&cache, &ctx.queue, &cfg, &w, Some(forced)).unwrap();
    let out = fixed.forward(&x, None).unwrap();
    assert_eq!(fixed.last_stats().variants, forced);
    assert_eq!(fixed.last_stats().autotune_submits, 0);
    let expected = CpuLstm::new(&cfg, &w).unwrap().forward(&x, None).unwrap();
    assert!(out.max_abs_diff(&expected).unwrap() <= CONFORMANCE_TOLERANCE);
}

#[test]
fn engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Lstm>();
    assert_send_sync::<CpuLstm>();
}
