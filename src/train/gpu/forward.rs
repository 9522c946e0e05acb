//! The training forward: per layer the input-projection GEMM per direction, R (and W_hr)
//! transposed, and one sequence kernel for both directions, leaving the tape on the device.

use super::*;

impl TrainLstm {
    /// A forward that leaves on the device what [`TrainLstm::backward`] needs, returning the
    /// outputs (one submission, one readback). (On the web: [`TrainLstm::forward_train_async`].)
    #[cfg(not(target_arch = "wasm32"))]
    pub fn forward_train(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
    ) -> Result<(Output, Tape)> {
        pollster::block_on(self.forward_scoped(input, initial, seq_lens, true))
    }

    /// [`TrainLstm::forward_train`] as a future (see
    /// [`Lstm::forward_async`](crate::Lstm::forward_async) about polling).
    pub async fn forward_train_async(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
    ) -> Result<(Output, Tape)> {
        self.forward_scoped(input, initial, seq_lens, false).await
    }

    pub(super) async fn forward_scoped(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
        wait: bool,
    ) -> Result<(Output, Tape)> {
        scope::entry(
            &self.device,
            "the training forward",
            self.forward_inner(input, initial, seq_lens, wait),
        )
        .await
    }

    pub(super) async fn forward_inner(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
        wait: bool,
    ) -> Result<(Output, Tape)> {
        let cfg = &self.config;
        let dims = check_request(cfg, input, initial, seq_lens)?;
        let plan = TapePlan::new(cfg, dims)?;
        let device = &self.device;
        let mut ws = take_or_allocate(&self.spare, device, &plan, dims, self.layout.len)?;
        let (states, _) = plan.states();
        let out_len = plan.forward_read_len();
        let lens: Vec<u32> = match seq_lens {
            Some(l) => l.iter().map(|&v| v as u32).collect(),
            None => vec![dims.seq_len as u32; dims.batch],
        };
        let staging = ws.take_staging(device);
        let (encoder, dispatches, uploaded) = capture(device, "the training forward", || -> Result<_> {
            let q = &self.queue;
            q.write_buffer(ws.buffer(TrainBuf::Tape), 0, bytemuck::cast_slice(input.data()));
            q.write_buffer(ws.buffer(TrainBuf::Lens), 0, bytemuck::cast_slice(&lens));
            let mut uploaded = input.data().len() + lens.len();
            if let Some(s) = initial {
                let state = ws.buffer(TrainBuf::State);
                q.write_buffer(state, 0, bytemuck::cast_slice(s.h.data()));
                q.write_buffer(state, (states[1] as u64) * F32, bytemuck::cast_slice(s.c.data()));
                uploaded += s.h.data().len() + s.c.data().len();
            }
            let mut rec = Recorder::new(&device.limits());
            self.record_forward(&mut rec, &plan, dims, &ws)?;
            let dispatches = rec.count();
            let kernels = rec.kernels();
            let mut encoder = device.create_command_encoder(&Default::default());
            for (buf, at, len) in plan.forward_clears(initial.is_some()) {
                ws.clear(&mut encoder, buf, at, len);
            }
            let uniforms = ws.uniforms(device, rec.uniform_bytes(device));
            rec.encode(&self.pipelines, q, &uniforms, &mut encoder)?;
            ws.read_into(&mut encoder, &staging, &plan.forward_reads());
            Ok((encoder, (dispatches, kernels), uploaded))
        })??;
        let (dispatches, kernels) = dispatches;
        let read = self.submit_and_read(encoder, &staging, out_len, wait).await;
        ws.return_staging(staging);
        let mut out = read?;
        self.record_stats(|s| {
            s.forward = counted(dispatches, uploaded, Some(out_len));
            s.kernels = kernels;
        });
        let [_, states_read] = plan.forward_reads();
        let c_n = out.split_off(states_read.to + plan.h_states);
        let h_n = out.split_off(states_read.to);
        let (c, p) = (cfg.cell_state_size(), cfg.output_size());
        Ok((
            Output {
                y: Tensor::new(y_shape(cfg, dims), out)?,
                h_n: Tensor::new(state_shape(cfg, dims.batch, p), h_n)?,
                c_n: Tensor::new(state_shape(cfg, dims.batch, c), c_n)?,
            },
            Tape {
                model: self.id,
                version: self.version.load(Ordering::Relaxed),
                dims,
                plan,
                ws: Mutex::new(Some(ws)),
                spare: self.spare.clone(),
            },
        ))
    }

    /// List a forward's dispatches: per layer the input projection of each direction, R (and
    /// W_hr) transposed, and the sequence kernel.
    fn record_forward<'a>(
        &'a self,
        rec: &mut Recorder<'a>,
        plan: &TapePlan,
        dims: Dims,
        ws: &'a TrainWorkspace,
    ) -> Result<()> {
        let cfg = &self.config;
        let (nd, h, p) = (cfg.num_directions(), cfg.hidden_size, cfg.output_size());
        let gh = cfg.gates() * h;
        let (states, _) = plan.states();
        let [tape, xp, packed, lens, state] = [
            TrainBuf::Tape,
            TrainBuf::Xp,
            TrainBuf::Packed,
            TrainBuf::Lens,
            TrainBuf::State,
        ]
        .map(|b| ws.buffer(b));
        for (l, layer) in plan.layers.iter().enumerate() {
            let inp = cfg.layer_input_size(l);
            for d in 0..nd {
                let slot = &self.layout.slots[l * nd + d];
                // XP[row, d·GH + r] = Σ_i X[row, i]·W[r, i]
                rec.gemm(
                    (plan.rows, gh, inp),
                    (tape, View::rows(layer.input, inp)),
                    (&self.params, View::transposed(slot.w_ih.start, inp)),
                    (xp, d * gh, nd * gh),
                    false,
                )?;
            }
            for d in 0..nd {
                let slot = &self.layout.slots[l * nd + d];
                let at = d * (gh + h) * p;
                rec.transpose((gh, p), (&self.params, slot.w_hh.start), (packed, at))?;
                if let Some(w_hr) = &slot.w_hr {
                    rec.transpose((p, h), (&self.params, w_hr.start), (packed, at + gh * p))?;
                }
            }
            let [h0, c0, hn, cn] = states.map(offset);
            let params = SeqParams {
                h0: h0?,
                c0: c0?,
                hn: hn?,
                cn: cn?,
                ..self.seq_params(plan, dims, l)?
            };
            rec.push(
                TrainKernel::Forward(cfg.cell, plan.group),
                Params::Seq(params),
                vec![&self.params, xp, lens, tape, state, packed],
                [plan.sequence_groups, 1],
            )?;
        }
        Ok(())
    }
}
