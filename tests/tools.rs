//! The hardware-judging tools: `bench` (table, JSON that validates against
//! docs/bench-report.schema.json, structural counters), `report` (table and SVG plot) and
//! `conform` (a line per case and run, the summary per variant, the closing count, exit status,
//! JSON, the shader override).

mod common;

use common::bin;

use std::path::Path;

fn schema() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/bench-report.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn bench_writes_a_report_that_validates_and_report_compares_them() {
    if common::gpu().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("a.json");
    let o = bin()
        .args([
            "bench", "--batch", "1,3", "--seq", "5", "--input", "7", "--hidden", "9", "--layers", "2",
        ])
        .args(["--bidirectional", "--warmup", "1", "--reps", "2", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    for needle in [
        "adapter:",
        "median ms",
        "GFLOP/s",
        "B1 T5 I7 H9 L2 bi",
        "B3 T5 I7 H9 L2 bi",
        "/1/1",
        "kernels",
        "gemm-",
        "step-",
    ] {
        assert!(out.contains(needle), "{needle} missing from\n{out}");
    }
    assert!(
        !out.contains('\u{1b}'),
        "no progress bar escape codes when stdout is not a terminal"
    );

    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "report does not validate: {errors:?}");
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        // Two bidirectional layers of T = 5 steps, with the kernels the report names; one
        // submit, one readback.
        let kernels = r["variant"].as_str().unwrap();
        let dispatches = if kernels.contains("step-sequence") { 4 } else { 12 };
        assert_eq!(r["counters"]["dispatches"], dispatches, "{kernels}");
        assert_eq!(r["counters"]["submits"], 1);
        assert_eq!(r["counters"]["readbacks"], 1);
        assert!(r["max_abs_error"].as_f64().unwrap() <= 1e-4);
        assert!(r["gflops"].as_f64().unwrap() > 0.0);
    }
    assert!(!report["machine"]["wgpu_version"].as_str().unwrap().is_empty());

    // A report that breaks the schema is caught by the same validator.
    let mut broken = report.clone();
    broken["results"][0]["counters"]["submits"] = serde_json::json!("one");
    assert!(!validator.is_valid(&broken));

    let second = tmp.path().join("b.json");
    std::fs::copy(&json, &second).unwrap();
    let svg = tmp.path().join("plot.svg");
    let o = bin()
        .arg("report")
        .arg(&json)
        .arg(&second)
        .arg("--plot")
        .arg(&svg)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("[0] ms") && out.contains("[1] ms") && out.contains("B3 T5 I7 H9 L2 bi"),
        "{out}"
    );
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg") && plot.contains("throughput") && plot.contains("B1 T5 I7 H9 L2 bi"));

    // Not a report: one clear error.
    let junk = tmp.path().join("junk.json");
    std::fs::write(&junk, "{\"schema\": \"something-else\"}").unwrap();
    let o = bin().arg("report").arg(&junk).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("error: "));
}

/// `conform` with its defaults runs a case with every kernel combination the engine could use for
/// it, one line each, then the summary per variant and the closing count; the JSON says the same.
/// Case 0 is the 3- or 4-layer unidirectional stack, so the wavefront runs too.
#[test]
fn conform_runs_every_variant_of_a_case_and_writes_json() {
    if common::gpu().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("conform.json");
    let o = bin()
        .args(["conform", "--seed", "11", "--only", "0", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    let (_, case) = &wgpu_lstm::conform::suite(1, 11, &[]).unwrap()[0];
    assert!(
        out.contains(&format!(
            "case   0 seed 11 [wavefront-3-layers] {}",
            case.describe()
        )),
        "{out}"
    );
    let expected: Vec<_> = wgpu_lstm::gpu::Variants::all()
        .into_iter()
        .filter(|v| v.effective(&case.config) == *v)
        .collect();
    assert!(expected
        .iter()
        .any(|v| v.schedule == wgpu_lstm::gpu::Schedule::Wavefront));
    for v in &expected {
        assert_eq!(
            out.matches(&format!("    PASS {v}: ")).count(),
            1,
            "{v} in\n{out}"
        );
    }
    for name in [
        "step-b1",
        "step-splitk-16x1",
        "step-sequence",
        "gemm-regblock-16x8",
        "schedule-wavefront",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(name)),
            "summary row {name}:\n{out}"
        );
    }
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with(&format!(
            "forward: {} passed, 0 failed, 0 not applicable (1 cases",
            expected.len()
        )),
        "{last}"
    );
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["schema"], "wgpu-lstm-conform/3");
    // --only checks one forward case: no training part.
    assert!(report["training"].is_null());
    assert_eq!(report["mode"], "every-variant");
    assert_eq!(report["passed"], expected.len());
    let runs = report["cases"][0]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), expected.len());
    for run in runs {
        let ratio = run["worst_ratio"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&ratio), "{run}");
    }
    let files: Vec<&str> = report["shader_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for file in [
        "step.wgsl",
        "step_splitk.wgsl",
        "input_projection.wgsl",
        "shared/cell.wgsl",
        "cells/lstm.wgsl",
    ] {
        assert!(files.contains(&file), "{file} in {files:?}");
    }
}

/// `--autotuned` runs only the autotune's pick; `--shape` adds a case after the strata.
#[test]
fn conform_checks_a_production_shape_with_the_autotuned_kernels() {
    if common::gpu().is_none() {
        return;
    }
    let strata = wgpu_lstm::conform::STRATA.len().to_string();
    let o = bin()
        .args([
            "conform",
            "--autotuned",
            "--shape",
            "3,5,20,30,2",
            "--only",
            &strata,
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains(&format!(
            "case  {strata} seed {strata} [shape] pytorch B=3 T=5 I=20 H=30 L=2"
        )),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("    PASS ")).count(),
        1,
        "{out}"
    );
    let o = bin()
        .args(["conform", "--only", "99", "--cases", "30"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("cases 0 to 29"));
}

/// The default run checks the training part after the forward: each training stratum's GPU
/// gradients tensor by tensor, the CPU backward against finite differences, both optimizers
/// against their float64 rules, and every training kernel seen to run; the JSON says the same.
#[test]
fn conform_checks_training_and_reports_the_training_kernels_that_ran() {
    if common::gpu().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("conform.json");
    let o = bin()
        .args(["conform", "--training-only", "--seed", "3", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    for (k, (name, _)) in wgpu_lstm::conform::TRAIN_STRATA.iter().enumerate() {
        assert!(out.contains(&format!("train {k} [{name}] ")), "{name}:\n{out}");
    }
    assert_eq!(out.matches("finite differences ").count(), 6, "{out}");
    assert!(
        out.contains("optimizer sgd-momentum-clipped: PASS") && out.contains("optimizer adam: PASS"),
        "{out}"
    );
    let all = wgpu_lstm::gpu::TrainKernels::all();
    assert!(
        out.contains(&format!("training kernels run: 17 of 17: {all}")),
        "{out}"
    );
    assert!(
        !out.contains("forward:"),
        "--training-only runs no forward case:\n{out}"
    );
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let training = &report["training"];
    assert_eq!(training["failed"], 0);
    assert_eq!(training["passed"], 17);
    assert_eq!(training["kernels"].as_array().unwrap().len(), 17);
    assert!(training["kernels_not_run"].as_array().unwrap().is_empty());
    for case in training["cases"].as_array().unwrap() {
        let tensors = case["tensors"].as_array().unwrap();
        // Every weight tensor (W and R at least), dx, dh0 and (an LSTM's) dc0, each with its own
        // bound.
        assert!(tensors.len() >= 4, "{case}");
        for t in tensors {
            let ratio = t["worst_ratio"].as_f64().unwrap();
            assert!(
                (0.0..=1.0).contains(&ratio) && t["atol"].as_f64().unwrap() > 0.0,
                "{t}"
            );
        }
    }
    // --forward-only leaves the training part out.
    let o = bin()
        .args(["conform", "--forward-only", "--cases", "1", "--only", "2"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && !out.contains("training"), "{out}");
}

/// `--variants` forces one combination on every case, and the report shows it ran (a forced
/// combination the engine silently replaced would be a failure).
#[test]
fn conform_forces_the_variants_it_is_given() {
    if common::gpu().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("conform.json");
    let o = bin()
        .args([
            "conform",
            "--variants",
            "regblock,b4",
            "--cases",
            "18",
            "--forward-only",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let cases = report["cases"].as_array().unwrap();
    // The strata and the GRU and RNN cases are always there.
    let always = wgpu_lstm::conform::STRATA.len() + 2 * wgpu_lstm::conform::CELL_CASES;
    assert_eq!(cases.len(), always.max(18));
    for case in cases {
        let runs = case["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1, "{case}");
        let ran = runs[0]["variants"].as_str().unwrap();
        // A GRU without linear_before_reset runs the sequence kernel whatever is asked for.
        let described = case["config"].as_str().unwrap();
        let step = if described.contains(" gru") && !described.contains("linear_before_reset") {
            "step-sequence"
        } else {
            "step-b4"
        };
        assert!(
            ran.starts_with(&format!("gemm-regblock-16x8 + {step} + ")),
            "{ran}"
        );
    }
}

/// The shader override loads WGSL at run time: an unchanged copy passes, and a tanh 1000 ulps off
/// (tests/mutants/25) fails the error model, on a small model.
#[test]
fn conform_catches_a_sloppy_tanh_loaded_through_the_shader_override() {
    if common::gpu().is_none() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let copy = |dir: &Path| {
        for sub in ["", "shared", "cells", "weights"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            for entry in std::fs::read_dir(root.join("shaders").join(sub)).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    std::fs::copy(&path, dir.join(sub).join(path.file_name().unwrap())).unwrap();
                }
            }
        }
    };
    let conform = |dir: &Path| {
        bin()
            .env("WGPU_LSTM_SHADER_DIR", dir)
            .args(["conform", "--autotuned", "--seed", "3", "--only", "8"])
            .output()
            .unwrap()
    };
    let clean = tmp.path().join("clean");
    copy(&clean);
    let o = conform(&clean);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));

    let mutant = tmp.path().join("mutant");
    copy(&mutant);
    let path = mutant.join("shared/activations.wgsl");
    let source = std::fs::read_to_string(&path).unwrap();
    let find = "t = (1.0 - e) / (1.0 + e);";
    assert_eq!(source.matches(find).count(), 1);
    std::fs::write(
        &path,
        source.replace(find, "t = (1.0 - e) / (1.0 + e) * 1.00012;"),
    )
    .unwrap();
    let o = conform(&mutant);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("    FAIL ") && out.contains("of the bound"), "{out}");
    // --fail-fast stops at the first failing run, in the first case of all the strata.
    let o = bin()
        .env("WGPU_LSTM_SHADER_DIR", &mutant)
        .args([
            "conform",
            "--seed",
            "3",
            "--cases",
            "1",
            "--forward-only",
            "--fail-fast",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success(), "{out}");
    assert_eq!(out.matches("    FAIL ").count(), 1, "{out}");
    let summary = out.lines().find(|l| l.starts_with("forward: ")).unwrap();
    let ran: usize = summary
        .split(" (")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        ran < wgpu_lstm::conform::STRATA.len(),
        "did not stop early: {summary}"
    );

    // A missing file is an error naming it.
    std::fs::remove_file(&path).unwrap();
    let o = conform(&mutant);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("activations.wgsl"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// `bench --streams` times a stream pool at each count on both shapes, names the real-time
/// capacity, compares a tenth of the largest pool's streams with a pool of that tenth and the
/// two ways of moving scattered streams' states, and puts the onnxruntime peer's times beside
/// its own in the same run (here a stand-in Python that prints the peer's lines, so that the
/// parsing, the ratios and the plot are checked without onnxruntime).
#[test]
fn bench_streams_reports_latency_capacity_and_k_of_n() {
    if common::gpu().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let svg = tmp.path().join("streams.svg");
    let peer = tmp.path().join("python");
    let lines: String = [1, 3, 20]
        .map(|n| format!("echo 'ort_streams N={n}: per-stream p50 0.5 p99 0.9 batched p50 0.25 p99 0.3'\n"))
        .concat();
    std::fs::write(&peer, format!("#!/bin/sh\n{lines}")).unwrap();
    std::fs::set_permissions(&peer, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let o = bin()
        .args([
            "bench",
            "--streams",
            "1,3,20",
            "--warmup",
            "0",
            "--reps",
            "2",
            "--plot",
        ])
        .arg(&svg)
        .arg("--ort-python")
        .arg(&peer)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    for shape in ["silero-vad", "default"] {
        for n in [1, 3, 20] {
            assert!(
                out.contains(&format!(" N={n}: p50 ")) && out.contains(&format!("streams {shape} lstm")),
                "{out}"
            );
        }
        assert!(out.contains(&format!("real time {shape}: ")), "{out}");
        assert!(
            out.contains(&format!("k of N {shape}: 2 of 20 open streams")),
            "{out}"
        );
        assert!(
            out.contains(&format!("gather {shape}: 2 of 20 streams in every 10th slot"))
                && out.contains("index kernel"),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "onnxruntime {shape} N=20: one run per stream p50 0.500 ms (p99 0.900), all N batched p50 0.250 ms"
            )),
            "{out}"
        );
    }
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(
        plot.starts_with("<svg")
            && plot.contains("silero-vad p99")
            && plot.contains("onnxruntime batched, silero-vad")
            && plot.contains("32 ms"),
        "{plot}"
    );
    // A peer that fails, or prints nothing the bench can read, is one clear error.
    for (script, needle) in [
        ("echo broken >&2; exit 3", "broken"),
        ("echo hello", "no time per count"),
    ] {
        std::fs::write(&peer, format!("#!/bin/sh\n{script}\n")).unwrap();
        let o = bin()
            .args([
                "bench",
                "--streams",
                "1",
                "--warmup",
                "0",
                "--reps",
                "1",
                "--ort-python",
            ])
            .arg(&peer)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("--ort-python") && err.contains(needle),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `bench --ort-python` times onnxruntime's kernel of each one-layer shape in the same run (a
/// stand-in peer here, which prints its arguments' product as its time), beside the forward and
/// in the JSON; a failing peer is one clear error. The autotune's timings are printed with it.
#[test]
fn bench_puts_the_onnxruntime_peer_beside_each_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let peer = tmp.path().join("python");
    // `python -c SCRIPT CELL B T I H`: the stand-in echoes B·T as its ms.
    std::fs::write(&peer, "#!/bin/sh\necho \"ort_ms $(($4 * $5))\"\n").unwrap();
    std::fs::set_permissions(&peer, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let json = tmp.path().join("bench.json");
    let o = bin()
        .args([
            "bench", "--batch", "2", "--seq", "70", "--input", "5", "--hidden", "9", "--layers", "1,2",
        ])
        .args(["--warmup", "0", "--reps", "1", "--ort-python"])
        .arg(&peer)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("B2 T70 I5 H9 L1: onnxruntime CPU 140.000 ms"),
        "{out}"
    );
    assert!(!out.contains("L2: onnxruntime"), "{out}");
    assert!(
        out.contains("B2 T70 I5 H9 L1: the autotune timed (ms) step-b1 "),
        "{out}"
    );
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let results = report["results"].as_array().unwrap();
    assert_eq!(results[0]["ort_ms"], 140.0);
    assert!(results[1]["ort_ms"].is_null());
    assert!(!results[0]["autotune_times_ms"].as_array().unwrap().is_empty());

    std::fs::write(&peer, "#!/bin/sh\necho broken >&2; exit 3\n").unwrap();
    let o = bin()
        .args([
            "bench", "--batch", "1", "--seq", "3", "--input", "5", "--hidden", "9",
        ])
        .args(["--warmup", "0", "--reps", "1", "--ort-python"])
        .arg(&peer)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success()
            && err.contains("--ort-python")
            && err.contains("broken")
            && err.lines().count() == 1,
        "{err}"
    );
}

/// A unidirectional stack benchmarks under either schedule, named in the kernels column with its
/// dispatch count: as a wavefront layer 0's input projection and T + L − 1 steps, layer by layer
/// L·(1 + T).
/// `bench --cell gru` and `--cell rnn` time those cells, with the LSTM's dispatches, submits and
/// readbacks at the same shape and kernels, and their reports validate and say the cell.
#[test]
fn bench_times_gru_and_rnn_with_the_lstm_s_dispatches() {
    if common::gpu().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let run = |cell: &str| -> serde_json::Value {
        let json = tmp.path().join(format!("{cell}.json"));
        let o = bin()
            .args([
                "bench", "--cell", cell, "--batch", "3", "--seq", "6", "--input", "7", "--hidden", "9",
            ])
            .args(["--layers", "2", "--bidirectional", "--warmup", "0", "--reps", "1"])
            .args(["--variants", "regblock,b1", "--json"])
            .arg(&json)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
        if cell != "lstm" {
            assert!(
                out.contains(&format!("{} B3 T6 I7 H9 L2 bi", cell.to_uppercase())),
                "{out}"
            );
        }
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let validator = jsonschema::validator_for(&schema()).unwrap();
        assert!(
            validator.is_valid(&report),
            "{cell}: the report does not validate"
        );
        report["results"][0].clone()
    };
    let lstm = run("lstm");
    for cell in ["gru", "rnn"] {
        let r = run(cell);
        assert_eq!(r["shape"]["cell"], cell);
        for counter in ["dispatches", "submits", "readbacks"] {
            assert_eq!(
                r["counters"][counter], lstm["counters"][counter],
                "{cell} {counter}"
            );
        }
        // No c_n comes back.
        assert!(r["counters"]["bytes_downloaded"].as_u64() < lstm["counters"]["bytes_downloaded"].as_u64());
        assert!(r["max_abs_error"].as_f64().unwrap() <= 1e-4, "{cell}");
    }
}

#[test]
fn bench_shows_the_schedule_of_a_unidirectional_stack() {
    if common::gpu().is_none() {
        return;
    }
    for (schedule, counters) in [("wavefront", " 9/1/1 "), ("layers", " 21/1/1 ")] {
        let o = bin()
            .args([
                "bench", "--batch", "2", "--seq", "6", "--input", "5", "--hidden", "9",
            ])
            .args(["--layers", "3", "--warmup", "0", "--reps", "1", "--variants"])
            .arg(format!("regblock,b1,{schedule}"))
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
        let row = out
            .lines()
            .find(|l| l.starts_with("B2 T6 I5 H9 L3"))
            .unwrap_or_else(|| panic!("no row in\n{out}"));
        assert!(
            row.contains(counters) && row.ends_with(&format!("+ {schedule}")),
            "{row}"
        );
    }
}

/// `--tune-cache` keeps the autotune's choices between runs: the second run loads what the first
/// saved; a file that is not a tuning file is refused with one line and left as it was.
#[test]
fn bench_keeps_autotune_choices_in_a_tune_cache() {
    if common::gpu().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("tuning.json");
    let bench = |cache: &std::path::Path| {
        bin()
            .args([
                "bench", "--batch", "2", "--seq", "4", "--input", "5", "--hidden", "9",
            ])
            .args(["--warmup", "0", "--reps", "1", "--tune-cache"])
            .arg(cache)
            .output()
            .unwrap()
    };
    let first = bench(&cache);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(err.contains("tune cache: 0 choices"), "{err}");
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    assert_eq!(saved["schema"], "wgpu-lstm-tuning/3");
    let second = bench(&cache);
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        second.status.success() && err.contains("tune cache: 2 choices"),
        "{err}"
    );

    let foreign = tmp.path().join("notes.json");
    std::fs::write(&foreign, "[1, 2, 3]").unwrap();
    let o = bench(&foreign);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.starts_with("error: ") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "[1, 2, 3]");
}

#[test]
fn bench_and_conform_refuse_bad_arguments() {
    for args in [
        vec!["bench", "--reps", "0"],
        vec!["bench", "--hidden", "0"],
        vec!["conform", "--cases", "0"],
        vec!["bench", "--adapter", "no-such-adapter-anywhere"],
        vec!["bench", "--variants", "fast,b9"],
    ] {
        let o = bin().args(&args).output().unwrap();
        assert!(!o.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.starts_with("error: ") && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}
