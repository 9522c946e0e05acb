//! Embedding: GPU-resident state fed in chunks (chunked equals whole), state operations,
//! encoding into the caller's encoder and buffers with checked requirements, async readback,
//! shared pipelines and use from several threads.

mod common;

use wgpu_lstm::gpu::{
    EncodeTarget, GemmVariant, PipelineCache, Schedule, StateExport, StepVariant, Variants,
};
use wgpu_lstm::{
    Activation, ActivationKind, CpuLstm, Direction, Error, Layout, Lstm, LstmConfig, LstmForward,
    LstmWeights, Output, State, Tensor,
};

fn config(direction: Direction, layout: Layout) -> LstmConfig {
    LstmConfig {
        input_size: 5,
        hidden_size: 9,
        num_layers: 2,
        direction,
        layout,
        ..LstmConfig::default()
    }
}

fn random_state(cfg: &LstmConfig, batch: usize, seed: u64) -> State {
    let zeros = State::zeros(cfg, batch).unwrap();
    State {
        h: common::random_tensor(zeros.h.shape().to_vec(), 1.0, seed),
        c: common::random_tensor(zeros.c.shape().to_vec(), 1.0, seed + 1),
    }
}

fn assert_same(what: &str, got: &Output, expected: &Output) {
    common::assert_close(&format!("{what} y"), &got.y, &expected.y, common::TOLERANCE);
    common::assert_close(&format!("{what} h"), &got.h_n, &expected.h_n, common::TOLERANCE);
    common::assert_close(&format!("{what} c"), &got.c_n, &expected.c_n, common::TOLERANCE);
}

/// Both schedules of a unidirectional stack: layer by layer and as a wavefront, where streams
/// with no steps left in a chunk pass through every layer unchanged.
#[test]
fn chunked_equals_whole_unidirectional() {
    let Some(ctx) = common::gpu() else { return };
    let cache = PipelineCache::new(&ctx.device);
    for (layout, schedule) in [
        (Layout::SeqMajor, Schedule::Wavefront),
        (Layout::BatchMajor, Schedule::Wavefront),
        (Layout::SeqMajor, Schedule::Layers),
        (Layout::BatchMajor, Schedule::Layers),
    ] {
        let cfg = config(Direction::Forward, layout);
        let w = LstmWeights::random(&cfg, 1).unwrap();
        let variants = Variants {
            gemm: GemmVariant::RegisterBlocked,
            step: StepVariant::Batch2,
            schedule,
        };
        let lstm = Lstm::with_variants(&cache, &ctx.queue, &cfg, &w, Some(variants)).unwrap();
        let (t, b) = (19, 4);
        let shape = if layout == Layout::SeqMajor {
            vec![t, b, 5]
        } else {
            vec![b, t, 5]
        };
        let x = common::random_tensor(shape, 1.0, 2);
        let initial = random_state(&cfg, b, 3);
        let lens = [19, 7, 1, 12];
        let whole = lstm.forward_with_lens(&x, Some(&initial), Some(&lens)).unwrap();
        assert_eq!(lstm.last_stats().variants, variants);
        let reference = CpuLstm::new(&cfg, &w)
            .unwrap()
            .forward_with_lens(&x, Some(&initial), Some(&lens))
            .unwrap();
        let what = format!("{layout:?} {schedule:?}");
        assert_same(&format!("{what} whole"), &whole, &reference);
        for chunk in [1, 7, t] {
            let chunked = lstm
                .forward_chunked(&x, Some(&initial), Some(&lens), chunk)
                .unwrap();
            assert_same(&format!("{what} chunk {chunk}"), &chunked, &reference);
        }
    }
}

#[test]
fn chunked_bidirectional_runs_the_reverse_direction_within_each_chunk() {
    let Some(ctx) = common::gpu() else { return };
    let cfg = config(Direction::Bidirectional, Layout::SeqMajor);
    let w = LstmWeights::random(&cfg, 4).unwrap();
    let lstm = Lstm::new(&ctx.device, &ctx.queue, &cfg, &w).unwrap();
    let cpu = CpuLstm::new(&cfg, &w).unwrap();
    let (t, b) = (15, 3);
    let x = common::random_tensor(vec![t, b, 5], 1.0, 5);
    let initial = random_state(&cfg, b, 6);
    let lens = [15, 8, 3];
    // One chunk of T is the whole sequence.
    let whole = lstm.forward_with_lens(&x, Some(&initial), Some(&lens)).unwrap();
    let chunked = lstm.forward_chunked(&x, Some(&initial), Some(&lens), t).unwrap();
    assert_same("bidirectional chunk T", &chunked, &whole);
    // Smaller chunks follow the per-chunk definition, the same on both paths.
    for chunk in [1, 7] {
        let got = lstm
            .forward_chunked(&x, Some(&initial), Some(&lens), chunk)
            .unwrap();
        let expected = cpu
            .forward_chunked(&x, Some(&initial), Some(&lens), chunk)
            .unwrap();
        assert_same(&format!("bidirectional chunk {chunk}"), &got, &expected);
    }
}

#[test]
fn a_stream_with_no_steps_keeps_its_state_and_others_move_on() {
    let Some(ctx) = common::gpu() else { return };
    let cfg = config(Direction::Forward, Layout::SeqMajor);
    let w = LstmWeights::random(&cfg, 7).unwrap();
    let lstm = Lstm::new(&ctx.device, &ctx.queue, &cfg, &w).unwrap();
    let mut state = lstm.new_state(3).unwrap();
    let initial = random_state(&cfg, 3, 8);
    state.set(lstm.queue(), &initial).unwrap();
    let x = common::random_tensor(vec![4, 3, 5], 1.0, 9);
    let y = lstm.forward_stream(&x, &mut state, Some(&[4, 0, 2])).unwrap();
    let after = lstm.read_state(&state).unwrap();
    let (slots, h, p) = (4, 9, 9);
    for slot in 0..slots / 2 {
        let at = (slot * 3 + 1) * p;
        assert_eq!(
            &after.h.data()[at..at + p],
            &initial.h.data()[at..at + p],
            "h of stream 1"
        );
        assert_eq!(
            &after.c.data()[at..at + h],
            &initial.c.data()[at..at + h],
            "c of stream 1"
        );
        let moved = (slot * 3) * p;
        assert_ne!(
            &after.h.data()[moved..moved + p],
            &initial.h.data()[moved..moved + p],
            "stream 0"
        );
    }
    // Y of the idle stream is zero; the step-by-step CPU reference agrees on everything.
    for t in 0..4 {
        assert!(y.data()[(t * 3 + 1) * p..][..p].iter().all(|&v| v == 0.0));
    }
    let mut cpu_state = initial.clone();
    let y_ref = CpuLstm::new(&cfg, &w)
        .unwrap()
        .forward_stream(&x, &mut cpu_state, Some(&[4, 0, 2]))
        .unwrap();
    let as_output = |y: Tensor, s: State| Output {
        y,
        h_n: s.h,
        c_n: s.c,
    };
    assert_same("idle stream", &as_output(y, after), &as_output(y_ref, cpu_state));
}

#[test]
fn state_reset_set_and_read() {
    let Some(ctx) = common::gpu() else { return };
    let cfg = LstmConfig {
        proj_size: Some(4),
        ..config(Direction::Bidirectional, Layout::SeqMajor)
    };
    let w = LstmWeights::random(&cfg, 10).unwrap();
    let lstm = Lstm::new(&ctx.device, &ctx.queue, &cfg, &w).unwrap();
    let state = lstm.new_state(3).unwrap();
    assert_eq!(
        lstm.read_state(&state).unwrap(),
        State::zeros(&cfg, 3).unwrap(),
        "a new state is zero"
    );
    let values = random_state(&cfg, 3, 11);
    state.set(lstm.queue(), &values).unwrap();
    assert_eq!(lstm.read_state(&state).unwrap(), values, "set then read");
    state.reset_streams(lstm.queue(), &[0, 2]).unwrap();
    let partly = lstm.read_state(&state).unwrap();
    for slot in 0..4 {
        for b in 0..3 {
            let (h, c) = (
                &partly.h.data()[(slot * 3 + b) * 4..][..4],
                &partly.c.data()[(slot * 3 + b) * 9..][..9],
            );
            if b == 1 {
                assert_eq!(h, &values.h.data()[(slot * 3 + b) * 4..][..4]);
                assert_eq!(c, &values.c.data()[(slot * 3 + b) * 9..][..9]);
            } else {
                assert!(h.iter().chain(c).all(|&v| v == 0.0), "stream {b} reset");
            }
        }
    }
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    state.encode_reset_streams(&mut encoder, &[1]).unwrap();
    ctx.queue.submit([encoder.finish()]);
    assert_eq!(
        lstm.read_state(&state).unwrap(),
        State::zeros(&cfg, 3).unwrap(),
        "encoded reset"
    );
    state.set(lstm.queue(), &values).unwrap();
    state.reset(lstm.queue());
    assert_eq!(
        lstm.read_state(&state).unwrap(),
        State::zeros(&cfg, 3).unwrap(),
        "reset all"
    );

    assert!(state.reset_streams(lstm.queue(), &[3]).is_err());
    assert!(matches!(
        state.set(lstm.queue(), &State::zeros(&cfg, 2).unwrap()),
        Err(Error::Shape { .. })
    ));
    let mut other = lstm.new_state(2).unwrap();
    assert!(matches!(
        lstm.forward_stream(&Tensor::zeros(vec![1, 3, 5]).unwrap(), &mut other, None),
        Err(Error::Shape { .. })
    ));
}

fn buffer(device: &wgpu::Device, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("caller buffer"),
        size,
        usage,
        mapped_at_creation: false,
    })
}

#[test]
fn encode_reads_and_writes_caller_buffers_and_submits_nothing() {
    let Some(ctx) = common::gpu() else { return };
    let cfg = config(Direction::Bidirectional, Layout::BatchMajor);
    let w = LstmWeights::random(&cfg, 12).unwrap();
    let lstm = Lstm::new(&ctx.device, &ctx.queue, &cfg, &w).unwrap();
    let (t, b) = (6, 2);
    let x = common::random_tensor(vec![b, t, 5], 1.0, 13);
    let initial = random_state(&cfg, b, 14);
    let (in_off, out_off) = (256u64, 64u64);
    let x_bytes = (x.data().len() * 4) as u64;
    let y_bytes = (b * t * 2 * 9 * 4) as u64;
    let input = buffer(
        &ctx.device,
        in_off + x_bytes,
        wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
    );
    ctx.queue
        .write_buffer(&input, in_off, bytemuck::cast_slice(x.data()));
    let output = buffer(
        &ctx.device,
        out_off + y_bytes,
        wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
    );
    let state_bytes = (4 * b * 9 * 4) as u64;
    let (h_out, c_out) = (
        buffer(
            &ctx.device,
            state_bytes,
            wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        ),
        buffer(
            &ctx.device,
            state_bytes,
            wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        ),
    );
    let mut state = lstm.new_state(b).unwrap();
    state.set(lstm.queue(), &initial).unwrap();
    let lens = [6, 3];
    let target = EncodeTarget {
        input: &input,
        input_offset: in_off,
        output: &output,
        output_offset: out_off,
        seq_len: t,
        batch: b,
        seq_lens: Some(&lens),
        export_state: Some(StateExport {
            h: &h_out,
            h_offset: 0,
            c: &c_out,
            c_offset: 0,
        }),
    };
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    lstm.encode(&mut encoder, &mut state, &target).unwrap();
    let stats = lstm.last_stats();
    assert_eq!(
        (stats.submits, stats.readbacks),
        (0, 0),
        "encode submits and maps nothing"
    );
    assert_eq!(stats.dispatches as usize, 2 * (1 + t));
    ctx.queue.submit([encoder.finish()]);

    let expected = CpuLstm::new(&cfg, &w)
        .unwrap()
        .forward_with_lens(&x, Some(&initial), Some(&lens))
        .unwrap();
    let read = |buf: &wgpu::Buffer, offset: u64, bytes: u64, shape: Vec<usize>| {
        let staging = buffer(
            &ctx.device,
            bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let mut e = ctx.device.create_command_encoder(&Default::default());
        e.copy_buffer_to_buffer(buf, offset, &staging, 0, bytes);
        ctx.queue.submit([e.finish()]);
        staging.slice(..).map_async(wgpu::MapMode::Read, |r| r.unwrap());
        ctx.device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
        let data: Vec<f32> = bytemuck::cast_slice(&staging.slice(..).get_mapped_range().unwrap()).to_vec();
        Tensor::new(shape, data).unwrap()
    };
    let y = read(&output, out_off, y_bytes, vec![b, t, 18]);
    common::assert_close("encoded y", &y, &expected.y, common::TOLERANCE);
    common::assert_close(
        "exported h",
        &read(&h_out, 0, state_bytes, vec![4, b, 9]),
        &expected.h_n,
        common::TOLERANCE,
    );
    common::assert_close(
        "exported c",
        &read(&c_out, 0, state_bytes, vec![4, b, 9]),
        &expected.c_n,
        common::TOLERANCE,
    );
    common::assert_close(
        "state h",
        &lstm.read_state(&state).unwrap().h,
        &expected.h_n,
        common::TOLERANCE,
    );
}

#[test]
fn encode_checks_the_caller_buffers_first() {
    let Some(ctx) = common::gpu() else { return };
    let cfg = config(Direction::Forward, Layout::SeqMajor);
    let w = LstmWeights::random(&cfg, 15).unwrap();
    let lstm = Lstm::new(&ctx.device, &ctx.queue, &cfg, &w).unwrap();
    let mut state = lstm.new_state(2).unwrap();
    let copy = wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
    let good_in = buffer(&ctx.device, 3 * 2 * 5 * 4, copy);
    let good_out = buffer(&ctx.device, 3 * 2 * 9 * 4, copy);
    let no_copy_src = buffer(&ctx.device, 3 * 2 * 5 * 4, wgpu::BufferUsages::COPY_DST);
    let small_out = buffer(&ctx.device, 3 * 2 * 9 * 4 - 4, copy);
    let target = |input, input_offset, output| EncodeTarget {
        input,
        input_offset,
        output,
        output_offset: 0,
        seq_len: 3,
        batch: 2,
        seq_lens: None,
        export_state: None,
    };
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    let cases = [
        (
            target(&no_copy_src, 0, &good_out),
            "buffer 'input': usage must include COPY_SRC",
        ),
        (
            target(&good_in, 2, &good_out),
            "buffer 'input': offset 2 must be a multiple of 4",
        ),
        (
            target(&good_in, 4, &good_out),
            "buffer 'input': needs 120 bytes from offset 4",
        ),
        (
            target(&good_in, 0, &small_out),
            "buffer 'output': needs 216 bytes from offset 0",
        ),
    ];
    for (t, message) in &cases {
        let e = lstm.encode(&mut encoder, &mut state, t).unwrap_err().to_string();
        assert!(e.contains(message), "{e} lacks {message}");
    }
    let mut bad_lens = target(&good_in, 0, &good_out);
    bad_lens.seq_lens = Some(&[4, 0]);
    assert!(lstm.encode(&mut encoder, &mut state, &bad_lens).is_err());
    // Nothing was recorded by the refused calls: the encoder still finishes cleanly.
    lstm.encode(&mut encoder, &mut state, &target(&good_in, 0, &good_out))
        .unwrap();
    ctx.queue.submit([encoder.finish()]);
}

#[test]
fn async_forward_resolves_when_the_application_polls() {
    let Some(ctx) = common::gpu() else { return };
    let cfg = config(Direction::Forward, Layout::SeqMajor);
    let w = LstmWeights::random(&cfg, 16).unwrap();
    let lstm = Lstm::new(&ctx.device, &ctx.queue, &cfg, &w).unwrap();
    let x = common::random_tensor(vec![5, 2, 5], 1.0, 17);
    let done = std::sync::atomic::AtomicBool::new(false);
    let out = std::thread::scope(|s| {
        // The application's loop: poll without spinning the CPU.
        s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let _ = ctx.device.poll(wgpu::PollType::Wait {
                    submission_index: None,
                    timeout: Some(std::time::Duration::from_millis(5)),
                });
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        });
        let out = pollster::block_on(lstm.forward_async(&x, None, None));
        done.store(true, std::sync::atomic::Ordering::Release);
        out
    })
    .unwrap();
    assert_eq!(lstm.last_stats().readbacks, 1);
    let expected = lstm.forward(&x, None).unwrap();
    assert_eq!(out, expected);
}

#[test]
fn engines_share_pipelines_and_run_from_several_threads() {
    let Some(ctx) = common::gpu() else { return };
    let cache = PipelineCache::new(&ctx.device);
    let cfg = config(Direction::Forward, Layout::SeqMajor);
    let mut other = cfg.clone();
    other.activations = vec![
        Activation::new(ActivationKind::HardSigmoid, None, None).unwrap(),
        Activation::TANH,
        Activation::TANH,
    ];
    let engines: Vec<(Lstm, CpuLstm)> = [(&cfg, 20), (&cfg, 21), (&other, 22)]
        .into_iter()
        .map(|(c, seed)| {
            let w = LstmWeights::random(c, seed).unwrap();
            (
                Lstm::with_cache(&cache, &ctx.queue, c, &w).unwrap(),
                CpuLstm::new(c, &w).unwrap(),
            )
        })
        .collect();
    let x = common::random_tensor(vec![4, 2, 5], 1.0, 19);
    // Two engines of one kind share their pipelines; other gate options compile their own steps.
    engines[0].0.forward(&x, None).unwrap();
    let one_kind = cache.len();
    engines[1].0.forward(&x, None).unwrap();
    assert_eq!(
        cache.len(),
        one_kind,
        "an engine of the same kind compiles nothing"
    );
    engines[2].0.forward(&x, None).unwrap();
    let two_kinds = cache.len();
    assert!(two_kinds > one_kind, "other activations are other pipelines");
    std::thread::scope(|s| {
        for (n, (gpu, cpu)) in engines.iter().enumerate() {
            s.spawn(move || {
                for round in 0..3 {
                    let x = common::random_tensor(vec![4, 2, 5], 1.0, (n * 10 + round) as u64);
                    let got = gpu.forward(&x, None).unwrap();
                    let expected = cpu.forward(&x, None).unwrap();
                    assert!(got.max_abs_diff(&expected).unwrap() <= common::TOLERANCE);
                }
            });
        }
    });
    let another =
        Lstm::with_cache(&cache, &ctx.queue, &cfg, &LstmWeights::random(&cfg, 23).unwrap()).unwrap();
    another.forward(&x, None).unwrap();
    assert_eq!(cache.len(), two_kinds);
}

/// Before anything is tuned, `variants` reports what an encode into the caller's encoder (which
/// cannot tune) runs: one element per invocation below a batch of 4, four above.
#[test]
fn variants_before_tuning_are_what_an_encode_runs() {
    let Some(ctx) = common::gpu() else { return };
    let cfg = config(Direction::Forward, Layout::SeqMajor);
    let w = LstmWeights::random(&cfg, 30).unwrap();
    for batch in [2, 9] {
        let cache = PipelineCache::new(&ctx.device);
        let lstm = Lstm::with_cache(&cache, &ctx.queue, &cfg, &w).unwrap();
        let t = 3;
        let dims = wgpu_lstm::Dims { seq_len: t, batch };
        let before = lstm.variants(dims);
        let expected = if batch < 4 {
            StepVariant::Batch1
        } else {
            StepVariant::Batch4
        };
        assert_eq!(
            (before.step, before.schedule),
            (expected, Schedule::Layers),
            "B={batch}"
        );
        let usage = wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
        let input = buffer(&ctx.device, (t * batch * 5 * 4) as u64, usage);
        let output = buffer(&ctx.device, (t * batch * 9 * 4) as u64, usage);
        let mut state = lstm.new_state(batch).unwrap();
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        let target = EncodeTarget {
            input: &input,
            input_offset: 0,
            output: &output,
            output_offset: 0,
            seq_len: t,
            batch,
            seq_lens: None,
            export_state: None,
        };
        lstm.encode(&mut encoder, &mut state, &target).unwrap();
        ctx.queue.submit([encoder.finish()]);
        assert_eq!(lstm.last_stats().variants, before, "B={batch}");
    }
}
