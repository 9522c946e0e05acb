//! The dispatches of a training pass, listed before anything is recorded: each with its kernel,
//! parameters, buffers and grid. The grid limits are checked as they are listed; the list is
//! counted for the statistics and then recorded into one compute pass, every uniform block in one
//! buffer.

use super::kernels::{MatmulParams, Params, TrainKernel, TransposeParams, GEMM_TILE, GEMM_WIDE, TILED_MIN};
use crate::backend::gpu::grid;
use crate::backend::gpu::pipelines::{bind_group, Pipelines};
use crate::backend::gpu::stats::TrainKernels;
use crate::error::{Error, Result};

/// One dispatch.
pub(crate) struct Dispatch<'a> {
    kernel: TrainKernel,
    params: Params,
    buffers: Vec<&'a wgpu::Buffer>,
    grid: [u32; 3],
}

/// A strided view of a matrix in a buffer: element (i, j) at `offset + i·rows + j·cols`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View {
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
}

impl View {
    /// A row-major matrix with `width` columns starting at `offset`.
    pub fn rows(offset: usize, width: usize) -> View {
        View {
            offset,
            rows: width,
            cols: 1,
        }
    }

    /// The transpose of a row-major matrix with `width` columns starting at `offset`.
    pub fn transposed(offset: usize, width: usize) -> View {
        View {
            offset,
            rows: 1,
            cols: width,
        }
    }

    /// A single value read for every element (a row of ones when it holds 1).
    pub fn broadcast(offset: usize) -> View {
        View {
            offset,
            rows: 0,
            cols: 0,
        }
    }
}

/// The dispatches of one submission.
pub(crate) struct Recorder<'a> {
    max_groups: u32,
    dispatches: Vec<Dispatch<'a>>,
}

fn word(what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Overflow {
        what: format!("{what} (offsets index with 32 bits on the GPU)"),
    })
}

impl<'a> Recorder<'a> {
    pub fn new(limits: &wgpu::Limits) -> Self {
        Recorder {
            max_groups: limits.max_compute_workgroups_per_dimension,
            dispatches: Vec::new(),
        }
    }

    /// Add a dispatch of `grid` workgroups: the GEMMs' rows past the device's limit fold into z,
    /// the sequence kernels' (direction, group) pairs and the update's workgroups into y
    /// (`grid.rs`).
    pub fn push(
        &mut self,
        kernel: TrainKernel,
        params: Params,
        buffers: Vec<&'a wgpu::Buffer>,
        grid: [usize; 2],
    ) -> Result<()> {
        let logical = [grid[0] as u64, grid[1] as u64, 1];
        let max = self.max_groups as u64;
        let folded = match kernel {
            TrainKernel::Gemm | TrainKernel::GemmDirect => grid::fold_y(logical, max),
            TrainKernel::Forward(..) | TrainKernel::Backward(..) | TrainKernel::Update => {
                grid::fold_x(logical, max)
            }
            _ => logical,
        };
        let mut g = [0u32; 3];
        for (slot, n) in g.iter_mut().zip(folded) {
            if n > max {
                return Err(Error::DeviceLimit {
                    limit: "max_compute_workgroups_per_dimension",
                    needed: n,
                    available: max,
                    hint: "; use a smaller batch or sequence",
                });
            }
            *slot = n as u32;
        }
        debug_assert_eq!(buffers.len() + 1, kernel.kernel().bindings.len());
        debug_assert!(matches!(
            (kernel, &params),
            (
                TrainKernel::Forward(..) | TrainKernel::Backward(..),
                Params::Seq(_)
            ) | (TrainKernel::Gemm | TrainKernel::GemmDirect, Params::Matmul(_))
                | (TrainKernel::Transpose, Params::Transpose(_))
                | (TrainKernel::Norm | TrainKernel::Update, Params::Optimizer(_))
        ));
        self.dispatches.push(Dispatch {
            kernel,
            params,
            buffers,
            grid: g,
        });
        Ok(())
    }

    /// C (+)= A·B for an `m`×`k` A and a `k`×`n` B: in tiles when every side is at least
    /// [`TILED_MIN`], directly otherwise.
    #[allow(clippy::too_many_arguments)]
    pub fn gemm(
        &mut self,
        (m, n, k): (usize, usize, usize),
        a: (&'a wgpu::Buffer, View),
        b: (&'a wgpu::Buffer, View),
        c: (&'a wgpu::Buffer, usize, usize),
        accumulate: bool,
    ) -> Result<()> {
        let what = "a training GEMM";
        let params = MatmulParams {
            m: word(what, m)?,
            n: word(what, n)?,
            k: word(what, k)?,
            a_off: word(what, a.1.offset)?,
            a_rs: word(what, a.1.rows)?,
            a_cs: word(what, a.1.cols)?,
            b_off: word(what, b.1.offset)?,
            b_rs: word(what, b.1.rows)?,
            b_cs: word(what, b.1.cols)?,
            c_off: word(what, c.1)?,
            c_rs: word(what, c.2)?,
            accumulate: accumulate as u32,
        };
        let (kernel, tile) = if m.min(n).min(k) >= TILED_MIN {
            (TrainKernel::Gemm, GEMM_WIDE as usize)
        } else {
            (TrainKernel::GemmDirect, GEMM_TILE as usize)
        };
        self.push(
            kernel,
            Params::Matmul(params),
            vec![a.0, b.0, c.0],
            [n.div_ceil(tile), m.div_ceil(tile)],
        )
    }

    /// `dst` at `to` = the transpose of the `rows`×`cols` row-major matrix at `from` in `src`.
    pub fn transpose(
        &mut self,
        (rows, cols): (usize, usize),
        (src, from): (&'a wgpu::Buffer, usize),
        (dst, to): (&'a wgpu::Buffer, usize),
    ) -> Result<()> {
        let what = "a transpose";
        let params = TransposeParams {
            rows: word(what, rows)?,
            cols: word(what, cols)?,
            src_off: word(what, from)?,
            dst_off: word(what, to)?,
        };
        let tile = GEMM_TILE as usize;
        self.push(
            TrainKernel::Transpose,
            Params::Transpose(params),
            vec![src, dst],
            [cols.div_ceil(tile), rows.div_ceil(tile)],
        )
    }

    /// Dispatches listed so far.
    pub fn count(&self) -> u32 {
        self.dispatches.len() as u32
    }

    /// The kernels of the dispatches listed so far.
    pub fn kernels(&self) -> TrainKernels {
        self.dispatches
            .iter()
            .fold(TrainKernels::default(), |set, d| set.with(d.kernel.kernel()))
    }

    /// Bytes of the uniform blocks of the dispatches listed, at the device's offset alignment.
    pub fn uniform_bytes(&self, device: &wgpu::Device) -> u64 {
        block_stride(device) * self.dispatches.len().max(1) as u64
    }

    /// Write every dispatch's uniform block to `uniforms` (at least
    /// [`Recorder::uniform_bytes`]) and record the dispatches into one compute pass of `encoder`,
    /// compiling (through the device's pipeline store) the kernels not compiled yet.
    pub fn encode(
        self,
        pipelines: &Pipelines,
        queue: &wgpu::Queue,
        uniforms: &wgpu::Buffer,
        encoder: &mut wgpu::CommandEncoder,
    ) -> Result<()> {
        let device = pipelines.device();
        let align = block_stride(device);
        let mut bytes = vec![0u8; (align * self.dispatches.len().max(1) as u64) as usize];
        for (i, d) in self.dispatches.iter().enumerate() {
            let block = d.params.bytes();
            let at = i * align as usize;
            bytes[at..at + block.len()].copy_from_slice(block);
        }
        queue.write_buffer(uniforms, 0, &bytes);
        let mut recorded = Vec::with_capacity(self.dispatches.len());
        for (i, d) in self.dispatches.iter().enumerate() {
            let kernel = d.kernel.kernel();
            let pipeline = pipelines.get(kernel, &[])?;
            let mut resources = vec![wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: uniforms,
                offset: i as u64 * align,
                size: wgpu::BufferSize::new(d.params.bytes().len() as u64),
            })];
            resources.extend(d.buffers.iter().map(|b| b.as_entire_binding()));
            let group = bind_group(device, &pipelines.layout(kernel), kernel.name, &resources);
            recorded.push((pipeline, group, d.grid));
        }
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("training"),
            timestamp_writes: None,
        });
        for (pipeline, group, grid) in &recorded {
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
        }
        Ok(())
    }
}

/// Bytes between two dispatches' uniform blocks: the largest block, rounded up to the device's
/// offset alignment.
fn block_stride(device: &wgpu::Device) -> u64 {
    let align = (device.limits().min_uniform_buffer_offset_alignment as u64).max(1);
    (Params::MAX_BYTES as u64).div_ceil(align) * align
}
