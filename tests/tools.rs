//! The hardware-judging tools: `bench` (table, JSON that validates against
//! docs/bench-report.schema.json, structural counters), `report` (table and SVG plot) and
//! `conform` (per-case lines, the closing `N passed, M failed`, exit status, JSON).

mod common;

use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wgpu-lstm"))
}

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

#[test]
fn conform_prints_each_case_and_the_summary_and_writes_json() {
    if common::gpu().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("conform.json");
    let o = bin()
        .args(["conform", "--cases", "6", "--seed", "11", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("case ") && l.contains("PASS worst error"))
            .count(),
        6,
        "{out}"
    );
    assert_eq!(out.lines().last(), Some("6 passed, 0 failed"));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["passed"], 6);
    assert_eq!(report["cases"].as_array().unwrap().len(), 6);
}

#[test]
fn conform_can_run_every_kernel_variant() {
    if common::gpu().is_none() {
        return;
    }
    // Seed 5 is a two-layer unidirectional stack (wavefront variants apply), seed 6 a
    // bidirectional one (they do not).
    let o = bin()
        .args(["conform", "--cases", "2", "--seed", "5", "--all-variants"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    let mut runs = 0;
    let cases = [5, 6].map(wgpu_lstm::conform::ConformCase::random);
    for v in wgpu_lstm::gpu::Variants::all() {
        let expected = cases.iter().filter(|c| v.effective(&c.config) == v).count();
        assert_eq!(out.matches(&format!("[{v}]")).count(), expected, "{v} in\n{out}");
        runs += expected;
    }
    assert!(
        runs > wgpu_lstm::gpu::Variants::all().len(),
        "both cases run most variants"
    );
    assert_eq!(
        out.lines().last(),
        Some(format!("{runs} passed, 0 failed").as_str())
    );
}

/// A unidirectional stack benchmarks under either schedule, named in the kernels column with its
/// dispatch count: as a wavefront layer 0's input projection and T + L − 1 steps, layer by layer
/// L·(1 + T).
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
    assert_eq!(saved["schema"], "wgpu-lstm-tuning/2");
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
