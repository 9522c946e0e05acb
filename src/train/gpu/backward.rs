//! The training backward: per layer one fused reverse-time kernel for both directions, then
//! GEMMs over all timesteps for the weight gradients and dx.

use super::*;

impl TrainLstm {
    /// Check a backward's inputs against `tape`, allocate its buffers and upload dy, dh_n and
    /// dc_n; returns the buffers and the f32s uploaded.
    pub(super) fn upload_backward(
        &self,
        tape: &Tape,
        dy: &Tensor,
        dh_n: Option<&Tensor>,
        dc_n: Option<&Tensor>,
    ) -> Result<(BackwardBuffers, usize)> {
        if tape.model != self.id {
            return Err(Error::invalid("tape", "was recorded by another TrainLstm"));
        }
        if tape.version != self.version.load(Ordering::Relaxed) {
            return Err(Error::invalid(
                "tape",
                "was recorded before an optimizer step changed the weights; run forward_train again",
            ));
        }
        check_output_grads(&self.config, tape.dims, dy, dh_n, dc_n)?;
        let plan = &tape.plan;
        let device = &self.device;
        let (states, state_len) = plan.states();
        let buffers = BackwardBuffers {
            grads: storage(device, "gradients", self.layout.len, wgpu::BufferUsages::COPY_SRC)?,
            dx: storage(
                device,
                "dL/dy between layers",
                plan.dy_len,
                wgpu::BufferUsages::COPY_SRC,
            )?,
            dstate: storage(device, "state gradients", state_len, wgpu::BufferUsages::COPY_SRC)?,
            work: storage(
                device,
                "backward work",
                plan.work_len,
                wgpu::BufferUsages::empty(),
            )?,
            other: storage(
                device,
                "dL/dy between layers",
                plan.dy_len,
                wgpu::BufferUsages::COPY_SRC,
            )?,
            one: storage(device, "one", 1, wgpu::BufferUsages::empty())?,
        };
        let q = &self.queue;
        // The top layer reads dy from the buffer that does not end up holding dx.
        let first = if self.config.num_layers % 2 == 1 {
            &buffers.other
        } else {
            &buffers.dx
        };
        q.write_buffer(first, 0, bytemuck::cast_slice(dy.data()));
        q.write_buffer(&buffers.one, 0, bytemuck::cast_slice(&[1.0f32]));
        let mut uploaded = dy.data().len() + 1;
        for (t, at) in [(dh_n, states[0]), (dc_n, states[1])] {
            if let Some(t) = t {
                q.write_buffer(&buffers.dstate, at as u64 * F32, bytemuck::cast_slice(t.data()));
                uploaded += t.data().len();
            }
        }
        Ok((buffers, uploaded))
    }

    /// List the backward's dispatches. The state-gradient buffer holds dh_n, dc_n (in) and
    /// dh0, dc0 (out), in that order.
    pub(super) fn record_backward<'a>(
        &'a self,
        rec: &mut Recorder<'a>,
        tape: &'a Tape,
        b: &'a BackwardBuffers,
    ) -> Result<()> {
        let cfg = &self.config;
        let plan = &tape.plan;
        let dims = tape.dims;
        let (nd, h, p) = (cfg.num_directions(), cfg.hidden_size, cfg.output_size());
        let (states, _) = plan.states();
        let rows = plan.rows;
        let (mut dy_in, mut dy_out) = if cfg.num_layers % 2 == 1 {
            (&b.other, &b.dx)
        } else {
            (&b.dx, &b.other)
        };
        for l in (0..cfg.num_layers).rev() {
            let layer = plan.layers[l];
            let inp = cfg.layer_input_size(l);
            let mut w = self.seq_words(plan, dims, l)?;
            for (i, at) in [
                (seq::HN, states[0]),
                (seq::CN, states[1]),
                (seq::H0, states[2]),
                (seq::C0, states[3]),
                (seq::W_DG, plan.work_dg),
                (seq::W_DH, plan.work_dh),
                (seq::W_DCARRY, plan.work_dcarry),
                (seq::W_PEEP, plan.work_peep),
            ] {
                w[i] = at as u32;
            }
            rec.push(
                TrainKernel::Backward(plan.group),
                w,
                vec![&self.params, &tape.tape, dy_in, &tape.lens, &b.work, &b.dstate],
                [plan.sequence_groups, 1],
            )?;
            let g4 = nd * 4 * h;
            for d in 0..nd {
                let slot = &self.layout.slots[l * nd + d];
                let dg = View::transposed(plan.work_dg + d * 4 * h, g4);
                // dW[r, i] = Σ_rows dG[row, r]·X[row, i]
                rec.gemm(
                    (4 * h, inp, rows),
                    (&b.work, dg),
                    (&tape.tape, View::rows(layer.input, inp)),
                    (&b.grads, slot.w_ih.start, inp),
                    false,
                )?;
                // dR[r, q] = Σ_rows dG[row, r]·h_prev[row, q]
                rec.gemm(
                    (4 * h, p, rows),
                    (&b.work, dg),
                    (&tape.tape, View::rows(layer.h_prev + d * p, nd * p)),
                    (&b.grads, slot.w_hh.start, p),
                    false,
                )?;
                for bias in [&slot.b_ih, &slot.b_hh].into_iter().flatten() {
                    rec.gemm(
                        (1, 4 * h, rows),
                        (&b.one, View::broadcast(0)),
                        (&b.work, View::rows(plan.work_dg + d * 4 * h, g4)),
                        (&b.grads, bias.start, 4 * h),
                        false,
                    )?;
                }
                if let Some(peep) = &slot.peephole {
                    rec.gemm(
                        (1, 3 * h, dims.batch),
                        (&b.one, View::broadcast(0)),
                        (
                            &b.work,
                            View::rows(plan.work_peep + d * dims.batch * 3 * h, 3 * h),
                        ),
                        (&b.grads, peep.start, 3 * h),
                        false,
                    )?;
                }
                if let Some(w_hr) = &slot.w_hr {
                    // dW_hr[q, j] = Σ_rows dh[row, q]·m[row, j]
                    rec.gemm(
                        (p, h, rows),
                        (&b.work, View::transposed(plan.work_dh + d * p, nd * p)),
                        (&tape.tape, View::rows(layer.m + d * h, nd * h)),
                        (&b.grads, w_hr.start, h),
                        false,
                    )?;
                }
                // dX[row, i] (+)= Σ_r dG[row, r]·W[r, i]
                rec.gemm(
                    (rows, inp, 4 * h),
                    (&b.work, View::rows(plan.work_dg + d * 4 * h, g4)),
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
        let cfg = &self.config;
        let dims = tape.dims;
        let plan = &tape.plan;
        let device = &self.device;
        let (states, _) = plan.states();
        let n = self.layout.len;
        let dx_len = plan.rows * cfg.input_size;
        let total = n + dx_len + plan.h_states + plan.c_states;
        let (encoder, staging, _buffers, dispatches, uploaded) =
            capture(device, "the training backward", || -> Result<_> {
                let (buffers, uploaded) = self.upload_backward(tape, dy, dh_n, dc_n)?;
                let staging = staging(device, total);
                let mut rec = Recorder::new(&device.limits());
                self.record_backward(&mut rec, tape, &buffers)?;
                let dispatches = rec.count();
                let mut encoder = device.create_command_encoder(&Default::default());
                rec.encode(&self.pipelines, &mut encoder)?;
                copy(&mut encoder, &buffers.grads, 0, &staging, 0, n);
                copy(&mut encoder, &buffers.dx, 0, &staging, n, dx_len);
                copy(
                    &mut encoder,
                    &buffers.dstate,
                    states[2],
                    &staging,
                    n + dx_len,
                    plan.h_states + plan.c_states,
                );
                Ok((encoder, staging, buffers, dispatches, uploaded))
            })??;
        let mut flat = self.submit_and_read(encoder, &staging, total, wait).await?;
        self.record_stats(|s| s.backward = PassStats::read_once(dispatches, uploaded, total));
        let dc0 = flat.split_off(n + dx_len + plan.h_states);
        let dh0 = flat.split_off(n + dx_len);
        let dx = flat.split_off(n);
        Gradients::from_parts(&self.layout, cfg, dims, &flat, [dx, dh0, dc0])
    }
}
