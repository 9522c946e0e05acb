//! The GRU and plain RNN cells: the GPU engine against the CPU reference over shapes that are not
//! multiples of the workgroup sizes, every kernel variant, both conventions' files, every
//! direction, lengths and initial states, gate options; and the cells' own rules (no cell state,
//! weights that tell the cells apart).

mod common;

use rand::{rngs::StdRng, SeedableRng};
use wgpu_lstm::conform::{random_activations, ConformCase};
use wgpu_lstm::gpu::{StepVariant, Variants};
use wgpu_lstm::{Cell, Convention, CpuLstm, Direction, Layout, LstmConfig, LstmWeights, Precision};

/// Cases of `cell` with a rotating choice of options, sized to keep the CPU reference quick.
fn cases(cell: Cell) -> Vec<ConformCase> {
    let mut rng = StdRng::seed_from_u64(25);
    (0..12)
        .map(|n| {
            let direction = [Direction::Bidirectional, Direction::Forward, Direction::Reverse][n % 3];
            let convention = [Some(Convention::PyTorch), Some(Convention::Onnx), None][n % 3];
            let mut config = LstmConfig {
                cell,
                // GRU cases without linear_before_reset (which nn.GRU's files cannot hold) run on
                // the sequence kernel whatever variant is asked for.
                linear_before_reset: cell == Cell::Gru
                    && (n % 2 == 0 || convention == Some(Convention::PyTorch)),
                input_size: [1, 5, 33, 70][n % 4],
                hidden_size: [5, 65, 1, 33][(n / 2) % 4],
                num_layers: if convention == Some(Convention::Onnx) {
                    1
                } else {
                    1 + n % 3
                },
                direction,
                bias: n % 5 != 3,
                layout: if n % 2 == 0 {
                    Layout::SeqMajor
                } else {
                    Layout::BatchMajor
                },
                clip: (n % 4 == 1).then_some(1.5),
                ..LstmConfig::default()
            };
            if n % 3 == 2 {
                config.activations = random_activations(&mut rng, &config);
            }
            ConformCase {
                convention,
                config,
                batch: [1, 3, 17][n % 3],
                seq_len: [1, 2, 23][(n / 3) % 3],
                initial_state: n % 2 == 0,
                seq_lens: n % 3 != 1,
                seed: 2500 + n as u64,
                pooled: false,
            }
        })
        .collect()
}

/// Every kernel variant, for both new cells, within the error model of the CPU reference. Each
/// variant runs a third of the cases it applies to (a rotating third, so that every case meets
/// many variants), those no variant has run yet, and always a GRU without linear_before_reset
/// where it applies.
#[test]
fn gru_and_rnn_match_cpu_with_every_kernel_variant() {
    let Some(ctx) = common::gpu() else { return };
    let mut failures = Vec::new();
    let mut worst = 0.0f32;
    for cell in [Cell::Gru, Cell::Rnn] {
        let cases = cases(cell);
        // The CPU reference once per case, for every variant.
        let prepared: Vec<_> = cases.iter().map(|c| c.prepare().unwrap()).collect();
        let mut ran = vec![false; cases.len()];
        for (v, variants) in Variants::all().into_iter().enumerate() {
            let applicable: Vec<usize> = (0..cases.len())
                .filter(|&k| variants.effective(&cases[k].config) == variants)
                .collect();
            assert!(!applicable.is_empty(), "{cell}: {variants} runs on no case");
            let reset_before = applicable
                .iter()
                .copied()
                .find(|&k| cases[k].config.resets_before_product());
            if cell == Cell::Gru && variants.step == StepVariant::Sequence {
                assert!(reset_before.is_some(), "no GRU without linear_before_reset ran");
            }
            let mut chosen: Vec<usize> = applicable
                .iter()
                .copied()
                .filter(|&k| (k + v) % 3 == 0 || !ran[k])
                .chain(reset_before)
                .collect();
            if chosen.is_empty() {
                chosen.push(applicable[v % applicable.len()]);
            }
            chosen.sort_unstable();
            chosen.dedup();
            for k in chosen {
                ran[k] = true;
                let case = &cases[k];
                let check = prepared[k]
                    .run(ctx.pipeline_cache(), &ctx.queue, Some(variants))
                    .unwrap();
                worst = worst.max(check.comparison.worst_ratio);
                if !check.passed() {
                    failures.push(format!(
                        "{variants} ({}): {:.3} of the bound, worst {:?}",
                        case.describe(),
                        check.comparison.worst_ratio,
                        check.comparison.worst
                    ));
                }
            }
        }
        assert!(ran.iter().all(|&r| r), "{cell}: a case no variant ran");
    }
    eprintln!("GRU and RNN: worst error {worst:.3} of the bound");
    assert!(failures.is_empty(), "outside the error bound: {failures:#?}");
}

/// f16 and int8 weights for both cells: the GRU's candidate biases stay apart when rounded, and
/// the lanes int8 leaves empty (the RNN's three, the GRU's recurrent lane of W) read as zeros.
#[test]
fn gru_and_rnn_match_cpu_with_f16_and_int8_weights() {
    let Some(ctx) = common::gpu() else { return };
    for (cell, precision) in [Cell::Gru, Cell::Rnn]
        .into_iter()
        .flat_map(|c| [(c, Precision::F16), (c, Precision::Int8)])
    {
        for mut case in cases(cell).into_iter().step_by(3) {
            case.config.weights_precision = precision;
            let check = case.run(ctx.pipeline_cache(), &ctx.queue, None).unwrap();
            assert!(
                check.passed(),
                "{}: {:.3} of the bound",
                case.describe(),
                check.comparison.worst_ratio
            );
        }
    }
}

/// Cells without a cell state have a c of width 0 in states and outputs.
#[test]
fn gru_and_rnn_have_no_cell_state() {
    for cell in [Cell::Gru, Cell::Rnn] {
        let config = LstmConfig {
            cell,
            linear_before_reset: cell == Cell::Gru,
            input_size: 3,
            hidden_size: 4,
            num_layers: 2,
            ..LstmConfig::default()
        };
        let weights = LstmWeights::random(&config, 1).unwrap();
        let x = common::random_tensor(vec![5, 2, 3], 1.0, 2);
        let out = CpuLstm::new(&config, &weights)
            .unwrap()
            .forward(&x, None)
            .unwrap();
        assert_eq!(out.c_n.shape(), &[2, 2, 0]);
        assert_eq!(out.h_n.shape(), &[2, 2, 4]);
    }
}

/// R's shape tells the cells apart in files of either convention; a config for another cell
/// is refused, naming both.
#[test]
fn files_tell_the_cells_apart() {
    for cell in Cell::ALL {
        let config = LstmConfig {
            cell,
            linear_before_reset: cell == Cell::Gru,
            input_size: 3,
            hidden_size: 4,
            direction: Direction::Bidirectional,
            ..LstmConfig::default()
        };
        let weights = LstmWeights::random(&config, 1).unwrap();
        for convention in [Convention::PyTorch, Convention::Onnx] {
            let bytes = weights.to_safetensors(convention).unwrap();
            let (loaded, _) = LstmWeights::from_safetensors(&bytes, None).unwrap();
            assert_eq!(loaded, weights, "{cell} through {convention}");
        }
        let other = LstmConfig {
            cell: if cell == Cell::Rnn { Cell::Lstm } else { Cell::Rnn },
            linear_before_reset: false,
            ..config.clone()
        };
        let err = weights.check_config(&other).unwrap_err().to_string();
        assert!(err.contains("cell"), "{err}");
    }
}

/// `tests/onnx/cells/<name>`.
fn onnx_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/onnx/cells")
        .join(name)
}

/// `wgpu-lstm run` on an .onnx model of `tests/onnx/cells/` (made by make_cells.py with
/// onnxruntime's outputs) with `extra` flags; returns the output directory.
fn run_onnx(
    model: &str,
    x: &str,
    device: &str,
    extra: &[&str],
) -> std::result::Result<tempfile::TempDir, String> {
    common::run_model(&onnx_file(model), &onnx_file(x), device, extra)
}

fn assert_file_close(what: &str, got: &std::path::Path, expected: &str) {
    let got = wgpu_lstm::Tensor::read_npy(got).unwrap();
    let expected = wgpu_lstm::Tensor::read_npy(&onnx_file(expected)).unwrap();
    common::assert_close_scaled(what, &got, &expected, common::TOLERANCE);
}

/// GRU (both linear_before_reset modes) and RNN nodes through `run` on the CPU and the GPU,
/// against onnxruntime: Y and Y_h, no c_n.npy.
#[test]
fn onnx_gru_and_rnn_nodes_match_onnxruntime() {
    let gpu = common::gpu().is_some();
    for model in ["gru_lbr1", "gru_lbr0", "rnn_relu_reverse"] {
        let lens = onnx_file(&format!("{model}_lens.npy")).display().to_string();
        for device in ["cpu", "gpu"] {
            if device == "gpu" && !gpu {
                continue;
            }
            {
                let extra = vec!["--seq-lens", lens.as_str()];
                let result = run_onnx(
                    &format!("{model}.onnx"),
                    &format!("{model}_x.npy"),
                    device,
                    &extra,
                );
                let out = result.unwrap_or_else(|e| panic!("{model} {device}: {e}"));
                let what = format!("{model} {device}");
                assert_file_close(&what, &out.path().join("y.npy"), &format!("{model}_y.npy"));
                assert_file_close(&what, &out.path().join("h_n.npy"), &format!("{model}_h_n.npy"));
                assert!(!out.path().join("c_n.npy").exists(), "{what}: a c_n.npy");
            }
        }
    }
}

/// `--node` picks among the LSTM, GRU and RNN nodes of one model (whole, and streamed in chunks
/// with the state on the GPU), `info` lists them with their operators, and a `--cell` the
/// weights contradict is an error.
#[test]
fn node_selects_among_lstm_gru_and_rnn_nodes() {
    let gpu = common::gpu().is_some();
    for node in ["lstm", "gru", "rnn"] {
        for device in ["cpu", "gpu"] {
            if device == "gpu" && !gpu {
                continue;
            }
            for chunk in [None, Some("3")] {
                let mut extra = vec!["--node", node];
                extra.extend(chunk.iter().flat_map(|n| ["--chunk", *n]));
                let out = run_onnx("mixed.onnx", "mixed_x.npy", device, &extra).unwrap();
                let what = format!("{node} {device} chunk {chunk:?}");
                assert_file_close(&what, &out.path().join("y.npy"), &format!("mixed_{node}_y.npy"));
                assert_eq!(out.path().join("c_n.npy").exists(), node == "lstm", "{what}");
            }
        }
    }
    let err = run_onnx("mixed.onnx", "mixed_x.npy", "cpu", &[]).unwrap_err();
    assert!(
        err.contains("3 LSTM, GRU or RNN nodes; choose with --node"),
        "{err}"
    );
    let err = run_onnx(
        "mixed.onnx",
        "mixed_x.npy",
        "cpu",
        &["--node", "gru", "--cell", "rnn"],
    )
    .unwrap_err();
    assert!(err.contains("--cell") && err.contains("contradicts"), "{err}");
    let info = common::bin()
        .arg("info")
        .arg("--weights")
        .arg(onnx_file("mixed.onnx"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&info.stdout);
    assert!(
        stdout.contains("3 recurrent node(s): 1 LSTM, 1 GRU, 1 RNN"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cell GRU, linear_before_reset 1") && stdout.contains("cell RNN"),
        "{stdout}"
    );
}

/// A GRU without linear_before_reset runs on the sequence kernel, whose workgroup stages h: one
/// larger than it holds is refused before anything is allocated, naming the attribute.
#[test]
fn a_gru_without_linear_before_reset_too_wide_for_the_sequence_kernel_is_refused() {
    let Some(ctx) = common::gpu() else { return };
    let config = LstmConfig {
        cell: Cell::Gru,
        input_size: 1,
        hidden_size: 2049,
        ..LstmConfig::default()
    };
    let weights = LstmWeights::random(&config, 1).unwrap();
    let err = wgpu_lstm::Lstm::new(&ctx.device, &ctx.queue, &config, &weights)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("linear_before_reset 0") && err.contains("2048"),
        "{err}"
    );
}

/// Sequences of length 0, for every cell: zero Y rows and zero final states whatever the initial
/// state (as onnxruntime gives), and the other sequences as they run alone; on the CPU
/// reference and the GPU, whole and in chunks.
#[test]
fn sequences_of_length_zero_give_zeros_for_every_cell() {
    let gpu = common::gpu();
    for cell in Cell::ALL {
        let config = LstmConfig {
            cell,
            linear_before_reset: cell == Cell::Gru,
            input_size: 3,
            hidden_size: 5,
            num_layers: 2,
            direction: Direction::Bidirectional,
            ..LstmConfig::default()
        };
        let weights = LstmWeights::random(&config, 7).unwrap();
        let x = common::random_tensor(vec![4, 3, 3], 1.0, 8);
        let initial = wgpu_lstm::State {
            h: common::random_tensor(vec![4, 3, 5], 1.0, 9),
            c: common::random_tensor(vec![4, 3, config.cell_state_size()], 1.0, 10),
        };
        let cpu = CpuLstm::new(&config, &weights).unwrap();
        let reference = cpu
            .forward_with_lens(&x, Some(&initial), Some(&[4, 2, 3]))
            .unwrap();
        let mut engines: Vec<Box<dyn Fn(Option<usize>) -> wgpu_lstm::Output>> = vec![Box::new(|chunk| {
            let lens = [4, 0, 3];
            match chunk {
                None => cpu.forward_with_lens(&x, Some(&initial), Some(&lens)).unwrap(),
                Some(n) => {
                    wgpu_lstm::LstmForward::forward_chunked(&cpu, &x, Some(&initial), Some(&lens), n).unwrap()
                }
            }
        })];
        if let Some(ctx) = &gpu {
            let engine = wgpu_lstm::Lstm::new(&ctx.device, &ctx.queue, &config, &weights).unwrap();
            let (x, initial) = (x.clone(), initial.clone());
            engines.push(Box::new(move |chunk| {
                let lens = [4, 0, 3];
                match chunk {
                    None => engine.forward_with_lens(&x, Some(&initial), Some(&lens)).unwrap(),
                    Some(n) => {
                        wgpu_lstm::LstmForward::forward_chunked(&engine, &x, Some(&initial), Some(&lens), n)
                            .unwrap()
                    }
                }
            }));
        }
        for (e, run) in engines.iter().enumerate() {
            // One-shot only: streaming a bidirectional layer in chunks changes its reverse part.
            let out = run(None);
            let (y, h_n) = (out.y.data(), out.h_n.data());
            let width = 2 * 5;
            for t in 0..4 {
                assert!(
                    y[(t * 3 + 1) * width..][..width].iter().all(|&v| v == 0.0),
                    "{cell} {e} Y row {t}"
                );
                // Sequence 0 is as it was with lengths that keep it whole.
                for (a, b) in y[t * 3 * width..][..width]
                    .iter()
                    .zip(&reference.y.data()[t * 3 * width..][..width])
                {
                    assert!((a - b).abs() < common::TOLERANCE, "{cell} {e}: {a} vs {b}");
                }
            }
            for slot in 0..4 {
                assert!(
                    h_n[(slot * 3 + 1) * 5..][..5].iter().all(|&v| v == 0.0),
                    "{cell} {e} h_n"
                );
            }
            let c = config.cell_state_size();
            for slot in 0..4 {
                assert!(
                    out.c_n.data()[(slot * 3 + 1) * c..][..c]
                        .iter()
                        .all(|&v| v == 0.0),
                    "{cell} {e} c_n"
                );
            }
            // The chunked forward clears the same states.
            let chunked = run(Some(3));
            assert!(
                chunked.h_n.data()[5..10].iter().all(|&v| v == 0.0),
                "{cell} {e} chunked h_n"
            );
        }
    }
}
