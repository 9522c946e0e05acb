//! The CPU reference: plain loops, f64 accumulation, written to be obviously correct. It is the
//! oracle for every GPU test and a device users can pick (`--device cpu`).

use crate::config::LstmConfig;
use crate::error::Result;
use crate::forward::{check_request, state_shape, y_shape, Dims, Output, State};
use crate::tensor::Tensor;
use crate::weights::LstmWeights;

/// An LSTM evaluated on the CPU; same call shape as the GPU engine.
pub struct CpuLstm {
    config: LstmConfig,
    weights: LstmWeights,
}

impl CpuLstm {
    pub fn new(config: &LstmConfig, weights: &LstmWeights) -> Result<Self> {
        config.validate()?;
        weights.check_config(config)?;
        Ok(CpuLstm {
            config: config.clone(),
            weights: weights.clone(),
        })
    }

    pub fn config(&self) -> &LstmConfig {
        &self.config
    }

    /// Run every sequence to length T.
    pub fn forward(&self, input: &Tensor, initial: Option<&State>) -> Result<Output> {
        self.forward_with_lens(input, initial, None)
    }

    /// Run with per-sequence lengths (`seq_lens[b]` in 1..=T); `None` means all T.
    pub fn forward_with_lens(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
    ) -> Result<Output> {
        let dims = check_request(&self.config, input, initial, seq_lens)?;
        Ok(forward(
            &self.config,
            &self.weights,
            input,
            initial,
            seq_lens,
            dims,
        ))
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn forward(
    cfg: &LstmConfig,
    weights: &LstmWeights,
    input: &Tensor,
    initial: Option<&State>,
    seq_lens: Option<&[usize]>,
    Dims {
        seq_len: t_max,
        batch,
    }: Dims,
) -> Output {
    let (h, nd) = (cfg.hidden_size, cfg.num_directions());
    let row = |t: usize, b: usize| cfg.layout.row(t, b, t_max, batch);
    let state_len = cfg.num_layers * nd * batch * h;
    let (mut h_n, mut c_n) = (vec![0f32; state_len], vec![0f32; state_len]);
    let mut x: Vec<f32> = input.data().to_vec();
    let mut y = Vec::new();
    for (l, layer) in weights.layers().iter().enumerate() {
        let inp = cfg.layer_input_size(l);
        y = vec![0f32; t_max * batch * nd * h];
        for (d, dw) in layer.iter().enumerate() {
            for b in 0..batch {
                let len = seq_lens.map_or(t_max, |s| s[b]);
                let slot = ((l * nd + d) * batch + b) * h;
                let (mut hs, mut cs): (Vec<f64>, Vec<f64>) = match initial {
                    Some(s) => (
                        s.h.data()[slot..slot + h]
                            .iter()
                            .map(|&v| v as f64)
                            .collect(),
                        s.c.data()[slot..slot + h]
                            .iter()
                            .map(|&v| v as f64)
                            .collect(),
                    ),
                    None => (vec![0.0; h], vec![0.0; h]),
                };
                for s in 0..len {
                    let t = if cfg.direction.is_reversed(d) {
                        len - 1 - s
                    } else {
                        s
                    };
                    let xt = &x[row(t, b) * inp..][..inp];
                    // z[g*H + j] for gate blocks i, f, g, o.
                    let z: Vec<f64> = (0..4 * h)
                        .map(|r| {
                            let mut acc = dw
                                .bias
                                .as_ref()
                                .map_or(0.0, |(bi, bh)| bi[r] as f64 + bh[r] as f64);
                            let w_row = &dw.w_ih[r * inp..][..inp];
                            for (w, x) in w_row.iter().zip(xt) {
                                acc += *w as f64 * *x as f64;
                            }
                            let r_row = &dw.w_hh[r * h..][..h];
                            for (w, h_prev) in r_row.iter().zip(&hs) {
                                acc += *w as f64 * h_prev;
                            }
                            acc
                        })
                        .collect();
                    for j in 0..h {
                        let i_g = sigmoid(z[j]);
                        let f_g = sigmoid(z[h + j]);
                        let g_g = z[2 * h + j].tanh();
                        let o_g = sigmoid(z[3 * h + j]);
                        cs[j] = f_g * cs[j] + i_g * g_g;
                        hs[j] = o_g * cs[j].tanh();
                    }
                    let out = &mut y[(row(t, b) * nd + d) * h..][..h];
                    for j in 0..h {
                        out[j] = hs[j] as f32;
                    }
                }
                for j in 0..h {
                    h_n[slot + j] = hs[j] as f32;
                    c_n[slot + j] = cs[j] as f32;
                }
            }
        }
        x = y.clone();
    }
    let dims = Dims {
        seq_len: t_max,
        batch,
    };
    let state_shape = state_shape(cfg, batch);
    Output {
        y: Tensor::new(y_shape(cfg, dims), y).expect("y size"),
        h_n: Tensor::new(state_shape.clone(), h_n).expect("h_n size"),
        c_n: Tensor::new(state_shape, c_n).expect("c_n size"),
    }
}
