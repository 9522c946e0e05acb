//! The CPU backward against central finite differences of the same forward, in f64, for every
//! option the forward has (`cpu::fd`, per tensor), and masked steps.

use rand::{rngs::StdRng, Rng, SeedableRng};

use super::cpu::fd::{check, Point, FD_TOLERANCE};
use super::cpu::{backward64, forward64};
use super::ParamLayout;
use crate::activation::{Activation, ActivationKind};
use crate::cell::Cell;
use crate::config::{Direction, Layout, LstmConfig};
use crate::forward::Dims;
use crate::weights::LstmWeights;

struct Case {
    name: &'static str,
    config: LstmConfig,
    dims: Dims,
    /// Random lengths (one sequence full).
    seq_lens: bool,
    initial: bool,
}

fn config(input: usize, hidden: usize, layers: usize, direction: Direction) -> LstmConfig {
    LstmConfig {
        input_size: input,
        hidden_size: hidden,
        num_layers: layers,
        direction,
        ..LstmConfig::default()
    }
}

fn cases() -> Vec<Case> {
    let dims = Dims { seq_len: 5, batch: 3 };
    let base = config(3, 4, 1, Direction::Forward);
    let mut cases = vec![
        Case {
            name: "plain",
            config: base.clone(),
            dims,
            seq_lens: false,
            initial: false,
        },
        Case {
            name: "two layers, bidirectional, lengths, initial state, batch-major",
            config: LstmConfig {
                layout: Layout::BatchMajor,
                ..config(3, 4, 2, Direction::Bidirectional)
            },
            dims,
            seq_lens: true,
            initial: true,
        },
        Case {
            name: "projection, reverse, two layers",
            config: LstmConfig {
                proj_size: Some(3),
                ..config(2, 5, 2, Direction::Reverse)
            },
            dims,
            seq_lens: true,
            initial: true,
        },
        Case {
            name: "peepholes and clip",
            config: LstmConfig {
                peepholes: true,
                clip: Some(0.6),
                ..config(3, 4, 1, Direction::Bidirectional)
            },
            dims,
            seq_lens: false,
            initial: true,
        },
        Case {
            name: "input_forget, no bias",
            config: LstmConfig {
                input_forget: true,
                bias: false,
                peepholes: true,
                ..base.clone()
            },
            dims,
            seq_lens: false,
            initial: true,
        },
    ];
    // The GRU in both modes and the RNN, with the options they take.
    for (name, cell, lbr, relu) in [
        ("GRU, linear_before_reset", Cell::Gru, true, false),
        ("GRU without linear_before_reset", Cell::Gru, false, false),
        ("RNN, tanh", Cell::Rnn, false, false),
        ("RNN, relu", Cell::Rnn, false, true),
    ] {
        let base = LstmConfig {
            cell,
            linear_before_reset: lbr,
            activations: if relu {
                vec![Activation::new(ActivationKind::Relu, None, None).unwrap(); 2]
            } else {
                Vec::new()
            },
            ..config(3, 4, 2, Direction::Bidirectional)
        };
        cases.push(Case {
            name,
            config: LstmConfig {
                layout: Layout::BatchMajor,
                ..base.clone()
            },
            dims,
            seq_lens: true,
            initial: true,
        });
        cases.push(Case {
            name,
            config: LstmConfig {
                clip: Some(0.8),
                bias: false,
                num_layers: 1,
                direction: Direction::Reverse,
                activations: match cell {
                    Cell::Gru => vec![
                        Activation::new(ActivationKind::HardSigmoid, Some(0.3), Some(0.4)).unwrap(),
                        Activation::new(ActivationKind::LeakyRelu, Some(0.2), None).unwrap(),
                    ],
                    _ => vec![Activation::new(ActivationKind::Elu, Some(0.9), None).unwrap()],
                },
                ..base
            },
            dims,
            seq_lens: false,
            initial: false,
        });
    }
    // Every activation in each of f, g and h, with parameters where it takes them.
    for (n, kind) in ActivationKind::ALL.into_iter().enumerate() {
        let alpha = kind.takes_alpha().then_some(0.7);
        let beta = kind.takes_beta().then_some(0.3);
        let act = Activation::new(kind, alpha, beta).unwrap();
        let mut acts = Activation::DEFAULT.to_vec();
        acts[n % 3] = act;
        acts.extend([Activation::TANH, act, Activation::SIGMOID]);
        cases.push(Case {
            name: kind.name(),
            config: LstmConfig {
                activations: acts,
                ..config(2, 3, 1, Direction::Bidirectional)
            },
            dims: Dims { seq_len: 4, batch: 2 },
            seq_lens: true,
            initial: true,
        });
    }
    cases
}

fn random(rng: &mut StdRng, n: usize, scale: f64) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(-scale..scale)).collect()
}

/// Every option through the finite-difference check (`cpu::fd`: every weight, input and
/// initial-state value, per tensor), which `wgpu-lstm conform` runs on three cases.
#[test]
fn cpu_backward_matches_finite_differences_for_every_option() {
    for case in cases() {
        let cfg = &case.config;
        let mut rng = StdRng::seed_from_u64(7);
        let layout = ParamLayout::new(cfg).unwrap();
        let weights = LstmWeights::random(cfg, 3).unwrap();
        let (t, b) = (case.dims.seq_len, case.dims.batch);
        let states = cfg.num_layers * cfg.num_directions() * b;
        let (p, h) = (cfg.output_size(), cfg.cell_state_size());
        let initial = |rng: &mut StdRng, n| {
            if case.initial {
                random(rng, n, 1.0)
            } else {
                vec![0.0; n]
            }
        };
        let point = Point {
            params: layout.flatten(&weights).iter().map(|&v| v as f64 * 1.5).collect(),
            x: random(&mut rng, t * b * cfg.input_size, 1.5),
            h0: initial(&mut rng, states * p),
            c0: initial(&mut rng, states * h),
            dy: random(&mut rng, t * b * cfg.num_directions() * p, 1.0),
            dh_n: random(&mut rng, states * p, 1.0),
            dc_n: random(&mut rng, states * h, 1.0),
        };
        let lens: Option<Vec<usize>> = case.seq_lens.then(|| {
            let mut lens: Vec<usize> = (0..b).map(|_| rng.random_range(1..=t)).collect();
            lens[0] = t;
            lens
        });
        let fd = check(cfg, &layout, point, case.dims, lens.as_deref());
        let (tensor, worst) = fd.worst();
        eprintln!(
            "{}: worst {worst:.1e} of the tensor's largest gradient, at {tensor}",
            case.name
        );
        assert!(
            worst <= FD_TOLERANCE,
            "{}: {tensor} off by {worst:.3e} of its largest gradient (tolerance {FD_TOLERANCE:e})",
            case.name
        );
        // Every weight tensor takes part: no W or R gradient is identically zero.
        for (name, _, largest) in &fd.tensors {
            if name.ends_with("w_ih") || name.ends_with("w_hh") {
                assert!(*largest > 0.0, "{}: {name} has no gradient", case.name);
            }
        }
    }
}

#[test]
fn masked_steps_get_exactly_zero_gradients() {
    let cfg = LstmConfig {
        proj_size: Some(2),
        ..config(3, 4, 2, Direction::Bidirectional)
    };
    let dims = Dims { seq_len: 6, batch: 3 };
    let lens = [6, 2, 4];
    let layout = ParamLayout::new(&cfg).unwrap();
    let params: Vec<f64> = layout
        .flatten(&LstmWeights::random(&cfg, 1).unwrap())
        .iter()
        .map(|&v| v as f64)
        .collect();
    let mut rng = StdRng::seed_from_u64(2);
    let x = random(&mut rng, 6 * 3 * 3, 1.0);
    let mut dy = random(&mut rng, 6 * 3 * 4, 1.0);
    let states = 4 * 3;
    let zero_state = (vec![0.0; states * 2], vec![0.0; states * 4]);
    let (_, _, _, tapes) = forward64(&cfg, &layout, &params, &x, None, dims, Some(&lens));
    let run = |dy: &[f64]| {
        backward64(
            &cfg,
            &layout,
            &params,
            &tapes,
            dy,
            &zero_state.0,
            &zero_state.1,
            dims,
            Some(&lens),
        )
    };
    let (g1, dx1, dh1, dc1) = run(&dy);
    // dy at masked steps is ignored, and dx there is exactly zero.
    for (b, &len) in lens.iter().enumerate() {
        for t in len..6 {
            let row = t * 3 + b;
            dy[row * 4..][..4].iter_mut().for_each(|v| *v = 1e3);
            assert!(
                dx1[row * 3..][..3].iter().all(|&v| v == 0.0),
                "dx at masked ({t}, {b})"
            );
        }
    }
    let (g2, dx2, dh2, dc2) = run(&dy);
    assert_eq!((g1, dx1, dh1, dc1), (g2, dx2, dh2, dc2));
}
