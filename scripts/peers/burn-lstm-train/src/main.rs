//! Times one training step of Burn's LSTM on its wgpu backend (wgpu's first adapter): forward,
//! loss L = mean(y²), backward through Burn's autodiff, and an Adam step.
//! usage: burn-lstm-train-peer B T I H [reps]   -> prints "burn_ms_per_train_step <median>"
use burn::nn::LstmConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use std::time::Instant;

fn main() {
    let a: Vec<usize> = std::env::args().skip(1).map(|s| s.parse().unwrap()).collect();
    let (b, t, i, h) = (a[0], a[1], a[2], a[3]);
    let reps = *a.get(4).unwrap_or(&5);
    let dev = Device::default().autodiff();
    let mut lstm = LstmConfig::new(i, h, true).init(&dev);
    let mut optim = AdamConfig::new().init();
    let x = Tensor::<3>::random([b, t, i], Distribution::Uniform(-1.0, 1.0), &dev);
    let mut times = vec![];
    for r in 0..reps + 1 {
        let start = Instant::now();
        let (y, _s) = lstm.forward(x.clone(), None);
        let loss = y.powf_scalar(2.0).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &lstm);
        lstm = optim.step(1e-3, lstm, grads);
        let _v = loss.into_data();
        dev.sync().unwrap();
        if r > 0 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("burn_ms_per_train_step {:.3}", times[times.len() / 2]);
}
