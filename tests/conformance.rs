//! GPU-vs-CPU conformance over a grid of shapes and options: sizes that are not multiples of the
//! workgroup sizes (64 units per step workgroup, 64×64 projection tiles), 1–3 layers, every
//! direction, with and without biases, initial states and sequence lengths, both conventions
//! (weights round-tripped through `.safetensors`) and both layouts; then every ONNX and PyTorch
//! gate option (peepholes, clip, input_forget, all activations with alpha/beta, projections)
//! combined with those.

mod common;

use rand::{rngs::StdRng, Rng, SeedableRng};
use wgpu_lstm::conform::{random_activations, Check, ConformCase, Prepared};
use wgpu_lstm::gpu::{GemmVariant, Schedule, StepVariant, Variants};
use wgpu_lstm::{ActivationKind, Convention, Direction, Layout, LstmConfig, LstmWeights, Precision};

const INPUT_SIZES: [usize; 5] = [1, 5, 33, 100, 257];
const HIDDEN_SIZES: [usize; 5] = [5, 1, 257, 33, 100];
const BATCHES: [usize; 3] = [1, 3, 17];
const SEQ_LENS: [usize; 3] = [1, 2, 37];
/// Keep each case's CPU reference under about a second.
const MAX_MACS: usize = 1_000_000_000;

/// A run's verdict: the worst error relative to the bound, and where.
fn verdict(check: &Check) -> String {
    let c = &check.comparison;
    format!(
        "{} {:.3} of the bound {} (max abs error {:.2e}; worst {:?})",
        if check.passed() { "ok" } else { "FAIL" },
        c.worst_ratio,
        c.bound,
        c.max_abs_error,
        c.worst
    )
}

/// A deterministic sweep: each option cycles with a different period, so the combinations vary.
fn grid() -> Vec<ConformCase> {
    (0..36)
        .map(|n| {
            let convention = if n % 3 == 2 {
                Convention::Onnx
            } else {
                Convention::PyTorch
            };
            let num_layers = if convention == Convention::Onnx {
                1
            } else {
                1 + (n + n / 3) % 3
            };
            let direction = match n % 4 {
                0 | 2 => Direction::Bidirectional,
                1 => Direction::Forward,
                _ => Direction::Reverse,
            };
            let mut case = ConformCase {
                convention: Some(convention),
                config: LstmConfig {
                    input_size: INPUT_SIZES[n % 5],
                    hidden_size: HIDDEN_SIZES[(n / 5) % 5],
                    num_layers,
                    direction,
                    bias: n % 5 != 3,
                    layout: if (n / 2) % 2 == 0 {
                        Layout::SeqMajor
                    } else {
                        Layout::BatchMajor
                    },
                    ..LstmConfig::default()
                },
                batch: BATCHES[(n / 3) % 3],
                seq_len: SEQ_LENS[(n / 4 + n) % 3],
                initial_state: n % 3 != 1,
                seq_lens: n % 2 == 1 || n % 7 == 0,
                seed: 1000 + n as u64,
                pooled: false,
            };
            while case.macs() > MAX_MACS && case.batch > 1 {
                case.batch = BATCHES[BATCHES.iter().position(|&b| b == case.batch).unwrap() - 1];
            }
            case
        })
        .collect()
}

/// The grid again, each case with gate options: peepholes (ONNX), projections (PyTorch), clip,
/// input_forget and random activations with their parameters, in rotating combinations.
fn semantics_grid() -> Vec<ConformCase> {
    let mut rng = StdRng::seed_from_u64(3);
    grid()
        .into_iter()
        .enumerate()
        .map(|(n, mut case)| {
            let cfg = &mut case.config;
            cfg.peepholes = case.convention == Some(Convention::Onnx) && n % 2 == 0;
            if case.convention == Some(Convention::PyTorch) && n % 4 != 1 && cfg.hidden_size > 1 {
                cfg.proj_size = Some(1 + (n * 7) % (cfg.hidden_size - 1));
            }
            cfg.clip = (n % 4 == 1 || n % 7 == 3).then(|| rng.random_range(0.5f32..3.0));
            cfg.input_forget = n % 5 == 2 || n % 7 == 0;
            if n % 3 != 1 {
                cfg.activations = random_activations(&mut rng, cfg);
            }
            case
        })
        .collect()
}

/// Unidirectional stacks without projection, which run as a wavefront: 2–4 layers, T below, at
/// and above L, hidden sizes across the 64-unit workgroup edge, batches that are not multiples of
/// the 8-element blocks, with the gate options in rotation.
fn wavefront_grid() -> Vec<ConformCase> {
    let mut rng = StdRng::seed_from_u64(9);
    (0..12)
        .map(|n| {
            let mut config = LstmConfig {
                input_size: [3, 70, 17][n % 3],
                hidden_size: [65, 1, 33, 130][n % 4],
                num_layers: 2 + n % 3,
                direction: if n % 2 == 0 {
                    Direction::Forward
                } else {
                    Direction::Reverse
                },
                bias: n % 5 != 4,
                layout: if n % 3 == 1 {
                    Layout::BatchMajor
                } else {
                    Layout::SeqMajor
                },
                ..LstmConfig::default()
            };
            config.clip = (n % 4 == 3).then(|| rng.random_range(0.5f32..3.0));
            config.input_forget = n % 5 == 1;
            if n % 3 == 2 {
                config.activations = random_activations(&mut rng, &config);
            }
            ConformCase {
                convention: Some(Convention::PyTorch),
                config,
                batch: [1, 3, 17, 9][n % 4],
                seq_len: [1, 2, 3, 37, 12][n % 5],
                initial_state: n % 3 != 0,
                seq_lens: n % 2 == 0,
                seed: 2000 + n as u64,
                pooled: false,
            }
        })
        .collect()
}

/// The wavefront against the CPU with every step variant it has, with weights straight from
/// `LstmWeights::random` so that half of the cases can also carry peepholes (a stack no file
/// convention holds).
#[test]
fn wavefront_matches_cpu_with_every_step_variant() {
    let Some(ctx) = common::gpu() else { return };
    let mut failures = Vec::new();
    let mut worst = 0.0f32;
    for (n, mut case) in wavefront_grid().into_iter().enumerate() {
        case.config.peepholes = n % 2 == 1;
        let weights = LstmWeights::random(&case.config, case.seed).unwrap();
        let prepared = case.prepare_with_weights(weights).unwrap();
        for step in StepVariant::ALL {
            let variants = Variants {
                gemm: GemmVariant::ALL[n % 2],
                step,
                schedule: Schedule::Wavefront,
            };
            if variants.effective(&case.config) != variants {
                assert!(!step.runs_in_a_wavefront(), "{step:?}: {}", case.describe());
                continue;
            }
            let check = prepared
                .run(ctx.pipeline_cache(), &ctx.queue, Some(variants))
                .unwrap();
            worst = worst.max(check.comparison.worst_ratio);
            if !check.passed() {
                failures.push(format!(
                    "{variants} case {n} ({}): {}",
                    case.describe(),
                    verdict(&check)
                ));
            }
        }
    }
    eprintln!("worst error {worst:.3} of the bound");
    assert!(failures.is_empty(), "outside the error bound: {failures:#?}");
}

#[test]
fn gpu_matches_cpu_over_grid() {
    run_grid(&grid());
}

#[test]
fn gpu_matches_cpu_with_every_gate_option() {
    run_grid(&semantics_grid());
}

fn run_grid(cases: &[ConformCase]) {
    let Some(ctx) = common::gpu() else { return };
    let mut failures = Vec::new();
    let mut worst = 0.0f32;
    for (n, case) in cases.iter().enumerate() {
        let check = case.run(ctx.pipeline_cache(), &ctx.queue, None).unwrap();
        worst = worst.max(check.comparison.worst_ratio);
        eprintln!(
            "case {n:2} {}: {} B={} T={} I={} H={} L={} {:?} bias={} h0c0={} lens={} {:?} \
             proj={:?} peep={} clip={:?} input_forget={} acts=[{}]",
            verdict(&check),
            case.convention.unwrap(),
            case.batch,
            case.seq_len,
            case.config.input_size,
            case.config.hidden_size,
            case.config.num_layers,
            case.config.direction,
            case.config.bias,
            case.initial_state,
            case.seq_lens,
            case.config.layout,
            case.config.proj_size,
            case.config.peepholes,
            case.config.clip,
            case.config.input_forget,
            case.config
                .activations
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !check.passed() {
            failures.push((n, verdict(&check)));
        }
    }
    eprintln!("{} cases, worst error {worst:.3} of the bound", cases.len());
    assert!(
        failures.is_empty(),
        "cases outside the error bound: {failures:#?}"
    );
}

/// The grid really reaches every size, batch, length and option it claims to.
#[test]
fn grid_covers_the_named_values() {
    let cases = grid();
    for i in INPUT_SIZES {
        assert!(cases.iter().any(|c| c.config.input_size == i), "input size {i}");
    }
    for h in HIDDEN_SIZES {
        assert!(cases.iter().any(|c| c.config.hidden_size == h), "hidden size {h}");
    }
    for b in BATCHES {
        assert!(cases.iter().any(|c| c.batch == b), "batch {b}");
    }
    for t in SEQ_LENS {
        assert!(cases.iter().any(|c| c.seq_len == t), "seq len {t}");
    }
    for l in 1..=3 {
        assert!(cases.iter().any(|c| c.config.num_layers == l), "{l} layers");
    }
    for d in [Direction::Forward, Direction::Reverse, Direction::Bidirectional] {
        for conv in [Convention::PyTorch, Convention::Onnx] {
            if conv == Convention::PyTorch && d == Direction::Reverse {
                continue; // nn.LSTM has no reverse-only mode; the engine still runs it below.
            }
            assert!(
                cases
                    .iter()
                    .any(|c| c.config.direction == d && c.convention == Some(conv)),
                "{d:?} with {conv}"
            );
        }
    }
    for flag in [false, true] {
        assert!(cases.iter().any(|c| c.config.bias == flag), "bias {flag}");
        assert!(cases.iter().any(|c| c.initial_state == flag), "h0/c0 {flag}");
        assert!(cases.iter().any(|c| c.seq_lens == flag), "seq_lens {flag}");
    }
    for layout in [Layout::SeqMajor, Layout::BatchMajor] {
        assert!(cases.iter().any(|c| c.config.layout == layout), "{layout:?}");
    }
    assert!(
        cases.iter().any(|c| c.seq_len > 1 && c.initial_state),
        "T > 1 with a nonzero initial state"
    );
}

/// The largest named sizes together: B=17, T=37, H=257, three bidirectional layers.
#[test]
fn gpu_matches_cpu_at_the_largest_grid_sizes() {
    let Some(ctx) = common::gpu() else { return };
    let case = ConformCase {
        convention: Some(Convention::PyTorch),
        config: LstmConfig {
            input_size: 100,
            hidden_size: 257,
            num_layers: 3,
            direction: Direction::Bidirectional,
            bias: true,
            layout: Layout::SeqMajor,
            ..LstmConfig::default()
        },
        batch: 17,
        seq_len: 37,
        initial_state: true,
        seq_lens: true,
        seed: 77,
        pooled: false,
    };
    let check = case.run(ctx.pipeline_cache(), &ctx.queue, None).unwrap();
    eprintln!("largest case: {}", verdict(&check));
    assert!(check.passed(), "{}", verdict(&check));
}

/// The option grid combines every gate option with layers, directions, lengths, states and
/// layouts, and uses every activation.
#[test]
fn semantics_grid_covers_every_option() {
    let cases = semantics_grid();
    let any = |what: &str, f: &dyn Fn(&ConformCase) -> bool| assert!(cases.iter().any(f), "{what}");
    any("peepholes, bidirectional, lens", &|c| {
        c.config.peepholes && c.config.direction == Direction::Bidirectional && c.seq_lens
    });
    any("peepholes, batch-major", &|c| {
        c.config.peepholes && c.config.layout == Layout::BatchMajor
    });
    any("projection, several layers, bidirectional", &|c| {
        c.config.proj_size.is_some()
            && c.config.num_layers > 1
            && c.config.direction == Direction::Bidirectional
    });
    any("projection, lens, h0/c0", &|c| {
        c.config.proj_size.is_some() && c.seq_lens && c.initial_state
    });
    any("clip, reverse", &|c| {
        c.config.clip.is_some() && c.config.direction == Direction::Reverse
    });
    any("clip, T > 1, h0/c0", &|c| {
        c.config.clip.is_some() && c.seq_len > 1 && c.initial_state
    });
    any("input_forget, lens", &|c| c.config.input_forget && c.seq_lens);
    any("input_forget, batch-major", &|c| {
        c.config.input_forget && c.config.layout == Layout::BatchMajor
    });
    any("per-direction activations", &|c| {
        c.config.num_directions() == 2 && c.config.activations_of(0) != c.config.activations_of(1)
    });
    for kind in ActivationKind::ALL {
        any(kind.name(), &|c| {
            c.config.activations.iter().any(|a| a.kind == kind)
        });
    }
}

/// Every kernel variant (each input-projection GEMM with each step, layer by layer and as a
/// wavefront) passes the grid with the gate options, plus every third wavefront case for the
/// wavefront variants. Every fourth case, and only those under 20 M multiply-adds: the slowest
/// variants on a software adapter (workgroup barriers in the split-K step on llvmpipe's GL) would
/// otherwise take minutes; the sizes still cross every tile and workgroup edge.
#[test]
fn every_kernel_variant_matches_cpu() {
    let Some(ctx) = common::gpu() else { return };
    let cases: Vec<ConformCase> = semantics_grid()
        .into_iter()
        .step_by(4)
        .chain(wavefront_grid().into_iter().step_by(3))
        .filter(|c| c.macs() <= 20_000_000)
        .collect();
    assert!(cases.len() >= 6, "too few cases left: {}", cases.len());
    // The CPU reference once per case, for every variant.
    let prepared: Vec<_> = cases.iter().map(|c| c.prepare().unwrap()).collect();
    let mut failures = Vec::new();
    for variants in Variants::all() {
        let started = std::time::Instant::now();
        // A wavefront a case cannot run is its layer-by-layer run, which is already listed.
        let applicable: Vec<(&ConformCase, &Prepared)> = cases
            .iter()
            .zip(&prepared)
            .filter(|(c, _)| variants.effective(&c.config) == variants)
            .collect();
        assert!(!applicable.is_empty(), "{variants} runs on no case");
        for (n, (case, prepared)) in applicable.iter().enumerate() {
            let check = prepared
                .run(ctx.pipeline_cache(), &ctx.queue, Some(variants))
                .unwrap();
            if !check.passed() {
                failures.push(format!(
                    "{variants} case {n} ({}): {}",
                    case.describe(),
                    verdict(&check)
                ));
            }
        }
        eprintln!(
            "{variants}: {} cases done in {:.1} s",
            applicable.len(),
            started.elapsed().as_secs_f64()
        );
    }
    assert!(failures.is_empty(), "outside the error bound: {failures:#?}");
}

/// Every kernel variant over every `step`-th case of the grids with weights stored at
/// `precision`, against the CPU reference on the same rounded weights.
fn every_kernel_variant_at(ctx: &wgpu_lstm::GpuContext, precision: Precision, step: usize) {
    let cases: Vec<ConformCase> = semantics_grid()
        .into_iter()
        .step_by(step)
        .chain(wavefront_grid().into_iter().step_by(4))
        .filter(|c| c.macs() <= 20_000_000)
        .map(|mut c| {
            c.config.weights_precision = precision;
            c
        })
        .collect();
    let prepared: Vec<_> = cases.iter().map(|c| c.prepare().unwrap()).collect();
    let mut failures = Vec::new();
    let mut worst = 0.0f32;
    for variants in Variants::all() {
        let applicable: Vec<(&ConformCase, &Prepared)> = cases
            .iter()
            .zip(&prepared)
            .filter(|(c, _)| variants.effective(&c.config) == variants)
            .collect();
        assert!(!applicable.is_empty(), "{variants} runs on no case");
        for (case, prepared) in applicable {
            let check = prepared
                .run(ctx.pipeline_cache(), &ctx.queue, Some(variants))
                .unwrap();
            worst = worst.max(check.comparison.worst_ratio);
            if !check.passed() {
                failures.push(format!("{variants} ({}): {}", case.describe(), verdict(&check)));
            }
        }
    }
    eprintln!(
        "{} weights: worst error {worst:.3} of the bound",
        precision.name()
    );
    assert!(failures.is_empty(), "outside the error bound: {failures:#?}");
}

/// Bytes of the resident weights of a 2-layer LSTM (I = 64, H = 128) at `precision`.
fn weight_bytes(ctx: &wgpu_lstm::GpuContext, precision: Precision) -> u64 {
    let config = LstmConfig {
        input_size: 64,
        hidden_size: 128,
        num_layers: 2,
        weights_precision: precision,
        ..LstmConfig::default()
    };
    let w = LstmWeights::random(&config, 1).unwrap();
    wgpu_lstm::Lstm::with_cache(ctx.pipeline_cache(), &ctx.queue, &config, &w)
        .unwrap()
        .weight_bytes()
}

/// The f32 biases of that model (2 layers × 4H).
const WEIGHT_BYTES_BIASES: u64 = 2 * 4 * 128 * 4;

/// f16 weights: every kernel variant, reading the weights as f16 (natively where the adapter has
/// shader-f16, unpacked from u32s elsewhere), matches the CPU reference on the same rounded
/// weights; the resident weights take about half the memory of f32 ones.
#[test]
fn every_kernel_variant_matches_cpu_with_f16_weights() {
    let Some(ctx) = common::gpu() else { return };
    every_kernel_variant_at(&ctx, Precision::F16, 6);
    let (full, half) = (
        weight_bytes(&ctx, Precision::F32),
        weight_bytes(&ctx, Precision::F16),
    );
    // Everything but the biases halves.
    let biases = WEIGHT_BYTES_BIASES;
    assert_eq!(half - biases, (full - biases) / 2, "{full} and {half} bytes");
}

/// int8 weights: every kernel variant, dequantizing int8 weights in the kernel (each row's scale
/// read once per column walk, or with each value where a kernel stages tiles), matches the CPU
/// reference on the same quantized weights; the resident weights take a quarter of f32's and
/// their scales (16 bytes per output row and matrix, 4 per row of the tiled GEMM's layout).
#[test]
fn every_kernel_variant_matches_cpu_with_int8_weights() {
    let Some(ctx) = common::gpu() else { return };
    every_kernel_variant_at(&ctx, Precision::Int8, 9);
    let (full, int8) = (
        weight_bytes(&ctx, Precision::F32),
        weight_bytes(&ctx, Precision::Int8),
    );
    let biases = WEIGHT_BYTES_BIASES;
    let quarter = (full - biases) / 4;
    assert!(
        int8 - biases > quarter && int8 - biases < quarter + quarter / 10,
        "{full} and {int8} bytes"
    );
}
