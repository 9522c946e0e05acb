//! The CPU backward against central finite differences of the same forward, in f64, for every
//! option the forward has.

use rand::{rngs::StdRng, Rng, SeedableRng};

use super::cpu::{backward64, forward64};
use super::ParamLayout;
use crate::activation::{Activation, ActivationKind};
use crate::config::{Direction, Layout, LstmConfig};
use crate::forward::Dims;
use crate::weights::LstmWeights;

/// Largest |analytic − finite difference| allowed, relative to the largest gradient. Central
/// differences with step `FD_STEP` in f64 agree to about 1e-10 here (at most 1.6e-10 seen).
const FD_TOLERANCE: f64 = 1e-8;
const FD_STEP: f64 = 1e-5;

struct Case {
    name: &'static str,
    config: LstmConfig,
    dims: Dims,
    seq_lens: Option<Vec<usize>>,
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
            seq_lens: None,
            initial: false,
        },
        Case {
            name: "two layers, bidirectional, lengths, initial state, batch-major",
            config: LstmConfig {
                layout: Layout::BatchMajor,
                ..config(3, 4, 2, Direction::Bidirectional)
            },
            dims,
            seq_lens: Some(vec![5, 2, 4]),
            initial: true,
        },
        Case {
            name: "projection, reverse, two layers",
            config: LstmConfig {
                proj_size: Some(3),
                ..config(2, 5, 2, Direction::Reverse)
            },
            dims,
            seq_lens: Some(vec![3, 5, 1]),
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
            seq_lens: None,
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
            seq_lens: None,
            initial: true,
        },
    ];
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
            seq_lens: Some(vec![4, 3]),
            initial: true,
        });
    }
    cases
}

fn random(rng: &mut StdRng, n: usize, scale: f64) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(-scale..scale)).collect()
}

#[test]
fn cpu_backward_matches_finite_differences_for_every_option() {
    for case in cases() {
        let cfg = &case.config;
        let mut rng = StdRng::seed_from_u64(7);
        let layout = ParamLayout::new(cfg).unwrap();
        let weights = LstmWeights::random(cfg, 3).unwrap();
        let params: Vec<f64> = layout.flatten(&weights).iter().map(|&v| v as f64 * 1.5).collect();
        let (t, b) = (case.dims.seq_len, case.dims.batch);
        let states = cfg.num_layers * cfg.num_directions() * b;
        let (p, h) = (cfg.output_size(), cfg.hidden_size);
        let x = random(&mut rng, t * b * cfg.input_size, 1.5);
        let h0 = random(&mut rng, states * p, 1.0);
        let c0 = random(&mut rng, states * h, 1.0);
        let ny = t * b * cfg.num_directions() * p;
        let (dy, dh_n, dc_n) = (
            random(&mut rng, ny, 1.0),
            random(&mut rng, states * p, 1.0),
            random(&mut rng, states * h, 1.0),
        );
        let lens = case.seq_lens.as_deref();
        let loss = |params: &[f64], x: &[f64], h0: &[f64], c0: &[f64]| -> f64 {
            let init = case.initial.then_some((h0, c0));
            let (y, hn, cn, _) = forward64(cfg, &layout, params, x, init, case.dims, lens);
            let dot = |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(u, v)| u * v).sum() };
            dot(&y, &dy) + dot(&hn, &dh_n) + dot(&cn, &dc_n)
        };
        let init = case.initial.then_some((h0.as_slice(), c0.as_slice()));
        let (_, _, _, tapes) = forward64(cfg, &layout, &params, &x, init, case.dims, lens);
        let (grads, dx, dh0, dc0) =
            backward64(cfg, &layout, &params, &tapes, &dy, &dh_n, &dc_n, case.dims, lens);

        // Finite differences over every weight and every input.
        let fd = |which: usize, k: usize| -> f64 {
            let mut vals = [params.clone(), x.clone(), h0.clone(), c0.clone()];
            vals[which][k] += FD_STEP;
            let up = loss(&vals[0], &vals[1], &vals[2], &vals[3]);
            vals[which][k] -= 2.0 * FD_STEP;
            let down = loss(&vals[0], &vals[1], &vals[2], &vals[3]);
            (up - down) / (2.0 * FD_STEP)
        };
        let mut parts = vec![("weights", 0, &grads), ("dx", 1, &dx)];
        if case.initial {
            parts.push(("dh0", 2, &dh0));
            parts.push(("dc0", 3, &dc0));
        }
        let largest = parts
            .iter()
            .flat_map(|(_, _, g)| g.iter())
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(largest > 1e-3, "{}: gradients vanish ({largest})", case.name);
        let mut worst = (0.0, "", 0);
        for (what, which, analytic) in &parts {
            for (k, a) in analytic.iter().enumerate() {
                let err = (a - fd(*which, k)).abs() / largest;
                if err > worst.0 {
                    worst = (err, what, k);
                }
            }
        }
        eprintln!("{}: worst {:.1e} of the largest gradient", case.name, worst.0);
        assert!(
            worst.0 <= FD_TOLERANCE,
            "{}: worst relative error {:.3e} at {}[{}] (tolerance {FD_TOLERANCE:e})",
            case.name,
            worst.0,
            worst.1,
            worst.2
        );
        // Every weight tensor takes part: no gradient block is identically zero unless the
        // option makes it so (input_forget's forget rows).
        for slot in &layout.slots {
            assert!(
                grads[slot.w_ih.clone()].iter().any(|&g| g != 0.0),
                "{}: dW",
                case.name
            );
            assert!(
                grads[slot.w_hh.clone()].iter().any(|&g| g != 0.0),
                "{}: dR",
                case.name
            );
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
