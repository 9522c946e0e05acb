//! Times Burn's GRU forward on its wgpu backend (default device: wgpu's first adapter), the peer
//! of `wgpu-lstm bench --cell gru` (`scripts/compare-peers.sh --cell gru`). Burn's GRU applies
//! the reset gate after the recurrent product by default (`reset_after`), as PyTorch's nn.GRU and
//! ONNX's linear_before_reset = 1 do.
//! usage: burn-gru-peer B T I H [reps]   -> prints "burn_ms_per_forward <median>"
use burn::nn::GruConfig;
use burn::tensor::{Device, Distribution, Tensor};
use std::time::Instant;

fn main() {
    let a: Vec<usize> = std::env::args().skip(1).map(|s| s.parse().unwrap()).collect();
    let (b, t, i, h) = (a[0], a[1], a[2], a[3]);
    let reps = *a.get(4).unwrap_or(&5);
    let dev = Device::default();
    let gru = GruConfig::new(i, h, true).init(&dev);
    let x = Tensor::<3>::random([b, t, i], Distribution::Uniform(-1.0, 1.0), &dev);
    let mut times = vec![];
    for r in 0..reps + 1 {
        let start = Instant::now();
        let y = gru.forward(x.clone(), None);
        let _v = y.into_data();
        dev.sync().unwrap();
        if r > 0 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("burn_ms_per_forward {:.3}", times[times.len() / 2]);
}
