//! One path for every request (forward, stream step, encode): the workspace for its shape, the
//! kernels, the plan checked against the device, recording, one submit and one readback.

use super::*;

/// Where a request's input comes from.
#[derive(Clone, Copy)]
pub(super) enum Source<'a> {
    /// Written through the queue (it lands before the next submission).
    Host(&'a Tensor),
    /// Copied from the caller's buffer at an offset, in command order.
    Caller(&'a wgpu::Buffer, u64),
}

/// Whose state a request runs on.
#[derive(Clone, Copy)]
pub(super) enum StateRef<'a> {
    /// The workspace's own, set from the host (zeros when `None`): a one-shot forward.
    Own(Option<&'a State>),
    /// A stream's (or rows of a stream pool's), which the request updates.
    Stream(StateRows<'a>),
}

/// Where a request's results go.
#[derive(Clone, Copy)]
pub(super) enum Sink<'a> {
    /// Mapped back: Y, and with `state` also h, c and the timestamps.
    Readback { state: bool },
    /// Copied into the caller's buffers.
    Caller(&'a EncodeTarget<'a>),
}

pub(super) struct Request<'a> {
    pub(super) dims: Dims,
    pub(super) source: Source<'a>,
    pub(super) seq_lens: Option<&'a [usize]>,
    pub(super) state: StateRef<'a>,
    pub(super) sink: Sink<'a>,
}

impl Lstm {
    pub(super) async fn one_shot(
        &self,
        input: &Tensor,
        initial: Option<&State>,
        seq_lens: Option<&[usize]>,
        wait: bool,
    ) -> Result<Output> {
        let dims = check_forward_request(&self.config, input, initial, seq_lens)?;
        let request = Request {
            dims,
            source: Source::Host(input),
            seq_lens,
            state: StateRef::Own(initial),
            sink: Sink::Readback { state: true },
        };
        let (raw, io) = self.run(request, None, wait).await?;
        let cfg = &self.config;
        // The staging buffer holds Y, every layer's h and c, as the plan sized them.
        let (y, rest) = raw.split_at(io.y as usize);
        let (h_n, rest) = rest.split_at(io.h as usize);
        let c_n = &rest[..io.c as usize];
        let [y, h_n, c_n] = [y, h_n, c_n].map(bytemuck::pod_collect_to_vec::<u8, f32>);
        let mut out = Output {
            y: Tensor::new(y_shape(cfg, dims), y)?,
            h_n: Tensor::new(state_shape(cfg, dims.batch, cfg.output_size()), h_n)?,
            c_n: Tensor::new(state_shape(cfg, dims.batch, cfg.cell_state_size()), c_n)?,
        };
        out.clear_empty(seq_lens)?;
        Ok(out)
    }

    /// A streamed chunk over a whole state or rows of a pool's (the caller holds it mutably).
    pub(super) async fn stream(
        &self,
        input: &Tensor,
        state: StateRows<'_>,
        seq_lens: Option<&[usize]>,
        wait: bool,
    ) -> Result<Tensor> {
        let dims = check_input(&self.config, input)?;
        check_lengths(seq_lens, dims, Lengths::MayBeZero)?;
        self.check_rows(state, dims.batch)?;
        let request = Request {
            dims,
            source: Source::Host(input),
            seq_lens,
            state: StateRef::Stream(state),
            sink: Sink::Readback { state: false },
        };
        let (raw, io) = self.run(request, None, wait).await?;
        Tensor::new(
            y_shape(&self.config, dims),
            bytemuck::pod_collect_to_vec(&raw[..io.y as usize]),
        )
    }

    /// Every request's path: the workspace for its shape, the kernels (tuned first where this
    /// call submits its own work), the plan checked against the device, then recording into the
    /// caller's encoder or our own, which is submitted once and read back once. Returns the bytes
    /// read back (none for the caller's encoder) and the plan's sizes of what they hold.
    pub(super) async fn run(
        &self,
        request: Request<'_>,
        encoder: Option<&mut wgpu::CommandEncoder>,
        wait: bool,
    ) -> Result<(Vec<u8>, IoSizes)> {
        let during = match request.sink {
            Sink::Readback { state: true } => "forward",
            Sink::Readback { state: false } => "stream step",
            Sink::Caller(_) => "encoding a forward",
        };
        scope::entry(
            &self.device,
            during,
            self.run_scoped(request, encoder, wait, during),
        )
        .await
    }

    pub(super) async fn run_scoped(
        &self,
        request: Request<'_>,
        encoder: Option<&mut wgpu::CommandEncoder>,
        wait: bool,
        during: &'static str,
    ) -> Result<(Vec<u8>, IoSizes)> {
        let mut slot = self.workspace.lock().await;
        let ws = self.ready_workspace(&mut slot, request.dims)?;
        if let Sink::Caller(target) = request.sink {
            check_target(target, ws.resources.io)?;
        }
        let mut autotune_submits = 0;
        let tune_started = Instant::now();
        // Timing kernels blocks on the device, which the web does not allow.
        let may_tune = encoder.is_none() && cfg!(not(target_arch = "wasm32"));
        let variants = self.choose(ws, may_tune, &mut autotune_submits)?;
        let autotune_ns = if autotune_submits > 0 {
            tune_started.elapsed().as_nanos() as u64
        } else {
            0
        };
        let plan = self.checked_plan(ws, variants)?;
        let pipelines = self.kernels.resolve(&plan)?;
        let mut stats = ForwardStats::new(plan.variants);
        stats.autotune_submits = autotune_submits;
        stats.autotune_ns = autotune_ns;
        let mut pass = PassStats::planned(plan.dispatches.len());
        let res = &ws.resources;
        let io = res.io;
        let rows = match request.state {
            StateRef::Own(_) => StateRows::Whole(&ws.own_state),
            StateRef::Stream(rows) => rows,
        };
        let staging = ws.buffer(Buf::Staging);
        let timestamps =
            matches!(request.sink, Sink::Readback { state: true }) && res.timestamps_at.is_some();
        let read_bytes = match request.sink {
            Sink::Readback { state: true } => {
                io.y + io.h + io.c + if timestamps { TIMESTAMP_BYTES } else { 0 }
            }
            Sink::Readback { state: false } => io.y,
            Sink::Caller(_) => 0,
        };
        let submission = capture(&self.device, during, || -> Result<_> {
            if let Source::Host(x) = request.source {
                self.queue
                    .write_buffer(ws.buffer(Buf::X), 0, bytemuck::cast_slice(x.data()));
                let lens = ws.lengths(request.seq_lens);
                self.queue
                    .write_buffer(ws.buffer(Buf::Lens), 0, bytemuck::cast_slice(&lens));
                pass.upload(io.x + io.lens);
            }
            if let StateRef::Own(initial) = request.state {
                match initial {
                    Some(s) => ws.own_state.set(&self.queue, s)?,
                    None => ws.own_state.reset(&self.queue),
                }
                pass.upload(io.h + io.c);
            }
            let index = match rows {
                StateRows::Rows { pool, slots } if self.pool_gather().indexes(slots) => {
                    let buffers = IndexBuffers {
                        work: ws.buffer(Buf::Work),
                        slots: ws.buffer(Buf::Slots),
                        params: ws.buffer(Buf::RowsParams),
                    };
                    let device = (&self.device, &self.queue);
                    IndexMoves::new(device, &self.kernels, res, buffers, (pool, slots))?
                }
                _ => None,
            };
            let state = StateMoves { rows, index };
            let started = Instant::now();
            let mut own = None;
            let encoder = match encoder {
                Some(e) => e,
                None => own.insert(
                    self.device
                        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                            label: Some("lstm forward"),
                        }),
                ),
            };
            if let Source::Caller(input, offset) = request.source {
                encoder.copy_buffer_to_buffer(input, offset, ws.buffer(Buf::X), 0, io.x);
                ws.encode_lengths(&self.device, encoder, request.seq_lens);
                stats.copies += 2;
            }
            let moved = ws.record(encoder, &plan, &pipelines, &state, timestamps);
            stats.copies += moved.copies;
            pass.dispatches += moved.dispatches;
            let ys = ws.buffer(Buf::Ys);
            match request.sink {
                Sink::Readback { state: with_state } => {
                    encoder.copy_buffer_to_buffer(ys, res.y_offset, staging, 0, io.y);
                    stats.copies += 1;
                    if with_state {
                        stats.copies += rows.encode_copies(encoder, staging, (io.y, io.y + io.h), false);
                    }
                    if let (true, Some(at)) = (timestamps, res.timestamps_at) {
                        let resolved = ws.buffer(Buf::Timestamps);
                        encoder.copy_buffer_to_buffer(resolved, 0, staging, at, TIMESTAMP_BYTES);
                        stats.copies += 1;
                    }
                }
                Sink::Caller(target) => {
                    let (output, offset) = (target.output, target.output_offset);
                    encoder.copy_buffer_to_buffer(ys, res.y_offset, output, offset, io.y);
                    stats.copies += 1;
                    if let Some(export) = &target.export_state {
                        let state = rows.state();
                        encoder.copy_buffer_to_buffer(&state.h, 0, export.h, export.h_offset, io.h);
                        encoder.copy_buffer_to_buffer(&state.c, 0, export.c, export.c_offset, io.c);
                        stats.copies += 2;
                    }
                }
            }
            let commands = own.map(|e| e.finish());
            stats.record_ns = started.elapsed().as_nanos() as u64;
            Ok(commands.map(|c| {
                pass.submit();
                self.queue.submit([c])
            }))
        })??;
        let mut raw = Vec::new();
        if read_bytes > 0 {
            raw =
                readback::read_bytes(&self.device, staging, read_bytes, submission.filter(|_| wait)).await?;
            pass.read_back(read_bytes);
            if let (true, Some(at)) = (timestamps, res.timestamps_at) {
                let tick = |at: u64| u64::from_le_bytes(raw[at as usize..][..8].try_into().expect("8 bytes"));
                let period = self.queue.get_timestamp_period() as f64;
                stats.gpu_ns = Some((tick(at + 8).saturating_sub(tick(at)) as f64 * period) as u64);
            }
        }
        stats.count(pass);
        self.set_stats(stats);
        Ok((raw, io))
    }

    /// The step kernels for the workspace's shape: forced, already chosen for its class on this
    /// device, or (when `may_tune`) timed now. Encoding into a caller's encoder cannot tune (see
    /// [`Lstm::variants`]).
    pub(super) fn choose(&self, ws: &Workspace, may_tune: bool, submits: &mut u32) -> Result<Variants> {
        let dims = ws.resources.dims;
        let key = self.step_key(dims);
        if self.forced.is_some() || !may_tune || self.tuning.known_step(&key).is_some() {
            return Ok(self.variants(dims));
        }
        let gemm = self.weights.plan.gemm;
        let ((step, schedule), _) = self.tuning.step(key, || {
            let (choice, times, n) = capture(&self.device, "autotuning", || {
                tune::step(&self.device, &self.queue, &self.kernels, ws, gemm)
            })??;
            *submits = n;
            Ok((choice, times))
        })?;
        Ok(Variants { gemm, step, schedule })
    }

    pub(super) fn step_key(&self, dims: Dims) -> StepKey {
        StepKey::new(&self.config, dims, self.weights.plan.stacked)
    }

    /// The plan of `variants` over the workspace, checked against the device.
    pub(super) fn checked_plan(&self, ws: &Workspace, variants: Variants) -> Result<Plan> {
        let plan = ws.resources.plan(variants);
        limits::plan(&self.device.limits(), &plan)?;
        Ok(plan)
    }

    /// The resources of a forward of shape `dims`, checked against the device.
    pub(super) fn resources(&self, dims: Dims) -> Result<Resources> {
        let resources = Resources::new(&self.config, &self.weights.plan, dims, self.target)?;
        limits::resources(&self.device.limits(), &resources)?;
        Ok(resources)
    }

    /// A whole state must be of the request's batch; a pool's rows must be as many, distinct,
    /// and inside the pool.
    pub(super) fn check_rows(&self, rows: StateRows<'_>, batch: usize) -> Result<()> {
        let StateRows::Rows { pool, slots } = rows else {
            return self.check_state(rows.state(), batch);
        };
        self.check_state(pool, pool.shape.batch)?;
        if slots.len() != batch {
            return Err(Error::invalid(
                "a pool step",
                format!("{} rows for a batch of {batch}", slots.len()),
            ));
        }
        let mut seen = vec![false; pool.shape.batch];
        for &slot in slots {
            if slot >= pool.shape.batch || std::mem::replace(&mut seen[slot], true) {
                return Err(Error::invalid(
                    "a pool step",
                    format!("row {slot} is repeated or outside 0..{}", pool.shape.batch),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn check_state(&self, state: &LstmState, batch: usize) -> Result<()> {
        let expected = StateShape::new(&self.config, batch);
        if state.shape != expected {
            return Err(Error::shape(
                "LstmState h ([L·D, B, P])",
                &[expected.slots, expected.batch, expected.out],
                &[state.shape.slots, state.shape.batch, state.shape.out],
            ));
        }
        Ok(())
    }

    /// The workspace for `dims`, built (after checking its resources against the device's
    /// limits) if the shape changed.
    pub(super) fn ready_workspace<'w>(
        &self,
        slot: &'w mut Option<Workspace>,
        dims: Dims,
    ) -> Result<&'w Workspace> {
        if slot.as_ref().is_none_or(|ws| ws.resources.dims != dims) {
            *slot = None;
            let resources = self.resources(dims)?;
            *slot = Some(capture(&self.device, "allocating buffers", || {
                Workspace::new(
                    &self.device,
                    &self.config,
                    self.kernels.store(),
                    &self.weights,
                    resources,
                )
            })?);
        }
        Ok(slot.as_ref().expect("workspace just built"))
    }

    pub(super) fn set_stats(&self, stats: ForwardStats) {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner()) = stats;
    }
}

/// The caller's buffers must have the usages and room for X, Y and the exported state.
pub(super) fn check_target(target: &EncodeTarget<'_>, io: IoSizes) -> Result<()> {
    let (src, dst) = (wgpu::BufferUsages::COPY_SRC, wgpu::BufferUsages::COPY_DST);
    check_buffer("input", target.input, target.input_offset, io.x, src)?;
    check_buffer("output", target.output, target.output_offset, io.y, dst)?;
    if let Some(export) = &target.export_state {
        check_buffer("export_state.h", export.h, export.h_offset, io.h, dst)?;
        check_buffer("export_state.c", export.c, export.c_offset, io.c, dst)?;
    }
    Ok(())
}

/// A caller buffer must have the usage, a 4-byte aligned offset, and room for `bytes`.
pub(super) fn check_buffer(
    name: &'static str,
    buffer: &wgpu::Buffer,
    offset: u64,
    bytes: u64,
    usage: wgpu::BufferUsages,
) -> Result<()> {
    let fail = |requirement: String| Err(Error::Buffer { name, requirement });
    let names = |u: wgpu::BufferUsages| u.iter_names().map(|(n, _)| n).collect::<Vec<_>>().join(" | ");
    if !buffer.usage().contains(usage) {
        return fail(format!(
            "usage must include {} (has {})",
            names(usage),
            names(buffer.usage())
        ));
    }
    if !offset.is_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT) {
        return fail(format!(
            "offset {offset} must be a multiple of {}",
            wgpu::COPY_BUFFER_ALIGNMENT
        ));
    }
    if offset.checked_add(bytes).is_none_or(|end| end > buffer.size()) {
        return fail(format!(
            "needs {bytes} bytes from offset {offset}, but the buffer has {} bytes",
            buffer.size()
        ));
    }
    Ok(())
}
