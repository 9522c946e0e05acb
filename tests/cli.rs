//! The `wgpu-lstm` command: `run` round trips on the golden files (GPU and CPU), `info`, `demo`,
//! and every bad-input path (one line on stderr, non-zero exit, no output files left behind).

mod common;

use common::{bin, golden};

use std::path::{Path, PathBuf};
use std::process::Output;

use npyz::WriterBuilder;
use wgpu_lstm::Tensor;

/// `run` arguments for a golden case.
fn run_args(dir: &Path) -> Vec<String> {
    let mut a = vec![
        "run".to_string(),
        "--weights".into(),
        dir.join("weights.safetensors").display().to_string(),
    ];
    a.extend(["--input".into(), dir.join("x.npy").display().to_string()]);
    for (flag, file) in [("--h0", "h0.npy"), ("--c0", "c0.npy"), ("--seq-lens", "lens.npy")] {
        if dir.join(file).exists() {
            a.extend([flag.into(), dir.join(file).display().to_string()]);
        }
    }
    a.extend(
        std::fs::read_to_string(dir.join("args"))
            .unwrap()
            .split_whitespace()
            .map(String::from),
    );
    a
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn run_golden(device: &str) {
    for dir in common::golden_cases() {
        let out = tempfile::tempdir().unwrap();
        let o = bin()
            .args(run_args(&dir))
            .args(["--device", device, "--out"])
            .arg(out.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}: {}", dir.display(), stderr(&o));
        let is_gru_or_rnn = ["gru", "rnn"].iter().any(|c| dir.to_string_lossy().contains(c));
        assert_eq!(
            out.path().join("c_n.npy").exists(),
            !is_gru_or_rnn,
            "{}",
            dir.display()
        );
        for name in ["y", "h_n", "c_n"] {
            let expected_path = dir.join(format!("expected_{name}.npy"));
            if !expected_path.exists() {
                continue; // the ONNX backend cases give only some outputs
            }
            let got = Tensor::read_npy(&out.path().join(format!("{name}.npy"))).unwrap();
            let expected = Tensor::read_npy(&expected_path).unwrap();
            common::assert_close_scaled(
                &format!("{} {device} {name}", dir.file_name().unwrap().to_string_lossy()),
                &got,
                &expected,
                common::TOLERANCE,
            );
        }
    }
}

#[test]
fn run_matches_outside_implementations_on_the_gpu() {
    if common::gpu().is_none() {
        return;
    }
    run_golden("gpu");
}

/// `run --tune-cache` saves the autotune's choices and the next run loads them.
#[test]
fn run_keeps_autotune_choices_in_a_tune_cache() {
    if common::gpu().is_none() {
        return;
    }
    let dir = common::golden_cases().into_iter().next().expect("a golden case");
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("tuning.json");
    let run = || {
        bin()
            .args(run_args(&dir))
            .args(["--out"])
            .arg(tmp.path().join("out"))
            .arg("--tune-cache")
            .arg(&cache)
            .output()
            .unwrap()
    };
    // The first run times and saves both choices (GEMM, step); the second loads them.
    for expected in ["tune cache: 0 choices", "tune cache: 2 choices"] {
        let o = run();
        assert!(
            o.status.success() && stderr(&o).contains(expected),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn run_matches_outside_implementations_on_the_cpu() {
    run_golden("cpu");
}

/// Run a failing command: it must exit non-zero with one `error:` line and leave `out` absent.
fn expect_failure(args: &[String], out: &Path, needle: &str) {
    let o = bin().args(args).arg("--out").arg(out).output().unwrap();
    let err = stderr(&o);
    assert!(!o.status.success(), "{args:?} succeeded");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: expected one line, got {err:?}");
    assert!(lines[0].starts_with("error: "), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    assert!(!out.exists(), "{args:?} left {} behind", out.display());
}

fn write_npy<T: npyz::Serialize + npyz::AutoSerialize + Copy>(path: &Path, shape: &[u64], data: &[T]) {
    let mut file = std::fs::File::create(path).unwrap();
    let mut w = npyz::WriteOptions::<T>::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut file)
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
}

#[test]
fn bad_input_gets_one_clear_line_and_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let case = golden("pt_batch_first_lens_f16_prefix"); // X [4,5,4], state [4,4,6], lens [4]
    let base = run_args(&case);
    let with = |flag: &str, value: &Path| -> Vec<String> {
        let mut a = base.clone();
        let i = a.iter().position(|x| x == flag).unwrap();
        a[i + 1] = value.display().to_string();
        a
    };
    let cpu = |mut a: Vec<String>| {
        a.extend(["--device".into(), "cpu".into()]);
        a
    };

    // Missing and unreadable files.
    expect_failure(
        &cpu(with("--weights", &tmp.path().join("nope.safetensors"))),
        &out,
        "nope.safetensors",
    );
    let junk = tmp.path().join("junk.safetensors");
    std::fs::write(&junk, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}").unwrap();
    expect_failure(&cpu(with("--weights", &junk)), &out, "safetensors");
    let junk_npy = tmp.path().join("junk.npy");
    std::fs::write(&junk_npy, b"definitely not npy").unwrap();
    expect_failure(&cpu(with("--input", &junk_npy)), &out, "junk.npy");

    // Wrong dtype and shape.
    let ints = tmp.path().join("ints.npy");
    write_npy(&ints, &[5, 4, 4], &vec![1i32; 80]);
    expect_failure(&cpu(with("--input", &ints)), &out, "dtype");
    let wide = tmp.path().join("wide.npy");
    write_npy(&wide, &[4, 5, 3], &vec![0f32; 60]);
    expect_failure(&cpu(with("--input", &wide)), &out, "I = 4");

    // Inconsistent sizes: h0 for another batch.
    let h0 = tmp.path().join("h0.npy");
    write_npy(&h0, &[4, 3, 6], &vec![0f32; 72]);
    expect_failure(&cpu(with("--h0", &h0)), &out, "[4, 4, 6]");

    // Lengths out of range, of the wrong count, and of the wrong dtype.
    for (name, lens, needle) in [
        ("long.npy", vec![6i64, 1, 1, 1], "length 6 is outside 0..=5"),
        ("few.npy", vec![5i64, 1], "seq_lens: expected shape [4], got [2]"),
    ] {
        let p = tmp.path().join(name);
        write_npy(&p, &[lens.len() as u64], &lens);
        expect_failure(&cpu(with("--seq-lens", &p)), &out, needle);
    }
    let float_lens = tmp.path().join("flens.npy");
    write_npy(&float_lens, &[4], &[5f32, 1.0, 1.0, 1.0]);
    expect_failure(&cpu(with("--seq-lens", &float_lens)), &out, "int32 or int64");

    // Weights of the other convention than asked for.
    let mut a = cpu(base.clone());
    a.extend(["--convention".into(), "onnx".into()]);
    expect_failure(&a, &out, "'W'");

    // No adapter: the error says what to do.
    let mut a = base.clone();
    a.extend([
        "--device".into(),
        "gpu".into(),
        "--adapter".into(),
        "no-such-adapter-anywhere".into(),
    ]);
    expect_failure(&a, &out, "--device cpu");
}

#[test]
fn failure_after_success_keeps_the_earlier_outputs_and_leaves_no_temporaries() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let case = golden("onnx_bidir_lens");
    let mut good = run_args(&case);
    good.extend([
        "--device".into(),
        "cpu".into(),
        "--out".into(),
        out.display().to_string(),
    ]);
    assert!(bin().args(&good).status().unwrap().success());
    let before = std::fs::read(out.join("y.npy")).unwrap();
    let mut bad = good.clone();
    let i = bad.iter().position(|x| x == "--input").unwrap();
    bad[i + 1] = tmp.path().join("missing.npy").display().to_string();
    assert!(!bin().args(&bad).status().unwrap().success());
    assert_eq!(std::fs::read(out.join("y.npy")).unwrap(), before);
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn info_lists_adapters_and_the_choice() {
    let o = bin().arg("info").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("selected:"), "{text}");
    if common::gpu().is_some() {
        assert!(text.contains("max_storage_buffer_binding_size"), "{text}");
        assert!(!text.contains("selected: none"), "{text}");
    }
}

#[test]
fn demo_compares_gpu_and_cpu() {
    if common::gpu().is_none() {
        return;
    }
    let o = bin()
        .args([
            "demo", "--batch", "3", "--seq", "9", "--input", "5", "--hidden", "33", "--layers", "2",
            "--reps", "1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}{}", stderr(&o));
    for needle in [
        "adapter",
        "B=3 T=9 I=5 H=33",
        "gpu",
        "cpu",
        "max |gpu - cpu|",
        "PASS",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[test]
fn bad_attribute_values_are_refused_not_defaulted() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let one_dir = {
        let mut a = run_args(&golden("onnx_input_forget_lens")); // forward, D = 1
        a.extend(["--device".into(), "cpu".into()]);
        a
    };
    let two_dir = {
        let mut a = run_args(&golden("onnx_bidir_lens")); // bidirectional, D = 2
        a.extend(["--device".into(), "cpu".into()]);
        a
    };
    let with = |base: &[String], extra: &[&str]| -> Vec<String> {
        let mut a = base.to_vec();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    expect_failure(
        &with(&one_dir, &["--activations", "Sigmoid,Tanh,Swish"]),
        &out,
        "unknown activation 'Swish'",
    );
    expect_failure(
        &with(&one_dir, &["--activations", "Sigmoid,Tanh"]),
        &out,
        "2 given",
    );
    expect_failure(
        &with(&two_dir, &["--activations", "Sigmoid,Tanh,Tanh"]),
        &out,
        "takes 6 (f, g, h per direction)",
    );
    expect_failure(
        &with(
            &one_dir,
            &[
                "--activations",
                "LeakyRelu,Tanh,Tanh",
                "--activation-alpha",
                "0.1,0.2",
            ],
        ),
        &out,
        "1 more value(s) than the activations consume",
    );
    expect_failure(
        &with(&one_dir, &["--activation-beta", "0.5"]),
        &out,
        "activation_beta",
    );
    expect_failure(
        &with(&one_dir, &["--activations", "Sigmoid,ScaledTanh,Tanh"]),
        &out,
        "ScaledTanh",
    );
    expect_failure(&with(&one_dir, &["--clip", "0"]), &out, "clip");
    expect_failure(&with(&one_dir, &["--clip", "-1"]), &out, "clip");
    expect_failure(&with(&one_dir, &["--clip", "NaN"]), &out, "clip");
    expect_failure(
        &with(&two_dir, &["--direction", "reverse"]),
        &out,
        "Reverse needs weights with 1 direction(s)",
    );
    expect_failure(
        &with(&one_dir, &["--direction", "bidirectional"]),
        &out,
        "Bidirectional needs weights with 2",
    );

    // P of the wrong shape, and a projection as large as the hidden size.
    let weights = |tensors: Vec<(&str, Vec<usize>)>| -> PathBuf {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .into_iter()
            .map(|(k, s)| {
                (
                    k.to_string(),
                    s.clone(),
                    vec![0u8; 4 * s.iter().product::<usize>()],
                )
            })
            .collect();
        let views: Vec<(String, safetensors::tensor::TensorView)> = bytes
            .iter()
            .map(|(k, s, b)| {
                (
                    k.clone(),
                    safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap(),
                )
            })
            .collect();
        let path = tmp.path().join(format!("w{}.safetensors", bytes.len()));
        std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
        path
    };
    let x = tmp.path().join("x.npy");
    write_npy(&x, &[2, 1, 3], &[0f32; 6]);
    let run_with = |w: &Path| -> Vec<String> {
        [
            "run",
            "--device",
            "cpu",
            "--weights",
            &w.display().to_string(),
            "--input",
            &x.display().to_string(),
        ]
        .map(String::from)
        .to_vec()
    };
    let bad_p = weights(vec![
        ("W", vec![1, 8, 3]),
        ("R", vec![1, 8, 2]),
        ("P", vec![1, 4]),
    ]);
    expect_failure(
        &run_with(&bad_p),
        &out,
        "tensor 'P': expected shape [1, 6], got [1, 4]",
    );
    let proj_too_big = weights(vec![
        ("weight_ih_l0", vec![8, 3]),
        ("weight_hh_l0", vec![8, 2]),
        ("weight_hr_l0", vec![2, 2]),
        ("bias_ih_l0", vec![8]),
        ("bias_hh_l0", vec![8]),
    ]);
    expect_failure(&run_with(&proj_too_big), &out, "proj_size");
}

#[test]
fn chunked_run_equals_the_one_shot_run() {
    let tmp = tempfile::tempdir().unwrap();
    // Unidirectional: any chunk size. Bidirectional: chunks of at least T (the reverse direction
    // runs within each chunk).
    for (case, chunks) in [
        ("pt_three_layer_no_bias", vec![1, 3, 8]),
        ("onnx_bidir_lens", vec![6, 50]),
    ] {
        for device in ["cpu", "gpu"] {
            if device == "gpu" && common::gpu().is_none() {
                continue;
            }
            let run = |extra: &[String], out: &Path| {
                let o = bin()
                    .args(run_args(&golden(case)))
                    .args(["--device", device])
                    .args(extra)
                    .arg("--out")
                    .arg(out)
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{case} {device} {extra:?}: {}", stderr(&o));
            };
            let whole = tmp.path().join(format!("{case}-{device}-whole"));
            run(&[], &whole);
            for chunk in &chunks {
                let out = tmp.path().join(format!("{case}-{device}-{chunk}"));
                run(&["--chunk".into(), chunk.to_string()], &out);
                for name in ["y.npy", "h_n.npy", "c_n.npy"] {
                    let got = Tensor::read_npy(&out.join(name)).unwrap();
                    let expected = Tensor::read_npy(&whole.join(name)).unwrap();
                    common::assert_close(
                        &format!("{case} {device} chunk {chunk} {name}"),
                        &got,
                        &expected,
                        common::TOLERANCE,
                    );
                }
            }
        }
    }
    let mut zero = run_args(&golden("pt_two_layer_bidir"));
    zero.extend(["--device".into(), "cpu".into(), "--chunk".into(), "0".into()]);
    expect_failure(&zero, &tmp.path().join("zero"), "--chunk");
}

/// Output into a pipe its reader closed (`wgpu-lstm info … | head`) ends the command by SIGPIPE,
/// as Unix tools end, not with a panic.
#[cfg(unix)]
#[test]
fn a_closed_output_pipe_ends_the_command_without_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let mut child = common::bin()
        .arg("info")
        .arg("--weights")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/onnx/silero/silero_vad.onnx"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        o.status.success() || o.status.signal() == Some(libc::SIGPIPE),
        "{:?}: {stderr}",
        o.status
    );
}
