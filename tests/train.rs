//! Training on the GPU against the float64 CPU reference: forward outputs and every gradient over
//! a grid of shapes (not multiples of the kernels' GEMM tiles, 64-wide sequence workgroups or
//! groups of 8 sequences; batches below 8 run the single-sequence kernels) and options, masked steps, the optimizers against their host twin, the
//! structure of a training step, and the adding problem's loss falling.

mod common;

use common::{assert_gradients, config, gpu, random_lens, random_tensor};
use wgpu_lstm::gpu::{TrainLstm, Trainer};
use wgpu_lstm::train::adding;
use wgpu_lstm::{
    Activation, ActivationKind, Cell, CpuLstm, Dims, Direction, Layout, LstmConfig, LstmWeights, Optimizer,
    Precision, State, Tensor,
};

/// Largest GPU-vs-CPU forward output difference (absolute; outputs are O(1)).
const OUTPUT_TOLERANCE: f32 = 1e-4;

struct Case {
    name: String,
    config: LstmConfig,
    seq_len: usize,
    batch: usize,
    lens: bool,
    initial: bool,
    state_grads: bool,
}

fn case(name: &str, config: LstmConfig, seq_len: usize, batch: usize) -> Case {
    Case {
        name: name.into(),
        config,
        seq_len,
        batch,
        lens: false,
        initial: false,
        state_grads: false,
    }
}

fn grid() -> Vec<Case> {
    let mut cases = vec![
        case("plain", config(5, 17, 1, Direction::Forward), 9, 3),
        Case {
            lens: true,
            initial: true,
            state_grads: true,
            ..case(
                "2 layers bidirectional, H beyond one workgroup, tiled GEMMs, lengths, state",
                config(7, 70, 2, Direction::Bidirectional),
                13,
                5,
            )
        },
        Case {
            lens: true,
            initial: true,
            ..case(
                "batch-major, reverse, two groups of sequences",
                LstmConfig {
                    layout: Layout::BatchMajor,
                    ..config(3, 9, 1, Direction::Reverse)
                },
                11,
                13,
            )
        },
        Case {
            lens: true,
            initial: true,
            state_grads: true,
            ..case(
                "projection, one sequence per workgroup, H beyond one workgroup",
                LstmConfig {
                    proj_size: Some(6),
                    ..config(5, 70, 2, Direction::Bidirectional)
                },
                9,
                3,
            )
        },
        Case {
            lens: true,
            state_grads: true,
            ..case(
                "projection, 3 layers",
                LstmConfig {
                    proj_size: Some(6),
                    ..config(4, 19, 3, Direction::Bidirectional)
                },
                7,
                9,
            )
        },
        Case {
            initial: true,
            state_grads: true,
            ..case(
                "peepholes, clip, input_forget, no bias",
                LstmConfig {
                    peepholes: true,
                    clip: Some(0.8),
                    input_forget: true,
                    bias: false,
                    ..config(6, 13, 2, Direction::Bidirectional)
                },
                8,
                10,
            )
        },
    ];
    cases.extend(cell_cases());
    for (n, kind) in ActivationKind::ALL.into_iter().enumerate() {
        let act = Activation::new(
            kind,
            kind.takes_alpha().then_some(0.6),
            kind.takes_beta().then_some(0.4),
        )
        .unwrap();
        let mut acts = Activation::DEFAULT.to_vec();
        acts[n % 3] = act;
        acts.extend([act, Activation::TANH, Activation::SIGMOID]);
        cases.push(Case {
            lens: true,
            initial: true,
            ..case(
                &format!("activation {}", kind.name()),
                LstmConfig {
                    activations: acts,
                    peepholes: n % 2 == 0,
                    ..config(3, 5, 1, Direction::Bidirectional)
                },
                5,
                2,
            )
        });
    }
    cases
}

/// The GRU in both modes (the second phase of linear_before_reset = 0 with one sequence per
/// workgroup and with groups) and the RNN with tanh and relu.
fn cell_cases() -> Vec<Case> {
    let of = |cell, lbr, base: LstmConfig| LstmConfig {
        cell,
        linear_before_reset: lbr,
        ..base
    };
    let act = |kind, alpha| Activation::new(kind, alpha, None).unwrap();
    let full = |c: Case| Case {
        lens: true,
        initial: true,
        state_grads: true,
        ..c
    };
    vec![
        full(case(
            "GRU, linear_before_reset, 2 layers bidirectional, H beyond one workgroup",
            of(Cell::Gru, true, config(7, 70, 2, Direction::Bidirectional)),
            13,
            5,
        )),
        full(case(
            "GRU without linear_before_reset, H beyond one workgroup, groups, clip, batch-major",
            LstmConfig {
                clip: Some(0.9),
                layout: Layout::BatchMajor,
                ..of(Cell::Gru, false, config(5, 70, 2, Direction::Bidirectional))
            },
            9,
            11,
        )),
        full(case(
            "GRU without linear_before_reset, reverse, no bias, other activations",
            LstmConfig {
                bias: false,
                activations: vec![
                    Activation::new(ActivationKind::HardSigmoid, Some(0.3), Some(0.5)).unwrap(),
                    act(ActivationKind::LeakyRelu, Some(0.2)),
                ],
                ..of(Cell::Gru, false, config(3, 9, 1, Direction::Reverse))
            },
            7,
            3,
        )),
        full(case(
            "RNN, relu, 2 layers bidirectional, groups",
            LstmConfig {
                activations: vec![act(ActivationKind::Relu, None); 2],
                ..of(Cell::Rnn, false, config(5, 67, 2, Direction::Bidirectional))
            },
            8,
            9,
        )),
        full(case(
            "RNN, tanh, clip, no bias, reverse",
            LstmConfig {
                clip: Some(0.7),
                bias: false,
                ..of(Cell::Rnn, false, config(4, 13, 1, Direction::Reverse))
            },
            6,
            2,
        )),
    ]
}

fn inputs(case: &Case, seed: u64) -> (Tensor, Option<State>, Option<Vec<usize>>) {
    let cfg = &case.config;
    let x_shape = match cfg.layout {
        Layout::SeqMajor => vec![case.seq_len, case.batch, cfg.input_size],
        Layout::BatchMajor => vec![case.batch, case.seq_len, cfg.input_size],
    };
    let ld = cfg.num_layers * cfg.num_directions();
    let state = case.initial.then(|| State {
        h: random_tensor(vec![ld, case.batch, cfg.output_size()], 1.0, seed + 1),
        c: random_tensor(vec![ld, case.batch, cfg.cell_state_size()], 1.0, seed + 2),
    });
    let lens = case.lens.then(|| random_lens(case.batch, case.seq_len, seed + 3));
    (random_tensor(x_shape, 1.0, seed), state, lens)
}

#[test]
fn gpu_gradients_match_the_cpu_reference_over_a_grid() {
    let Some(gpu) = gpu() else { return };
    let mut worst = (0.0f32, String::new());
    for (k, case) in grid().iter().enumerate() {
        let cfg = &case.config;
        let weights = LstmWeights::random(cfg, 10 + k as u64).unwrap();
        let (x, initial, lens) = inputs(case, 100 + k as u64);
        let cpu = CpuLstm::new(cfg, &weights).unwrap();
        let model = TrainLstm::new(&gpu.device, &gpu.queue, cfg, &weights).unwrap();
        let (cpu_out, cpu_tape) = cpu.forward_train(&x, initial.as_ref(), lens.as_deref()).unwrap();
        let (gpu_out, gpu_tape) = model
            .forward_train(&x, initial.as_ref(), lens.as_deref())
            .unwrap();
        let out_err = gpu_out.max_abs_diff(&cpu_out).unwrap();
        assert!(
            out_err <= OUTPUT_TOLERANCE,
            "{}: forward outputs differ by {out_err:e} (tolerance {OUTPUT_TOLERANCE:e})",
            case.name
        );
        // The training forward is the inference forward.
        let plain = cpu
            .forward_with_lens(&x, initial.as_ref(), lens.as_deref())
            .unwrap();
        assert!(
            plain.max_abs_diff(&cpu_out).unwrap() <= OUTPUT_TOLERANCE,
            "{}",
            case.name
        );

        let dy = random_tensor(cpu_out.y.shape().to_vec(), 1.0, 200 + k as u64);
        let dh_n = case
            .state_grads
            .then(|| random_tensor(cpu_out.h_n.shape().to_vec(), 1.0, 300));
        let dc_n = case
            .state_grads
            .then(|| random_tensor(cpu_out.c_n.shape().to_vec(), 1.0, 301));
        let want = cpu
            .backward(&cpu_tape, &dy, dh_n.as_ref(), dc_n.as_ref())
            .unwrap();
        let got = model
            .backward(&gpu_tape, &dy, dh_n.as_ref(), dc_n.as_ref())
            .unwrap();
        let dims = Dims {
            seq_len: case.seq_len,
            batch: case.batch,
        };
        let err = assert_gradients(&case.name, cfg, dims, &got, &want);
        eprintln!("{}: worst gradient {err:.3} of its bound", case.name);
        if err > worst.0 {
            worst = (err, case.name.clone());
        }
    }
    eprintln!("worst over the grid: {:.3} of the bound ({})", worst.0, worst.1);
}

#[test]
fn masked_steps_have_exactly_zero_gradients_on_the_gpu() {
    let Some(gpu) = gpu() else { return };
    let cfg = LstmConfig {
        proj_size: Some(3),
        ..config(4, 6, 2, Direction::Bidirectional)
    };
    let weights = LstmWeights::random(&cfg, 5).unwrap();
    let model = TrainLstm::new(&gpu.device, &gpu.queue, &cfg, &weights).unwrap();
    let (t, b) = (7, 10);
    let lens = [7, 2, 5, 7, 1, 3, 6, 4, 7, 2];
    let x = random_tensor(vec![t, b, 4], 1.0, 1);
    let (out, tape) = model.forward_train(&x, None, Some(&lens)).unwrap();
    for (bb, &len) in lens.iter().enumerate() {
        for tt in len..t {
            let row = &out.y.data()[(tt * b + bb) * 6..][..6];
            assert!(row.iter().all(|&v| v == 0.0), "y at masked ({tt}, {bb})");
        }
    }
    let mut dy = random_tensor(out.y.shape().to_vec(), 1.0, 2);
    let g1 = model.backward(&tape, &dy, None, None).unwrap();
    for (bb, &len) in lens.iter().enumerate() {
        for tt in len..t {
            assert!(
                g1.dx.data()[(tt * b + bb) * 4..][..4].iter().all(|&v| v == 0.0),
                "dx at masked ({tt}, {bb})"
            );
        }
    }
    // dy at masked steps changes nothing.
    let data: Vec<f32> = dy
        .data()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let (tt, bb) = (i / 6 / b, i / 6 % b);
            if tt >= lens[bb] {
                1e3
            } else {
                v
            }
        })
        .collect();
    dy = Tensor::new(dy.shape().to_vec(), data).unwrap();
    let g2 = model.backward(&tape, &dy, None, None).unwrap();
    assert_eq!(g1, g2);
}

/// A model reuses the buffers of its last shape once the tape holding them is dropped. A pass on
/// reused buffers gives exactly what a fresh model gives, after a pass that left every buffer
/// dirty (an initial state, state gradients, other lengths, peephole sums); a second tape alive
/// at once gets buffers of its own.
#[test]
fn reused_training_buffers_give_a_fresh_models_results() {
    let Some(gpu) = gpu() else { return };
    let cfg = LstmConfig {
        peepholes: true,
        ..config(4, 6, 2, Direction::Bidirectional)
    };
    let weights = LstmWeights::random(&cfg, 5).unwrap();
    let new_model = || TrainLstm::new(&gpu.device, &gpu.queue, &cfg, &weights).unwrap();
    let (t, b) = (7, 10);
    let x = |seed| random_tensor(vec![t, b, 4], 1.0, seed);
    let run = |model: &TrainLstm, seed: u64, lens: &[usize]| {
        let (out, tape) = model.forward_train(&x(seed), None, Some(lens)).unwrap();
        let dy = random_tensor(out.y.shape().to_vec(), 1.0, seed + 1);
        (out, model.backward(&tape, &dy, None, None).unwrap())
    };
    let lens = [7, 2, 5, 7, 1, 3, 6, 4, 7, 2];

    let reused = new_model();
    let state = State {
        h: random_tensor(vec![4, b, 6], 1.0, 20),
        c: random_tensor(vec![4, b, 6], 1.0, 21),
    };
    let (out, tape) = reused.forward_train(&x(22), Some(&state), None).unwrap();
    let dy = random_tensor(out.y.shape().to_vec(), 1.0, 23);
    reused
        .backward(&tape, &dy, Some(&state.h), Some(&state.c))
        .unwrap();
    drop(tape);
    let (out_reused, grads_reused) = run(&reused, 1, &lens);
    let (out_fresh, grads_fresh) = run(&new_model(), 1, &lens);
    // Bit for bit: the same kernels on the same inputs.
    let same = |what: &str, worst: Option<f32>| assert_eq!(worst, Some(0.0), "{what}: worst difference");
    same("outputs", out_reused.max_abs_diff(&out_fresh));
    same("gradients", grads_reused.max_abs_diff(&grads_fresh));

    // Two tapes at once: the first keeps its own record.
    let (out1, tape1) = reused.forward_train(&x(1), None, Some(&lens)).unwrap();
    let (_, tape2) = reused.forward_train(&x(30), None, None).unwrap();
    let dy = random_tensor(out1.y.shape().to_vec(), 1.0, 2);
    let grads1 = reused.backward(&tape1, &dy, None, None).unwrap();
    same(
        "gradients of the first of two tapes",
        grads1.max_abs_diff(&grads_fresh),
    );
    drop(tape2);
}

#[test]
fn one_training_step_is_one_submission_per_pass() {
    let Some(gpu) = gpu() else { return };
    let cfg = config(3, 10, 2, Direction::Bidirectional);
    let weights = LstmWeights::random(&cfg, 5).unwrap();
    let model = TrainLstm::new(&gpu.device, &gpu.queue, &cfg, &weights).unwrap();
    let mut trainer = Trainer::new(&model, Optimizer::adam(1e-2).with_clip_norm(1.0)).unwrap();
    let x = random_tensor(vec![6, 4, 3], 1.0, 1);
    let (out, tape) = model.forward_train(&x, None, None).unwrap();
    let dy = random_tensor(out.y.shape().to_vec(), 1.0, 2);
    trainer.step(&model, &tape, &dy, None, None).unwrap();
    let s = model.last_stats();
    // Forward: per layer, one input-projection GEMM and one transpose of R per direction, and one
    // sequence kernel.
    assert_eq!(
        (s.forward.dispatches, s.forward.submits, s.forward.readbacks),
        (2 * (2 + 2 + 1), 1, 1)
    );
    // Backward: per layer, one sequence kernel, and per direction dW, dR, two db and dx.
    assert_eq!(
        (s.backward.dispatches, s.backward.submits, s.backward.readbacks),
        (2 * (1 + 2 * 5), 1, 0)
    );
    // Optimizer: the norm and the update, in the backward's submission.
    assert_eq!((s.optimizer.dispatches, s.optimizer.submits), (2, 0));
    assert_eq!(trainer.steps(), 1);
}

/// The GPU optimizers against float64 rules written from PyTorch's definitions
/// (`conform::check_optimizer`), independent of the host twin: with and without momentum and
/// clipping, two steps each so that the moments carry over.
#[test]
fn gpu_optimizers_match_pytorchs_rules_in_float64() {
    let Some(gpu) = gpu() else { return };
    let cache = wgpu_lstm::gpu::PipelineCache::new(&gpu.device);
    for (k, optimizer) in [
        Optimizer::adam(0.05),
        Optimizer::adam(0.02).with_clip_norm(0.1),
        Optimizer::sgd(0.1, 0.9),
        Optimizer::sgd(0.1, 0.0).with_clip_norm(0.05),
    ]
    .into_iter()
    .enumerate()
    {
        let check =
            wgpu_lstm::conform::check_optimizer(&cache, &gpu.queue, optimizer, 40 + k as u64).unwrap();
        let c = &check.comparison;
        eprintln!("{optimizer:?}: {:.3} of the bound", c.worst_ratio);
        assert!(
            c.passed(),
            "{optimizer:?}: {:.3} of the bound at {:?}",
            c.worst_ratio,
            c.worst
        );
        assert!(check.kernels.contains("train_update"), "{}", check.kernels);
        assert_eq!(
            check.kernels.contains("train_norm"),
            optimizer.clip_norm.is_some()
        );
    }
}

#[test]
fn gpu_optimizers_match_their_host_twin() {
    let Some(gpu) = gpu() else { return };
    let cfg = LstmConfig {
        peepholes: true,
        ..config(3, 5, 1, Direction::Forward)
    };
    let weights = LstmWeights::random(&cfg, 9).unwrap();
    let x = random_tensor(vec![4, 2, 3], 1.0, 3);
    for optimizer in [
        Optimizer::adam(0.05),
        Optimizer::adam(0.05).with_clip_norm(0.1),
        Optimizer::sgd(0.1, 0.9),
        Optimizer::sgd(0.1, 0.0).with_clip_norm(0.05),
    ] {
        let model = TrainLstm::new(&gpu.device, &gpu.queue, &cfg, &weights).unwrap();
        let cpu = CpuLstm::new(&cfg, &weights).unwrap();
        let mut trainer = Trainer::new(&model, optimizer).unwrap();
        let mut host = wgpu_lstm::train::flatten(&weights);
        let mut state = vec![0.0; host.len() * optimizer.state_per_weight()];
        let mut cpu = cpu;
        for step in 1..=3 {
            let (out, tape) = model.forward_train(&x, None, None).unwrap();
            let dy = out.y.clone(); // L = ½‖y‖²
            let (_, cpu_tape) = cpu.forward_train(&x, None, None).unwrap();
            let grads = cpu.backward(&cpu_tape, &dy, None, None).unwrap();
            trainer.step(&model, &tape, &dy, None, None).unwrap();
            optimizer
                .step_host(
                    step,
                    &mut host,
                    &wgpu_lstm::train::flatten(&grads.weights),
                    &mut state,
                )
                .unwrap();
            let updated = wgpu_lstm::train::unflatten(&cfg, &host).unwrap();
            cpu = CpuLstm::new(&cfg, &updated).unwrap();
        }
        let got = wgpu_lstm::train::flatten(&model.weights().unwrap());
        let err = got
            .iter()
            .zip(&host)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            err <= 1e-4,
            "{optimizer:?}: weights differ by {err:e} after 3 steps"
        );
        assert!(
            got != wgpu_lstm::train::flatten(&weights),
            "{optimizer:?}: nothing moved"
        );
    }
}

#[test]
fn training_refuses_f16_weights_bad_gradients_and_stale_tapes() {
    let Some(gpu) = gpu() else { return };
    let cfg = LstmConfig {
        weights_precision: Precision::F16,
        ..config(3, 4, 1, Direction::Forward)
    };
    let weights = LstmWeights::random(&cfg, 1).unwrap();
    let err = TrainLstm::new(&gpu.device, &gpu.queue, &cfg, &weights)
        .err()
        .expect("f16 refused");
    assert!(err.to_string().contains("f16"), "{err}");
    let cfg = config(3, 4, 1, Direction::Forward);
    let model = TrainLstm::new(&gpu.device, &gpu.queue, &cfg, &weights).unwrap();
    let x = random_tensor(vec![5, 2, 3], 1.0, 1);
    let (out, tape) = model.forward_train(&x, None, None).unwrap();
    let wrong = Tensor::zeros(vec![5, 2, 3]).unwrap();
    let err = model.backward(&tape, &wrong, None, None).unwrap_err();
    assert!(err.to_string().contains("dy"), "{err}");
    let mut nan = out.y.clone().into_data();
    nan[3] = f32::NAN;
    let nan = Tensor::new(out.y.shape().to_vec(), nan).unwrap();
    let err = model.backward(&tape, &nan, None, None).unwrap_err();
    assert!(err.to_string().contains("not finite"), "{err}");
    let bad_state = Tensor::zeros(vec![2, 2, 4]).unwrap();
    let err = model.backward(&tape, &out.y, Some(&bad_state), None).unwrap_err();
    assert!(err.to_string().contains("dh_n"), "{err}");
    // A tape belongs to its model and to the weights it saw.
    let other = TrainLstm::new(&gpu.device, &gpu.queue, &cfg, &weights).unwrap();
    let err = other.backward(&tape, &out.y, None, None).unwrap_err();
    assert!(err.to_string().contains("another TrainLstm"), "{err}");
    let mut trainer = Trainer::new(&model, Optimizer::sgd(0.1, 0.0)).unwrap();
    trainer.step(&model, &tape, &out.y, None, None).unwrap();
    let err = trainer.step(&model, &tape, &out.y, None, None).unwrap_err();
    assert!(err.to_string().contains("forward_train again"), "{err}");
    let err = model.backward(&tape, &out.y, None, None).unwrap_err();
    assert!(err.to_string().contains("forward_train again"), "{err}");
}

#[test]
fn the_adding_problem_loss_falls_fivefold() {
    let Some(gpu) = gpu() else { return };
    let settings = adding::Settings {
        seq_len: 20,
        steps: 300,
        eval_every: 50,
        eval_sequences: 256,
        ..adding::Settings::default()
    };
    let report = adding::train(&gpu.device, &gpu.queue, &settings, |_, _| {}).unwrap();
    let (first, last) = (report.eval_curve[0].1, report.eval_curve.last().unwrap().1);
    eprintln!(
        "adding problem, T = 20: held-out MSE {first:.4} before training, {last:.4} after {} updates",
        report.steps
    );
    assert!(
        last * 5.0 <= first,
        "the held-out MSE fell from {first} to {last} only"
    );
}
