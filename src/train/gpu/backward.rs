//! The training backward: per layer one fused reverse-time kernel for both directions, then
//! GEMMs over all timesteps for the weight gradients and dx.

use super::*;
use crate::cell::Cell;
use crate::train::lanes;

/// A backward recorded by [`TrainLstm::encode_backward`].
pub(super) struct Encoded {
    pub encoder: wgpu::CommandEncoder,
    /// The backward's dispatches, and those the caller added after it.
    pub backward: u32,
    pub added: u32,
    /// f32s uploaded.
    pub uploaded: usize,
    pub kernels: crate::backend::gpu::stats::TrainKernels,
}

impl TrainLstm {
    /// Check a backward's inputs against `tape`.
    pub(super) fn check_backward(
        &self,
        tape: &Tape,
        dy: &Tensor,
        dh_n: Option<&Tensor>,
        dc_n: Option<&Tensor>,
    ) -> Result<()> {
        if tape.model != self.id {
            return Err(Error::invalid("tape", "was recorded by another TrainLstm"));
        }
        if tape.version != self.version.load(Ordering::Relaxed) {
            return Err(Error::invalid(
                "tape",
                "was recorded before an optimizer step changed the weights; run forward_train again",
            ));
        }
        check_output_grads(&self.config, tape.dims, dy, dh_n, dc_n)
    }

    /// Upload dy, dh_n and dc_n into the tape's workspace and record the clears the backward
    /// starts with; returns the f32s uploaded.
    pub(super) fn upload_backward(
        &self,
        tape: &Tape,
        ws: &TrainWorkspace,
        encoder: &mut wgpu::CommandEncoder,
        (dy, dh_n, dc_n): (&Tensor, Option<&Tensor>, Option<&Tensor>),
    ) -> usize {
        let plan = &tape.plan;
        let (states, _) = plan.states();
        let q = &self.queue;
        // The top layer reads dy from the buffer that does not end up holding dx.
        let first = if self.config.num_layers % 2 == 1 {
            TrainBuf::Other
        } else {
            TrainBuf::Dx
        };
        q.write_buffer(ws.buffer(first), 0, bytemuck::cast_slice(dy.data()));
        q.write_buffer(ws.buffer(TrainBuf::One), 0, bytemuck::cast_slice(&[1.0f32]));
        let mut uploaded = dy.data().len() + 1;
        for (t, at) in [(dh_n, states[0]), (dc_n, states[1])] {
            if let Some(t) = t {
                q.write_buffer(
                    ws.buffer(TrainBuf::DState),
                    at as u64 * F32,
                    bytemuck::cast_slice(t.data()),
                );
                uploaded += t.data().len();
            }
        }
        for (buf, at, len) in plan.backward_clears(dh_n.is_some(), dc_n.is_some()) {
            ws.clear(encoder, buf, at, len);
        }
        uploaded
    }

    /// Record a backward from `tape` into a new encoder: the uploads of dy, dh_n, dc_n, the
    /// clears, the backward's dispatches and then those `then` lists (the optimizer's), in one
    /// compute pass over the tape's workspace. `check_backward` has accepted the inputs.
    pub(super) fn encode_backward<'a>(
        &'a self,
        tape: &Tape,
        ws: &'a TrainWorkspace,
        grads: (&Tensor, Option<&Tensor>, Option<&Tensor>),
        then: impl FnOnce(&mut Recorder<'a>) -> Result<()>,
    ) -> Result<Encoded> {
        let device = &self.device;
        let mut encoder = device.create_command_encoder(&Default::default());
        let uploaded = self.upload_backward(tape, ws, &mut encoder, grads);
        let mut rec = Recorder::new(&device.limits());
        self.record_backward(&mut rec, tape, ws)?;
        let backward = rec.count();
        then(&mut rec)?;
        let added = rec.count() - backward;
        let kernels = rec.kernels();
        let uniforms = ws.uniforms(device, rec.uniform_bytes(device));
        rec.encode(&self.pipelines, &self.queue, &uniforms, &mut encoder)?;
        Ok(Encoded {
            encoder,
            backward,
            added,
            uploaded,
            kernels,
        })
    }

    /// List the backward's dispatches. The state-gradient buffer holds dh_n, dc_n (in) and
    /// dh0, dc0 (out), in that order.
    pub(super) fn record_backward<'a>(
        &'a self,
        rec: &mut Recorder<'a>,
        tape: &Tape,
        ws: &'a TrainWorkspace,
    ) -> Result<()> {
        let cfg = &self.config;
        let [tape_buf, lens, work, dstate, grads, one, dx, other] = [
            TrainBuf::Tape,
            TrainBuf::Lens,
            TrainBuf::Work,
            TrainBuf::DState,
            TrainBuf::Grads,
            TrainBuf::One,
            TrainBuf::Dx,
            TrainBuf::Other,
        ]
        .map(|b| ws.buffer(b));
        let plan = &tape.plan;
        let dims = tape.dims;
        let (nd, h, p) = (cfg.num_directions(), cfg.hidden_size, cfg.output_size());
        let (states, _) = plan.states();
        let rows = plan.rows;
        let (mut dy_in, mut dy_out) = if cfg.num_layers % 2 == 1 {
            (other, dx)
        } else {
            (dx, other)
        };
        for l in (0..cfg.num_layers).rev() {
            let layer = plan.layers[l];
            let inp = cfg.layer_input_size(l);
            // The state gradients come in as (dh_n, dc_n) and go out as (dh0, dc0).
            let [hn, cn, h0, c0] = states.map(offset);
            let params = SeqParams {
                hn: hn?,
                cn: cn?,
                h0: h0?,
                c0: c0?,
                w_dg: offset(plan.work_dg)?,
                w_dh: offset(plan.work_dh)?,
                w_dcarry: offset(plan.work_dcarry)?,
                w_peep: offset(plan.work_peep)?,
                ..self.seq_params(plan, dims, l)?
            };
            rec.push(
                TrainKernel::Backward(cfg.cell, plan.group),
                Params::Seq(params),
                vec![&self.params, tape_buf, dy_in, lens, work, dstate],
                [plan.sequence_groups, 1],
            )?;
            let (g, lanes) = (cfg.gates(), lanes(cfg.cell));
            let stride = nd * lanes * h;
            for d in 0..nd {
                let slot = &self.layout.slots[l * nd + d];
                // dgates of this direction: lane k of unit j at column k·H + j of a row.
                let dg = |lane: usize| plan.work_dg + (d * lanes + lane) * h;
                // dW[r, i] = Σ_rows dG[row, r]·X[row, i] over W's rows (lanes 0..G)
                rec.gemm(
                    (g * h, inp, rows),
                    (work, View::transposed(dg(0), stride)),
                    (tape_buf, View::rows(layer.input, inp)),
                    (grads, slot.w_ih.start, inp),
                    false,
                )?;
                // dR[r, q] = Σ_rows dG[row, lane of r]·v[row, q] per block of R's rows: v is
                // h_{t−1}, or r⊙h_{t−1} for a GRU's candidate without linear_before_reset.
                for block in recurrent_blocks(cfg) {
                    let operand = if block.resets {
                        View::rows(layer.m + d * h, nd * h)
                    } else {
                        View::rows(layer.h_prev + d * p, nd * p)
                    };
                    rec.gemm(
                        (block.gates * h, p, rows),
                        (work, View::transposed(dg(block.lane), stride)),
                        (tape_buf, operand),
                        (grads, slot.w_hh.start + block.first * h * p, p),
                        false,
                    )?;
                }
                if let Some(b_ih) = &slot.b_ih {
                    rec.gemm(
                        (1, g * h, rows),
                        (one, View::broadcast(0)),
                        (work, View::rows(dg(0), stride)),
                        (grads, b_ih.start, g * h),
                        false,
                    )?;
                }
                if let Some(b_hh) = &slot.b_hh {
                    for block in recurrent_blocks(cfg) {
                        rec.gemm(
                            (1, block.gates * h, rows),
                            (one, View::broadcast(0)),
                            (work, View::rows(dg(block.lane), stride)),
                            (grads, b_hh.start + block.first * h, block.gates * h),
                            false,
                        )?;
                    }
                }
                if let Some(peep) = &slot.peephole {
                    rec.gemm(
                        (1, 3 * h, dims.batch),
                        (one, View::broadcast(0)),
                        (work, View::rows(plan.work_peep + d * dims.batch * 3 * h, 3 * h)),
                        (grads, peep.start, 3 * h),
                        false,
                    )?;
                }
                if let Some(w_hr) = &slot.w_hr {
                    // dW_hr[q, j] = Σ_rows dh[row, q]·m[row, j]
                    rec.gemm(
                        (p, h, rows),
                        (work, View::transposed(plan.work_dh + d * p, nd * p)),
                        (tape_buf, View::rows(layer.m + d * h, nd * h)),
                        (grads, w_hr.start, h),
                        false,
                    )?;
                }
                // dX[row, i] (+)= Σ_r dG[row, r]·W[r, i]
                rec.gemm(
                    (rows, inp, g * h),
                    (work, View::rows(dg(0), stride)),
                    (&self.params, View::rows(slot.w_ih.start, inp)),
                    (dy_out, 0, inp),
                    d > 0,
                )?;
            }
            std::mem::swap(&mut dy_in, &mut dy_out);
        }
        Ok(())
    }

    /// Backpropagation through time from `tape`: the gradients of
    /// L = Σ dy⊙y + Σ dh_n⊙h_n + Σ dc_n⊙c_n (absent `dh_n`/`dc_n` are zero), read back (one
    /// submission, one readback). (On the web: [`TrainLstm::backward_async`].)
    #[cfg(not(target_arch = "wasm32"))]
    pub fn backward(
        &self,
        tape: &Tape,
        dy: &Tensor,
        dh_n: Option<&Tensor>,
        dc_n: Option<&Tensor>,
    ) -> Result<Gradients> {
        pollster::block_on(self.backward_scoped(tape, dy, dh_n, dc_n, true))
    }

    /// [`TrainLstm::backward`] as a future (see
    /// [`Lstm::forward_async`](crate::Lstm::forward_async) about polling).
    pub async fn backward_async(
        &self,
        tape: &Tape,
        dy: &Tensor,
        dh_n: Option<&Tensor>,
        dc_n: Option<&Tensor>,
    ) -> Result<Gradients> {
        self.backward_scoped(tape, dy, dh_n, dc_n, false).await
    }

    pub(super) async fn backward_scoped(
        &self,
        tape: &Tape,
        dy: &Tensor,
        dh_n: Option<&Tensor>,
        dc_n: Option<&Tensor>,
        wait: bool,
    ) -> Result<Gradients> {
        scope::entry(
            &self.device,
            "the training backward",
            self.backward_inner(tape, dy, dh_n, dc_n, wait),
        )
        .await
    }

    pub(super) async fn backward_inner(
        &self,
        tape: &Tape,
        dy: &Tensor,
        dh_n: Option<&Tensor>,
        dc_n: Option<&Tensor>,
        wait: bool,
    ) -> Result<Gradients> {
        self.check_backward(tape, dy, dh_n, dc_n)?;
        let cfg = &self.config;
        let dims = tape.dims;
        let plan = &tape.plan;
        let device = &self.device;
        let n = self.layout.len;
        let total = plan.backward_read_len(n);
        let (staging, submission, dispatches, uploaded) = {
            // Held until submitted: the backward's buffers serve one pass at a time.
            let mut guard = tape.workspace();
            let ws = guard.as_mut().expect("a tape holds its workspace until dropped");
            let staging = ws.take_staging(device);
            let shared = &*ws;
            let recorded = capture(device, "the training backward", || -> Result<_> {
                let mut e = self.encode_backward(tape, shared, (dy, dh_n, dc_n), |_| Ok(()))?;
                shared.read_into(&mut e.encoder, &staging, &plan.backward_reads(n));
                let counts = (e.backward, e.kernels);
                Ok((self.queue.submit([e.encoder.finish()]), counts, e.uploaded))
            })
            .and_then(|r| r);
            match recorded {
                Ok((submission, dispatches, uploaded)) => (staging, submission, dispatches, uploaded),
                Err(e) => {
                    ws.return_staging(staging);
                    return Err(e);
                }
            }
        };
        let read = readback::read(device, &staging, total as u64 * F32, wait.then_some(submission)).await;
        if let Some(ws) = tape.workspace().as_mut() {
            ws.return_staging(staging);
        }
        let mut flat = read?;
        let (dispatches, kernels) = dispatches;
        self.record_stats(|s| {
            s.backward = counted(dispatches, uploaded, Some(total));
            s.kernels = s.kernels.union(kernels);
        });
        let [_, dx_read, states_read] = plan.backward_reads(n);
        let dc0 = flat.split_off(states_read.to + plan.h_states);
        let dh0 = flat.split_off(states_read.to);
        let dx = flat.split_off(dx_read.to);
        Gradients::from_parts(&self.layout, cfg, dims, &flat, [dx, dh0, dc0])
    }
}

/// Consecutive row blocks of R (gates `first..first + gates`) whose gradients sit in
/// consecutive dgates lanes from `lane`; `resets`: they multiply r⊙h_{t−1} (the tape's m).
struct RecurrentBlock {
    first: usize,
    gates: usize,
    lane: usize,
    resets: bool,
}

/// R's row blocks as the cell bodies' `recurrent_lane` maps them: every gate its own lane, but
/// the GRU's candidate, whose recurrent part has lane 3 (its input part has lane 2).
fn recurrent_blocks(cfg: &LstmConfig) -> Vec<RecurrentBlock> {
    let whole = |gates| RecurrentBlock {
        first: 0,
        gates,
        lane: 0,
        resets: false,
    };
    match cfg.cell {
        Cell::Gru => vec![
            whole(2),
            RecurrentBlock {
                first: 2,
                gates: 1,
                lane: 3,
                resets: cfg.resets_before_product(),
            },
        ],
        cell => vec![whole(cell.gates())],
    }
}
