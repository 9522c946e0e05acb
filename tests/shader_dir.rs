//! `WGPU_LSTM_SHADER_DIR` reaches the training kernels on a device: a copy of `shaders/` gives
//! the built-in results bit for bit, and each file of `shaders/train/` broken in the copy makes a
//! training step fail with an error (no panic) where the kernels made of it compile. Its own test
//! binary, since the variable is read by every `PipelineCache` the process makes.

mod common;

use std::path::Path;

use common::{config, gpu, random_tensor};
use wgpu_lstm::gpu::{PipelineCache, TrainLstm, Trainer};

/// The documented variable (docs/conformance.md) that points the kernels at a copy of `shaders/`.
const SHADER_DIR_VARIABLE: &str = "WGPU_LSTM_SHADER_DIR";
use wgpu_lstm::{Cell, Direction, Gradients, LstmConfig, LstmWeights, Optimizer, Result};

/// For each cell (a GRU without linear_before_reset), a forward and backward at B = 8 (the
/// grouped sequence kernels) and B = 1 (the single ones), then an Adam step with clipping (norm
/// and update): every training kernel, with tiled and direct GEMMs (I = 4H = 64 and T·B = 64
/// make the LSTM's input projection and dW tiled).
fn train_once(gpu: &common::Gpu) -> Result<Vec<Gradients>> {
    let cache = PipelineCache::new(&gpu.device);
    let mut grads = Vec::new();
    for cell in [Cell::Lstm, Cell::Gru, Cell::Rnn] {
        let cfg = LstmConfig {
            cell,
            ..config(64, 16, 1, Direction::Bidirectional)
        };
        let weights = LstmWeights::random(&cfg, 1)?;
        let model = TrainLstm::with_cache(&cache, &gpu.queue, &cfg, &weights)?;
        for batch in [8, 1] {
            let x = random_tensor(vec![8, batch, 64], 1.0, batch as u64);
            let (out, tape) = model.forward_train(&x, None, None)?;
            let dy = random_tensor(out.y.shape().to_vec(), 1.0, 2);
            grads.push(model.backward(&tape, &dy, None, None)?);
            let mut trainer = Trainer::new(&model, Optimizer::adam(0.01).with_clip_norm(1.0))?;
            trainer.step(&model, &tape, &dy, None, None)?;
        }
    }
    Ok(grads)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The WGSL files under `dir`, its folders included (`train/cells/`).
fn wgsl_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            wgsl_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn the_shader_dir_reaches_every_training_kernel() {
    let Some(gpu) = gpu() else { return };
    let built_in = train_once(&gpu).expect("built-in kernels");

    let shaders = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&shaders, copy.path());
    std::env::set_var(SHADER_DIR_VARIABLE, copy.path());
    let from_copy = train_once(&gpu).expect("kernels from the copy");
    for (a, b) in built_in.iter().zip(&from_copy) {
        assert_eq!(a.dx.data(), b.dx.data(), "the copy gives other results");
        assert_eq!(a.dh0.data(), b.dh0.data());
    }

    let mut files = Vec::new();
    wgsl_files(&shaders.join("train"), &mut files);
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    for file in files {
        let name = file.strip_prefix(&shaders).unwrap().to_path_buf();
        let broken = copy.path().join(&name);
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&broken, format!("{text}\nthis is not WGSL\n")).unwrap();
        let result = train_once(&gpu);
        std::fs::write(&broken, text).unwrap();
        let err = result
            .err()
            .unwrap_or_else(|| panic!("{}: the override did not reach a kernel", name.display()));
        let message = err.to_string();
        eprintln!("{}: {}", name.display(), message.lines().next().unwrap_or(""));
        assert!(
            message.contains("building pipelines"),
            "{}: {message}",
            name.display()
        );
    }
    std::env::remove_var(SHADER_DIR_VARIABLE);
}
