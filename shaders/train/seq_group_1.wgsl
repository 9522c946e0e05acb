// Composed in front of the training sequence kernels for one sequence per workgroup (batches
// under SEQ_GROUP of seq_group_8.wgsl). A constant, not an override: it sizes function arrays.
const SEQ_GROUP: u32 = 1u;
