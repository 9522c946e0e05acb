// dst[DST + c·ROWS + r] = src[SRC + r·COLS + c]: the recurrent and projection weights transposed
// for the training forward, which reads them along the units it spreads over invocations.

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

const X_ROWS: u32 = 0u;
const X_COLS: u32 = 1u;
const X_SRC: u32 = 2u;
const X_DST: u32 = 3u;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let c = id.x;
    let r = id.y;
    if (r < word(X_ROWS) && c < word(X_COLS)) {
        dst[word(X_DST) + c * word(X_ROWS) + r] = src[word(X_SRC) + r * word(X_COLS) + c];
    }
}
