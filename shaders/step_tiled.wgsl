// One timestep for large batches: a workgroup computes TILE_UNITS hidden units of TILE_BATCH
// batch elements in one direction. The recurrent product walks k in slices of TILE_K, each
// staged in workgroup memory: TILE_K × TILE_UNITS vec4s of R and TILE_BATCH × TILE_K values of h
// (one float of padding per batch row). So a workgroup reads each vec4 of its units' R once per
// step for all TILE_BATCH elements, and R is read B / TILE_BATCH times per step instead of
// B / 8 times as in step.wgsl. Invocation i owns unit u = i % TILE_UNITS of the batch elements
// g, g + G, ... below TILE_BATCH, with g = i / TILE_UNITS and G = TILE_WG / TILE_UNITS, and
// updates their cells (shared/cell.wgsl). Layer by layer only.

const TILE_WG: u32 = 256u;
const TILE_K: u32 = 16u;
const TILE_MAX_UNITS: u32 = 16u;
const TILE_MAX_BATCH: u32 = 64u;
const TILE_MAX_PER: u32 = 4u;
// Units per workgroup: 8 or 16.
override TILE_UNITS: u32 = 16u;
// Batch elements per workgroup: 32 or 64 (at most TILE_MAX_PER per invocation).
override TILE_BATCH: u32 = 64u;

var<workgroup> r_tile: array<vec4<f32>, TILE_K * TILE_MAX_UNITS>; // [k][u]
var<workgroup> h_tile: array<f32, TILE_MAX_BATCH * (TILE_K + 1u)>; // [b][k]

@compute @workgroup_size(TILE_WG, 1, 1)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let bd = unfold_yz(wid, nwg, p.grid_z);
    if (bd.x * TILE_BATCH >= p.batch) {
        return;
    }
    let i = lid.x;
    let groups = TILE_WG / TILE_UNITS;
    let per = max(TILE_BATCH / groups, 1u);
    let u = i % TILE_UNITS;
    let g = i / TILE_UNITS;
    let j0 = wid.x * TILE_UNITS;
    let b0 = bd.x * TILE_BATCH;
    let d = bd.y;
    let l = p.layer;
    let s = p.step;
    let hidden = p.hidden;
    let r_col = r_base(p, l) + d * p.out_size * hidden;
    let h_row = TILE_K + 1u;

    var z: array<vec4<f32>, TILE_MAX_PER>;
    for (var k0 = 0u; k0 < p.out_size; k0 += TILE_K) {
        for (var e = i; e < TILE_K * TILE_UNITS; e += TILE_WG) {
            let kk = e / TILE_UNITS;
            let uu = e % TILE_UNITS;
            var v = vec4<f32>(0.0);
            if (k0 + kk < p.out_size && j0 + uu < hidden) {
                v = weight4(r_col + (k0 + kk) * hidden + j0 + uu);
            }
            r_tile[kk * TILE_UNITS + uu] = v;
        }
        for (var e = i; e < TILE_BATCH * TILE_K; e += TILE_WG) {
            let bb = e / TILE_K;
            let kk = e % TILE_K;
            var v = 0.0;
            if (k0 + kk < p.out_size && b0 + bb < p.batch) {
                v = state[h_half(p, l, s & 1u) + (d * p.batch + b0 + bb) * p.out_size + k0 + kk];
            }
            h_tile[bb * h_row + kk] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk++) {
            let rk = r_tile[kk * TILE_UNITS + u];
            for (var q = 0u; q < per; q++) {
                let bb = g + q * groups;
                if (bb < TILE_BATCH) {
                    z[q] = fma(vec4<f32>(h_tile[bb * h_row + kk]), rk, z[q]);
                }
            }
        }
        workgroupBarrier();
    }
    let j = j0 + u;
    if (j >= hidden) {
        return;
    }
    for (var q = 0u; q < per; q++) {
        let b = b0 + g + q * groups;
        if (g + q * groups < TILE_BATCH && b < p.batch) {
            let len = seq_lens[b];
            var zq = z[q];
            if (s < len) {
                zq += xp[(seq_row(p, seq_t(p, d, s, len), b) * p.directions + d) * hidden + j];
            }
            update(j, b, d, l, s, zq);
        }
    }
}
