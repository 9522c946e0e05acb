// A stream pool's rows moved by an index buffer: row b of the compact [L·D][B][width] block at
// `work_at` in the forward's working state is row slots[b] of the pool's [L·D][N][width] state.
// One invocation per float; the host folds a long grid into y (src/backend/gpu/grid.rs, fold_x).

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: PoolRowsParams;
@group(0) @binding(1) var<storage, read> slots: array<u32>;
@group(0) @binding(2) var<storage, read_write> pool: array<f32>;
@group(0) @binding(3) var<storage, read_write> work: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + nwg.x * wid.y) * WG + lid;
    let per_block = p.rows * p.width;
    if (i >= p.layers * per_block) {
        return;
    }
    let l = i / per_block;
    let b = (i % per_block) / p.width;
    let j = i % p.width;
    let at_pool = (l * p.pool_batch + slots[b]) * p.width + j;
    let at_work = p.work_at + (l * p.rows + b) * p.width + j;
    if (p.scatter == 0u) {
        work[at_work] = pool[at_pool];
    } else {
        pool[at_pool] = work[at_work];
    }
}
