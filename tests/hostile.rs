//! Hostile input: files whose headers lie, special files, endless files, cancelled futures,
//! non-finite options, sizes far beyond any device, concurrent runs into one output directory.
//! Nothing panics or hangs, every failure is one clear error, and `--out` always holds a
//! complete set. Each test is a reproducer of a defect the engine once had.

mod common;

use common::{bin, npy};

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Output as ProcessOutput, Stdio};
use std::time::{Duration, Instant};

use wgpu_lstm::{
    chunk_lengths, Convention, CpuLstm, Direction, Error, Layout, Lstm, LstmConfig, LstmWeights, Tensor,
};

fn golden(case: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(case)
        .join(file)
}

/// Run the binary, failing the test if it has not finished within `limit`.
fn run_within(mut command: Command, limit: Duration) -> ProcessOutput {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{command:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Exit status 1 (not a panic's 101 or an abort's 134) and one `error:` line on stderr.
fn assert_one_clear_error(what: &str, out: &ProcessOutput) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    errors[0].to_string()
}

/// A 128-byte `.npy` whose shape's byte count wraps u64 and which holds no data.
#[test]
fn a_shape_that_wraps_u64_is_one_error_on_every_path() {
    let tmp = tempfile::tempdir().unwrap();
    let x = tmp.path().join("x.npy");
    let bytes = npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4, 16), }",
        &[],
    );
    assert_eq!(bytes.len(), 128);
    std::fs::write(&x, &bytes).unwrap();
    assert!(matches!(Tensor::read_npy(&x), Err(Error::Format { .. })));
    let weights = golden("pt_two_layer_bidir", "weights.safetensors");
    let mut paths: Vec<Vec<&str>> = vec![vec!["--device", "cpu"], vec!["--device", "cpu", "--chunk", "2"]];
    if common::gpu().is_some() {
        paths.push(vec!["--device", "gpu"]);
        paths.push(vec!["--device", "gpu", "--chunk", "2"]);
    }
    for flags in paths {
        let out = tmp.path().join("out");
        let mut command = bin();
        command
            .arg("run")
            .arg("--weights")
            .arg(&weights)
            .arg("--input")
            .arg(&x)
            .arg("--out")
            .arg(&out)
            .args(&flags);
        let line = assert_one_clear_error(
            &format!("{flags:?}"),
            &run_within(command, Duration::from_secs(60)),
        );
        assert!(line.contains("x.npy"), "{line}");
        assert!(!out.exists(), "{flags:?}: no output");
    }
}

#[test]
fn npy_data_must_be_exactly_what_the_shape_needs() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("x.npy");
    let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    let data: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
    std::fs::write(&path, npy(dict, &data)).unwrap();
    assert_eq!(Tensor::read_npy(&path).unwrap().shape(), &[2, 3]);
    for (what, bytes) in [
        ("trailing bytes", npy(dict, &[data.clone(), vec![0; 4]].concat())),
        ("truncated data", npy(dict, &data[..20])),
        ("a header longer than the file", {
            let mut b = npy(dict, &data);
            b[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
            b
        }),
        ("no magic", b"not an npy file at all".to_vec()),
    ] {
        std::fs::write(&path, bytes).unwrap();
        match Tensor::read_npy(&path) {
            Err(Error::Format { .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
}

/// A future polled once and dropped leaves its staging buffer unmapped: the next call at that
/// shape works.
#[test]
fn a_dropped_async_forward_leaves_the_engine_usable() {
    let Some(ctx) = common::gpu() else { return };
    let cfg = LstmConfig {
        input_size: 3,
        hidden_size: 5,
        ..LstmConfig::default()
    };
    let w = LstmWeights::random(&cfg, 1).unwrap();
    let lstm = Lstm::new(&ctx.device, &ctx.queue, &cfg, &w).unwrap();
    let cpu = CpuLstm::new(&cfg, &w).unwrap();
    let x = common::random_tensor(vec![4, 2, 3], 1.0, 2);
    for round in 0..3 {
        {
            let mut future = std::pin::pin!(lstm.forward_async(&x, None, None));
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            let _ = future.as_mut().poll(&mut cx);
        }
        ctx.device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
        let got = lstm.forward(&x, None).unwrap();
        let expected = cpu.forward(&x, None).unwrap();
        assert!(
            got.max_abs_diff(&expected).unwrap() <= common::TOLERANCE,
            "round {round}"
        );
    }
    let mut state = lstm.new_state(2).unwrap();
    {
        let mut future = std::pin::pin!(lstm.forward_stream_async(&x, &mut state, None));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let _ = future.as_mut().poll(&mut cx);
    }
    ctx.device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    lstm.forward_stream(&x, &mut state, None).unwrap();
    let got = lstm.forward(&x, None).unwrap();
    let expected = cpu.forward(&x, None).unwrap();
    assert!(got.max_abs_diff(&expected).unwrap() <= common::TOLERANCE);
}

/// Special files are refused at once: no endless read of /dev/zero, no wait on a FIFO.
#[cfg(unix)]
#[test]
fn special_files_are_refused_without_reading_or_waiting() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let x = golden("pt_two_layer_bidir", "x.npy");
    let weights = golden("pt_two_layer_bidir", "weights.safetensors");
    let out = tmp.path().join("out");
    let run_on = |device: &str, weights: &Path, input: &Path| {
        let mut command = bin();
        command
            .arg("run")
            .arg("--weights")
            .arg(weights)
            .arg("--input")
            .arg(input)
            .arg("--out")
            .arg(&out)
            .args(["--device", device]);
        command
    };
    let run = |weights: &Path, input: &Path| run_on("cpu", weights, input);
    for (what, command) in [
        ("weights /dev/zero", run(Path::new("/dev/zero"), &x)),
        ("weights FIFO", run(&fifo, &x)),
        ("input FIFO", run(&weights, &fifo)),
        ("report FIFO", {
            let mut c = bin();
            c.arg("report").arg(&fifo);
            c
        }),
    ] {
        let line = assert_one_clear_error(what, &run_within(command, Duration::from_secs(30)));
        assert!(line.contains("regular file"), "{what}: {line}");
    }
    if common::gpu().is_some() {
        let mut command = run_on("gpu", &weights, &x);
        command.arg("--tune-cache").arg(&fifo);
        let line = assert_one_clear_error("tune cache FIFO", &run_within(command, Duration::from_secs(60)));
        assert!(line.contains("regular file"), "{line}");
    }
    // A file over the configured limit.
    let mut command = run(&weights, &x);
    command.args(["--max-file-bytes", "100"]);
    let line = assert_one_clear_error("limit", &run_within(command, Duration::from_secs(30)));
    assert!(line.contains("more than the limit of 100 bytes"), "{line}");
    assert!(!out.exists());
}

/// A non-finite clip (or alpha) is refused up front with the same message on both devices.
#[test]
fn non_finite_options_are_refused_the_same_way_on_both_devices() {
    let tmp = tempfile::tempdir().unwrap();
    let mut devices = vec!["cpu"];
    if common::gpu().is_some() {
        devices.push("gpu");
    }
    for flags in [
        vec!["--clip", "inf"],
        vec!["--clip", "1e39"],
        vec!["--clip", "NaN"],
        vec![
            "--activations",
            "LeakyRelu,Tanh,Tanh,Sigmoid,Tanh,Tanh",
            "--activation-alpha",
            "inf",
        ],
    ] {
        let mut lines = Vec::new();
        for device in &devices {
            let mut command = bin();
            command
                .arg("run")
                .arg("--weights")
                .arg(golden("pt_two_layer_bidir", "weights.safetensors"))
                .arg("--input")
                .arg(golden("pt_two_layer_bidir", "x.npy"))
                .arg("--out")
                .arg(tmp.path().join("out"))
                .args(["--device", device])
                .args(&flags);
            lines.push(assert_one_clear_error(
                &format!("{flags:?} {device}"),
                &run_within(command, Duration::from_secs(60)),
            ));
        }
        assert!(lines.iter().all(|l| *l == lines[0]), "{lines:?}");
        assert!(lines[0].contains("finite"), "{}", lines[0]);
    }
    let cfg = LstmConfig {
        clip: Some(f32::INFINITY),
        ..LstmConfig::default()
    };
    assert!(matches!(cfg.validate(), Err(Error::Invalid { .. })));
}

/// `demo` at sizes no device holds is refused before the input is made.
#[test]
fn demo_checks_the_sizes_before_allocating() {
    if common::gpu().is_none() {
        return;
    }
    let mut command = bin();
    command.args(["demo", "--batch", "100000", "--seq", "100000", "--hidden", "4096"]);
    let line = assert_one_clear_error("demo", &run_within(command, Duration::from_secs(120)));
    assert!(line.contains("device limit"), "{line}");
}

/// The outputs are written before the tune cache is saved: a tune cache that cannot be written
/// loses nothing but itself.
#[test]
fn a_bad_tune_cache_path_keeps_the_outputs() {
    if common::gpu().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut command = bin();
    command
        .arg("run")
        .arg("--weights")
        .arg(golden("pt_two_layer_bidir", "weights.safetensors"))
        .arg("--input")
        .arg(golden("pt_two_layer_bidir", "x.npy"))
        .arg("--out")
        .arg(&out)
        .arg("--tune-cache")
        .arg(tmp.path().join("no/such/dir/tuning.json"));
    let o = run_within(command, Duration::from_secs(60));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("warning: the tune cache was not saved"), "{err}");
    for name in wgpu_lstm::OUTPUT_FILES {
        assert!(out.join(name).is_file(), "{name}");
    }
}

/// An output name that is a directory is refused before anything is written; the old set stays.
#[test]
fn an_output_name_that_is_a_directory_leaves_the_old_set() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let run = || {
        let mut command = bin();
        command
            .arg("run")
            .arg("--weights")
            .arg(golden("pt_two_layer_bidir", "weights.safetensors"))
            .arg("--input")
            .arg(golden("pt_two_layer_bidir", "x.npy"))
            .arg("--out")
            .arg(&out)
            .args(["--device", "cpu"]);
        run_within(command, Duration::from_secs(60))
    };
    assert!(run().status.success());
    let y = std::fs::read(out.join("y.npy")).unwrap();
    std::fs::remove_file(out.join("h_n.npy")).unwrap();
    std::fs::create_dir(out.join("h_n.npy")).unwrap();
    assert_one_clear_error("h_n.npy is a directory", &run());
    assert!(out.join("h_n.npy").is_dir());
    assert_eq!(std::fs::read(out.join("y.npy")).unwrap(), y);
}

/// Two runs writing to one `--out` at once each succeed, and every time the directory holds the
/// complete set of one of them.
#[test]
fn concurrent_runs_into_one_out_leave_a_complete_set() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = golden("pt_two_layer_bidir", "weights.safetensors");
    let x = Tensor::read_npy(&golden("pt_two_layer_bidir", "x.npy")).unwrap();
    // Two inputs with different outputs, each run once alone for reference.
    let inputs: Vec<PathBuf> = (0..2)
        .map(|k| {
            let path = tmp.path().join(format!("x{k}.npy"));
            let scaled: Vec<f32> = x.data().iter().map(|v| v * (1.0 + k as f32)).collect();
            Tensor::new(x.shape().to_vec(), scaled)
                .unwrap()
                .write_npy(&path)
                .unwrap();
            path
        })
        .collect();
    let command = |input: &Path, out: &Path| {
        let mut c = bin();
        c.arg("run")
            .arg("--weights")
            .arg(&weights)
            .arg("--input")
            .arg(input)
            .arg("--out")
            .arg(out)
            .args(["--device", "cpu"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    };
    let read_set = |dir: &Path| -> Vec<Vec<u8>> {
        wgpu_lstm::OUTPUT_FILES
            .iter()
            .map(|n| std::fs::read(dir.join(n)).unwrap())
            .collect()
    };
    let references: Vec<Vec<Vec<u8>>> = inputs
        .iter()
        .enumerate()
        .map(|(k, input)| {
            let dir = tmp.path().join(format!("ref{k}"));
            assert!(command(input, &dir).status().unwrap().success());
            read_set(&dir)
        })
        .collect();
    assert_ne!(references[0], references[1]);
    let out = tmp.path().join("shared");
    for round in 0..12 {
        let children: Vec<_> = inputs.iter().map(|i| command(i, &out).spawn().unwrap()).collect();
        for child in children {
            let o = child.wait_with_output().unwrap();
            assert!(
                o.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let set = read_set(&out);
        assert!(references.contains(&set), "round {round}: a mixed set");
        let entries = std::fs::read_dir(&out).unwrap().count();
        assert_eq!(entries, 3, "round {round}: nothing but the set");
    }
    // Nothing is left beside the output directory.
    let mut left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    left.sort();
    assert!(left.is_empty(), "{left:?}");
}

/// A weights file of a million empty tensors is refused by its header size, before parsing.
#[test]
fn a_header_of_a_million_empty_tensors_is_refused_before_parsing() {
    let mut header = String::from("{");
    for i in 0..1_000_000 {
        header.push_str(&format!(
            "\"t{i}\":{{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}},"
        ));
    }
    header.pop();
    header.push('}');
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    let start = Instant::now();
    match LstmWeights::from_safetensors(&bytes, None) {
        Err(Error::Format { message, .. }) => assert!(message.contains("header"), "{message}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    // Reading a file's key prefix parses the same header, under the same bound.
    for convention in [Convention::PyTorch, Convention::Onnx] {
        match LstmWeights::key_prefix(&bytes, convention) {
            Err(Error::Format { message, .. }) => assert!(message.contains("header"), "{message}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(start.elapsed() < Duration::from_secs(5));
}

/// Public helpers return errors for bad arguments instead of panicking.
#[test]
fn public_helpers_refuse_bad_arguments() {
    let t = Tensor::new(vec![2, 3], vec![0.0; 6]).unwrap();
    for perm in [vec![0], vec![0, 0], vec![0, 2], vec![1, 0, 2]] {
        assert!(t.permuted(&perm).is_err(), "{perm:?}");
    }
    assert_eq!(t.permuted(&[1, 0]).unwrap().shape(), &[3, 2]);
    assert!(t.slice_axis(0, 1, usize::MAX).is_err());
    assert!(t.slice_axis(2, 0, 1).is_err());
    assert!(
        chunk_lengths(Some(&[3]), 2, 4, 0, 2).is_err(),
        "lengths of the wrong count"
    );
    assert!(chunk_lengths(None, 2, 4, 3, 2).is_err(), "a chunk past the end");
    assert!(
        chunk_lengths(Some(&[9, 1]), 2, 4, 0, 2).is_err(),
        "a length past T"
    );
    assert_eq!(chunk_lengths(Some(&[4, 1]), 2, 4, 0, 2).unwrap(), [2, 1]);
    assert!(Tensor::zeros(vec![usize::MAX, 2]).is_err());
    for hidden in [1 << 62, 1 << 40] {
        let cfg = LstmConfig {
            hidden_size: hidden,
            ..LstmConfig::default()
        };
        assert!(LstmWeights::random(&cfg, 0).is_err(), "hidden {hidden}");
    }
    // Huge dimensions of an empty input are refused by the request checks, not allocated.
    let cfg = LstmConfig {
        input_size: 2,
        hidden_size: 3,
        num_layers: 2,
        direction: Direction::Bidirectional,
        layout: Layout::SeqMajor,
        ..LstmConfig::default()
    };
    let cpu = CpuLstm::new(&cfg, &LstmWeights::random(&cfg, 0).unwrap()).unwrap();
    let empty = Tensor::new(vec![usize::MAX / 2, 0, 2], vec![]).unwrap();
    assert!(cpu.forward(&empty, None).is_err());
}
