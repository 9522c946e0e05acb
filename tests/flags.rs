//! The command-line features a test audit found untested: usage errors' exit status, `run
//! --weights-precision f16` and `--backend`, `info --weights` on a `.safetensors` file, `bench
//! --all-variants`, `report` on a report of schema `/1`, `demo`'s flags, `scripts/gpu-report.sh`,
//! and `Error::HostAllocation`.

mod common;

use std::path::Path;
use std::process::Output;

use common::{bin, golden};
use wgpu_lstm::{Error, LstmConfig, LstmWeights, Tensor};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `run` on the two-layer bidirectional golden case into `out`, with `extra` flags.
fn run(out: &Path, extra: &[&str]) -> Output {
    let dir = golden("pt_two_layer_bidir");
    bin()
        .arg("run")
        .arg("--weights")
        .arg(dir.join("weights.safetensors"))
        .arg("--input")
        .arg(dir.join("x.npy"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn y(out: &Path) -> Tensor {
    Tensor::read_npy(&out.join("y.npy")).unwrap()
}

/// An unknown flag or a malformed value is bad input like any other: exit status 1 with an
/// `error:` line, as the README says (not the argument parser's 2); help exits 0.
#[test]
fn usage_errors_exit_with_status_1() {
    for args in [
        vec!["run", "--no-such-flag"],
        vec!["conform", "--cases", "many"],
        vec!["bench", "--weights-precision", "f8"],
        vec!["no-such-command"],
    ] {
        let o = bin().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
    let o = bin().arg("--help").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Usage: wgpu-lstm"));
}

/// `--weights-precision f16` rounds the weights: the GPU and the CPU agree with each other on the
/// rounded weights, and differ from the f32 run by f16's rounding.
#[test]
fn run_weights_precision_f16_rounds_the_weights() {
    if common::gpu().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let [gpu16, cpu16, gpu32] = ["gpu16", "cpu16", "gpu32"].map(|d| tmp.path().join(d));
    for (out, extra) in [
        (&gpu16, &["--weights-precision", "f16"][..]),
        (&cpu16, &["--weights-precision", "f16", "--device", "cpu"][..]),
        (&gpu32, &[][..]),
    ] {
        let o = run(out, extra);
        assert!(o.status.success(), "{extra:?}: {}", text(&o));
    }
    let same = y(&gpu16).max_abs_diff(&y(&cpu16)).unwrap();
    assert!(same <= common::TOLERANCE, "f16 GPU and CPU differ by {same:e}");
    let rounding = y(&gpu16).max_abs_diff(&y(&gpu32)).unwrap();
    assert!(
        rounding > 1e-5,
        "f16 weights changed y by only {rounding:e}: were they rounded?"
    );
}

/// `--backend` picks the backend: Vulkan and GL (both here in CI) give the CPU's result, and a
/// backend this machine lacks is one clear error.
#[test]
fn run_backend_picks_the_backend() {
    if common::gpu().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cpu = tmp.path().join("cpu");
    assert!(run(&cpu, &["--device", "cpu"]).status.success());
    for backend in ["vulkan", "gl"] {
        let probe = bin().args(["info", "--backend", backend]).output().unwrap();
        if !probe.status.success() && std::env::var_os("CI").is_none() {
            eprintln!("SKIPPING --backend {backend}: no such adapter here");
            continue;
        }
        let out = tmp.path().join(backend);
        let o = run(&out, &["--backend", backend]);
        assert!(o.status.success(), "{backend}: {}", text(&o));
        let err = y(&out).max_abs_diff(&y(&cpu)).unwrap();
        assert!(err <= common::TOLERANCE, "{backend}: {err:e}");
    }
    #[cfg(target_os = "linux")]
    {
        let out = tmp.path().join("metal");
        let o = run(&out, &["--backend", "metal"]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("error: ") && err.lines().count() == 1, "{err}");
        assert!(!out.exists(), "a failed run left {}", out.display());
    }
}

/// `info --weights` on a `.safetensors` file names its convention and sizes.
#[test]
fn info_describes_a_safetensors_file() {
    let weights = golden("pt_two_layer_bidir").join("weights.safetensors");
    let o = bin().arg("info").arg("--weights").arg(&weights).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", text(&o));
    let (w, convention) = LstmWeights::load(&weights, None).unwrap();
    let config = w.config(Default::default());
    assert!(
        out.contains(&format!(".safetensors, {} convention", convention.name())),
        "{out}"
    );
    let sizes = format!(
        "{} layer(s), direction {:?}, hidden_size {}, input_size {}",
        config.num_layers, config.direction, config.hidden_size, config.input_size
    );
    assert!(out.contains(&sizes), "{sizes} in\n{out}");
}

/// `bench --all-variants` times one shape with each variant combination, every step and GEMM
/// variant among them, and says which ran.
#[test]
fn bench_all_variants_times_every_variant() {
    if common::gpu().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("variants.json");
    let o = bin()
        .args([
            "bench",
            "--all-variants",
            "--batch",
            "3",
            "--seq",
            "4",
            "--input",
            "5",
            "--hidden",
            "6",
            "--reps",
            "1",
            "--warmup",
            "0",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let ran: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["variant"].as_str().unwrap())
        .collect();
    assert!(ran.len() >= 10, "{ran:?}");
    let sets: std::collections::BTreeSet<&str> = ran.iter().copied().collect();
    assert_eq!(sets.len(), ran.len(), "a combination timed twice: {ran:?}");
    for step in wgpu_lstm::gpu::StepVariant::ALL {
        assert!(
            ran.iter().any(|v| v.contains(&step.name())),
            "{} in {ran:?}",
            step.name()
        );
    }
    for gemm in wgpu_lstm::gpu::GemmVariant::ALL {
        assert!(
            ran.iter().any(|v| v.contains(&gemm.name())),
            "{} in {ran:?}",
            gemm.name()
        );
    }
}

/// `report` reads reports of schema wgpu-lstm-bench/1 (results without the fields /2 added)
/// beside /2 ones.
#[test]
fn report_reads_schema_1() {
    if common::gpu().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let new = tmp.path().join("new.json");
    let o = bin()
        .args([
            "bench", "--batch", "2", "--seq", "3", "--input", "4", "--hidden", "5", "--reps", "1", "--json",
        ])
        .arg(&new)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&new).unwrap()).unwrap();
    report["schema"] = "wgpu-lstm-bench/1".into();
    for result in report["results"].as_array_mut().unwrap() {
        let result = result.as_object_mut().unwrap();
        for added in [
            "max_abs_error_vs_f32",
            "autotune_ms",
            "weight_bytes",
            "weight_bytes_per_step",
        ] {
            result.remove(added);
        }
        result["shape"]
            .as_object_mut()
            .unwrap()
            .remove("weights_precision");
    }
    let old = tmp.path().join("old.json");
    std::fs::write(&old, report.to_string()).unwrap();
    let o = bin().arg("report").arg(&old).arg(&new).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", text(&o));
    // Both reports, the same timing in both columns.
    let row = out
        .lines()
        .find(|l| l.starts_with("B2 T3 I4 H5 L1"))
        .unwrap_or_else(|| panic!("{out}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(cells.len(), 3, "{row}");
    assert_eq!(cells[1], cells[2], "{row}");
    // A schema it does not read is one clear error.
    report["schema"] = "wgpu-lstm-bench/0".into();
    std::fs::write(&old, report.to_string()).unwrap();
    let o = bin().arg("report").arg(&old).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("wgpu-lstm-bench/1"),
        "{}",
        text(&o)
    );
}

/// `demo` takes every flag it lists: the cell, the shape, layers, direction, reps, seed and f16
/// weights show in what it prints.
#[test]
fn demo_takes_its_flags() {
    if common::gpu().is_none() {
        return;
    }
    let o = bin()
        .args([
            "demo",
            "--batch",
            "2",
            "--seq",
            "5",
            "--input",
            "3",
            "--hidden",
            "4",
            "--layers",
            "2",
            "--bidirectional",
            "false",
            "--reps",
            "1",
            "--seed",
            "9",
            "--weights-precision",
            "f16",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        out.contains("shape   : B=2 T=5 I=3 H=4 layers=2 forward"),
        "{out}"
    );
    assert!(
        out.contains("(f16)") && out.contains("median of 1") && out.contains(": PASS"),
        "{out}"
    );
    // The seed chooses the weights and input: another seed, another difference.
    let again = |seed: &str| {
        let o = bin()
            .args([
                "demo", "--batch", "2", "--seq", "5", "--input", "3", "--hidden", "4", "--reps", "1",
                "--seed", seed,
            ])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        out.lines()
            .find(|l| l.starts_with("max |gpu - cpu|"))
            .unwrap()
            .to_string()
    };
    assert_eq!(again("9"), again("9"));
    // --cell runs a GRU or an RNN instead.
    for cell in ["gru", "rnn"] {
        let o = bin()
            .args([
                "demo", "--cell", cell, "--batch", "2", "--seq", "5", "--input", "3", "--hidden", "4",
                "--reps", "1",
            ])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}", text(&o));
        let op = cell.to_uppercase();
        assert!(
            out.contains(&format!("bidirectional {op}")) && out.contains(": PASS"),
            "{out}"
        );
    }
}

/// `scripts/gpu-report.sh` in its quick mode writes every file it promises, and its conform run
/// passes.
#[cfg(unix)]
#[test]
fn gpu_report_script_writes_its_report() {
    if common::gpu().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    let o = std::process::Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gpu-report.sh"))
        .arg(&out)
        .env("REPORT_QUICK", "1")
        .env("WGPU_LSTM_BIN", env!("CARGO_BIN_EXE_wgpu-lstm"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    for file in [
        "info.txt",
        "conform.json",
        "bench-h128.json",
        "bench-h128-f16.json",
        "small-h256.json",
        "small-h512.json",
        "small-silero.json",
        "variants.json",
        "throughput.svg",
        "train.txt",
    ] {
        let path = out.join(file);
        assert!(
            path.metadata().is_ok_and(|m| m.len() > 0),
            "{file} missing:\n{}",
            text(&o)
        );
    }
    let conform: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("conform.json")).unwrap()).unwrap();
    assert_eq!(conform["failed"], 0);
    assert_eq!(conform["training"]["failed"], 0);
}

/// Sizes the host cannot hold are `Error::HostAllocation`, not an abort: weights of 4·H·I f32s
/// for H = I = 2²⁰ are 16 TiB.
#[test]
fn weights_beyond_the_hosts_memory_are_a_host_allocation_error() {
    let config = LstmConfig {
        input_size: 1 << 20,
        hidden_size: 1 << 20,
        ..LstmConfig::default()
    };
    match LstmWeights::random(&config, 0) {
        Err(e @ Error::HostAllocation { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("bytes") || message.contains("memory"),
                "{message}"
            );
        }
        other => panic!("expected a host allocation error, got {:?}", other.map(|_| ())),
    }
}
