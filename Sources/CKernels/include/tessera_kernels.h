// Tessera's hot numeric kernels, in C so they get intrinsics and run-time CPU dispatch.
//
// Why C: measured on this project's machine, Swift SIMD reached 5–12 GFLOP/s on Q4_1 dot
// products where C reached 66–75. Everything around these kernels stays in Swift.
//
// The arithmetic contract (what makes Tessera's results reproducible):
// - Quantized weights (Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q6_K) multiply 8-bit quantized
//   activations in 32-element blocks. Block i contributes its exact integer dot product
//   p_i = Σ w_e·x_e (Q4_0's weights are q − 8, Q5_0's q − 16, Q4_1's and Q4_K's the nibble q,
//   Q8_0's the signed byte; Q6_K's p_i = sa·Σ_{e<16} (q−32)·x + sb·Σ_{e≥16} (q−32)·x with the
//   block's two signed 16-element scales), converted to float — exact, since |p_i| < 2^24.
//   One accumulator per output takes acc = fma(dw_i · dx_i, p_i, acc) block after block
//   (dw_i · dx_i an f32 product; Q4_K's dw_i is d · scale_i, exact in f32), and minimum terms
//   add up in order as m = fma(mw_i, sx_i, m) (Q4_1: mw = m; Q4_K: mw = dmin · min_i, exact);
//   the result is acc + m (Q4_1), acc − m (Q4_K) or acc.
//   K-quants' 256-element super-blocks are cut into their 32-element sub-blocks, each
//   carrying its super-block's d (and dmin): activations keep one scale per 32 elements for
//   every type, which is finer than ggml's Q8_K (one per 256) and never coarser.
// - Float weights (F32, F16, BF16) multiply f32 activations; within a 32-block, lane l adds
//   w[8k+l]*x[8k+l] for k = 0..3 in order, the lanes combine by a fixed tree, blocks add in
//   order.
// - Compiled with -ffp-contract=off: the compiler fuses nothing on its own; fused
//   multiply-adds appear only where the contract says, so every implementation (portable,
//   AVX2, AVX-512) of a kernel gives the same bits for the same inputs, on any machine.
//   Integer sums may be formed in any order (they are exact), which is what lets the SIMD
//   kernels put one output row in each vector lane.
// - A row's result never depends on the batch it is in or the thread that computes it.
#ifndef TESSERA_KERNELS_H
#define TESSERA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// ggml type codes of the weight types the kernels compute with.
enum {
  TK_TYPE_F32 = 0,
  TK_TYPE_F16 = 1,
  TK_TYPE_Q4_0 = 2,
  TK_TYPE_Q4_1 = 3,
  TK_TYPE_Q5_0 = 6,
  TK_TYPE_Q8_0 = 8,
  TK_TYPE_Q4_K = 12,
  TK_TYPE_Q6_K = 14,
  TK_TYPE_BF16 = 30,
};

// MARK: - Packed layouts
//
// Quantized weights are repacked at load into panels of TK_PANEL_ROWS = 16 rows (the last
// panel padded with zero rows), so a SIMD kernel computes 16 rows at once, one per 32-bit lane,
// and streams the weights in one sequential pass. A panel of rows of n elements is n/32
// blocks, one after the other; a block holds the 16 rows' quants, then their 16 scales d as
// f16, then (Q4_1) their 16 minimums m as f16 — the same bytes as ggml's, reordered:
// - Q8_0: element e of row r is the signed byte at (e/4)·64 + 4r + e%4   (512 bytes)
// - Q4_0, Q4_1, Q4_K: with k = e/4, the byte at (k/2)·64 + 4r + e%4 holds it in its low nibble
//   (k even) or high nibble (k odd)   (256 bytes)
// - Q5_0: the low four bits as Q4_0's, then eight 64-bit words, word k's bit 4r + e%4 the fifth
//   bit of element e = 4k + e%4   (320 bytes)
// - Q6_K: the unsigned 6-bit q at Q8_0's place   (512 bytes)
// so each 64 bytes hold four consecutive elements of every row, lane r = row r. After the
// quants: d (f16 × 16) for every type; then Q4_1's m (f16 × 16); Q4_K's dmin (f16 × 16), the
// sub-block's 6-bit scales (u8 × 16) and minimums (u8 × 16); Q6_K's scales of the first and of
// the second 16 elements (i8 × 16 each).
// Activations are quantized into rows of
//   qs[n] int8 | d[nb] f32 | s[nb] f32 | sum[nb] int32 | half[nb] int32:
// x[j] ≈ qs[j]·d[block], sum = Σqs and half = Σ of the first 16 (exact), s = d·sum (the minimum
// term); d and s are rounded to f16 as ggml stores them.

enum { TK_PANEL_ROWS = 16 };

/// Bytes of one panel (16 rows) of `n` elements of a quantized type (0 for other types).
size_t tk_packed_panel_bytes(int type, int n);

/// Bytes of a packed matrix of `rows` rows of `n` elements (whole panels).
size_t tk_packed_matrix_bytes(int type, int rows, int n);

/// Repacks `rows` rows from ggml's layout (`src_row_bytes` apart) into panels; the packed rows
/// keep `n` of them starting at element `col_begin`
/// (both multiples of 32), so a tensor-parallel shard packs only its own columns.
void tk_pack_matrix(int type, const void *src, size_t src_row_bytes, int col_begin, int n,
                    int rows, uint8_t *dst);

/// Expands row `row` of a packed matrix (rows of `n` elements) back into floats.
void tk_dequantize_packed_row(int type, const uint8_t *matrix, int n, int row, float *out);

/// Bytes of one quantized activation row of `n` elements.
size_t tk_q8_row_bytes(int n);

/// Quantizes `rows` rows of `n` floats (n % 32 == 0) into packed activation rows.
void tk_quantize_rows_q8(const float *x, int rows, int n, uint8_t *out);

/// The kernels' f16 conversions (round to nearest even), exposed for tests.
uint16_t tk_f16_from_f32(float value);
float tk_f32_from_f16(uint16_t bits);

/// Whether the type multiplies quantized activations (else float activations).
int tk_type_uses_q8(int type);

/// Expands `n` elements of `type` in ggml's layout into floats.
void tk_dequantize_row(int type, const void *row, int n, float *out);

/// Row `row` of a weight matrix (`n` elements per row) times a whole activation row: for
/// quantized types `matrix` is packed and `xq` a packed activation row; for float types
/// `matrix` holds rows in ggml's layout and `xf` the activations. The portable implementation
/// of the contract.
float tk_dot_row(int type, const uint8_t *matrix, int n, int row, const uint8_t *xq,
                 const float *xf);

/// The same with the fastest implementation this CPU supports (the one products use).
float tk_dot_row_fast(int type, const uint8_t *matrix, int n, int row, const uint8_t *xq,
                      const float *xf);

/// The name of the kernel set in use: "avx512vnni", "avxvnni", "avx2" or "portable".
const char *tk_kernel_name(void);

/// Kernel sets, from the most portable up. AVX-VNNI is the 256-bit `vpdpbusd` of CPUs that
/// have it without AVX-512 (a CPU may have either, both or neither).
enum {
  TK_KERNELS_PORTABLE = 0,
  TK_KERNELS_AVX2 = 1,
  TK_KERNELS_AVX_VNNI = 2,
  TK_KERNELS_AVX512_VNNI = 3
};

/// The best kernel set this CPU supports.
int tk_kernels_supported(void);

/// Whether this CPU runs kernel set `level`.
int tk_kernels_available(int level);

/// The kernel set in use (the best available one at most the limit).
int tk_kernel_level(void);

/// Uses no kernel set above `level` (the best available one at most `level`); -1 lifts the
/// limit. (The executable sets it from TESSERA_KERNELS at start: Core's KernelLevel.)
void tk_limit_kernels(int level);

/// This core's streaming read bandwidth in bytes per second: a `bytes` buffer (beyond the
/// caches) read `passes` times by each of a 64-bit scalar, an AVX2 and an AVX-512 loop with
/// prefetch (those the CPU has), the fastest loop's rate. `fastest` (may be NULL) gets that
/// loop: 0 scalar, 1 AVX2, 2 AVX-512. 0 when the buffer cannot be allocated.
double tk_read_bandwidth(size_t bytes, int passes, int *fastest);

// MARK: - Thread pool

/// A persistent pool of worker threads. Workers spin briefly for new work, then sleep.
typedef struct tk_pool tk_pool;

/// Creates a pool running work on `thread_count` threads (the caller's thread included).
tk_pool *tk_pool_create(int thread_count);
void tk_pool_destroy(tk_pool *pool);
int tk_pool_thread_count(const tk_pool *pool);

/// Runs `fn(ctx, thread_index, thread_count)` on the caller (thread 0) and on every worker
/// that joins before the caller has finished, and returns when all of those are done. A task
/// must therefore claim its work from a counter in `ctx` until none is left, so that any subset
/// of the threads completes it; `thread_index` is unique among the threads running it (for
/// per-thread scratch).
typedef void (*tk_task_fn)(void *ctx, int thread_index, int thread_count);
void tk_pool_run(tk_pool *pool, tk_task_fn fn, void *ctx);

/// Tells idle workers to sleep now rather than spin: the caller will not dispatch work for a
/// while (a server samples and sends between steps), and their cores are better left idle for
/// other threads. The next tk_pool_run wakes them; it starts on the caller at once and the
/// workers join as they wake.
void tk_pool_rest(tk_pool *pool);

// MARK: - Matrix products

/// out[b][r] = Σ_{c < col_count} W[row_begin + r][col_begin + c] · x[b][x_col_begin + c], for
/// r < row_count and b < batch.
typedef struct {
  int type;
  const uint8_t *weight;  // packed panels (quantized types) or ggml rows (float types)
  size_t stride_bytes;    // from one panel (quantized types) or one row (float types) to the next
  int row_elements;       // elements in a whole weight row
  int col_begin;          // first weight column used; 32-aligned
  int col_count;          // a multiple of 32
  int row_begin;          // first weight row used (any row; panels are found from it)
  int row_count;
  int batch;
  const uint8_t *xq;      // packed activation rows, for quantized weight types
  const float *xf;        // f32 activation rows, for float weight types
  int x_row_elements;     // elements per activation row
  int x_col_begin;        // where this product's columns start in an activation row
  float *out;             // [batch][out_stride]
  int out_stride;
} tk_matmul_desc;

/// Computes several products in one pool dispatch; threads split each product by rows (whole
/// panels for quantized types).
void tk_matmul(tk_pool *pool, const tk_matmul_desc *descs, int count);

// MARK: - Small ops

/// out = x / sqrt(mean(x²) + eps) * weight, for `rows` rows of `n`.
void tk_rmsnorm(const float *x, const float *weight, float *out, int rows, int n, float eps);

/// Rotates pairs (x[2i], x[2i+1]) of each head by position · base^(-2i/dims), llama.cpp's
/// "normal" RoPE. x is [rows][head_count * head_dim]; positions[rows].
void tk_rope(float *x, const int32_t *positions, int rows, int head_count, int head_dim,
             int rope_dims, float freq_base);

/// out[i] = silu(gate[i]) * up[i].
void tk_swiglu(const float *gate, const float *up, float *out, int n);

/// RoPE in NEOX style (Gemma): dimension i of a head turns with dimension i + rope_dims/2,
/// by the same angles as tk_rope, built the same way.
void tk_rope_neox(float *x, const int32_t *positions, int rows, int head_count, int head_dim,
                  int rope_dims, float freq_base);

/// out = GELU(gate) · up with GELU's tanh form, as ggml computes it: the gate rounded to f16,
/// 0.5·g·(1 + tanh(√(2/π)·g·(1 + 0.044715·g²))) rounded to f16 (from a table of every f16
/// value, as ggml's), times up;
/// 0 for gate ≤ −10 and gate · up for gate ≥ 10.
void tk_geglu(const float *gate, const float *up, float *out, int n);

/// x[i] += Σ_u partials[u][i], the unit partials added to each other in unit order first.
/// partials is [unit_count][n] with stride `unit_stride` between units.
void tk_fold_partials(float *x, const float *partials, int unit_count, size_t unit_stride, int n);

// MARK: - Row-parallel versions of the small ops
//
// The same operations split by rows across the pool (each row computed exactly as by the
// single-threaded version), so prefill's element-wise work does not leave the other threads
// idle — idle long enough, they go to sleep, and waking them costs more than the work.

void tk_quantize_rows_q8_parallel(tk_pool *pool, const float *x, int rows, int n, uint8_t *out);
void tk_rmsnorm_parallel(tk_pool *pool, const float *x, const float *weight, float *out, int rows,
                         int n, float eps);
void tk_swiglu_parallel(tk_pool *pool, const float *gate, const float *up, float *out, int rows,
                        int n);
void tk_geglu_parallel(tk_pool *pool, const float *gate, const float *up, float *out, int rows,
                       int n);

// MARK: - Attention over a paged KV cache

/// Keys and values of one layer: [block][block_size][kv_dim] in f16, separately for K and V.
typedef struct {
  const uint16_t *keys;
  const uint16_t *values;
  int block_size;
  int kv_dim;
} tk_kv_layer;

/// Stores k and v rows ([rows][kv_dim] f32) at the given cache slots (block * block_size +
/// offset), converting to f16.
void tk_kv_store(uint16_t *keys, uint16_t *values, int kv_dim, const float *k, const float *v,
                 const int32_t *slots, int rows);

/// Causal attention for `rows` query tokens. Token t attends to keys 0...positions[t] of its
/// sequence — with `window` > 0 only to the last `window` of them (positions[t] - window + 1
/// on: a sliding-window layer) — found through block_tables + table_offsets[t] (a list of
/// physical blocks).
/// q is [rows][head_count * head_dim]; out likewise. scratch holds per-thread score buffers of
/// TK_ATTENTION_TILE_QUERIES × max_keys floats each (thread_count of them): that many queries
/// of one sequence and KV head run at once.
enum { TK_ATTENTION_TILE_QUERIES = 16 };

typedef struct {
  tk_kv_layer layer;
  const float *q;
  float *out;
  int rows;
  int head_count;          // the query heads here
  int kv_head_count;       // the KV heads they read
  int heads_per_kv_head;   // the model's query heads per KV head
  int first_head_offset;   // where query head 0 sits in KV head 0's group
  int head_dim;
  const int32_t *positions;
  const int32_t *block_tables;
  const int32_t *table_offsets;
  float *scratch;
  int max_keys;
  int window;
} tk_attention_desc;

void tk_attention(tk_pool *pool, const tk_attention_desc *desc);

/// From how many keys a step of one tile (a decode of one sequence whose query heads share a
/// KV head) is split across the pool's threads: by keys for the scores, by query for the
/// softmax, by output dimensions for p·v, the same bits as unsplit (default 2048; tests lower
/// it; 0 restores the default).
void tk_attention_split_min_keys(int keys);

// MARK: - Sampling sums (sampling.c)

/// e^x from IEEE-754 basic operations only: the same bits on every machine (a few ulps from
/// the true value). NaN stays NaN; overflow gives +inf, underflow 0.
double tk_exp(double x);

/// Σ tk_exp(((double)logit - (double)max_logit) / divisor) over logits[ids[i]] for i < count
/// (logits[i] when ids is NULL); NaN logits count as -inf. The order is fixed, so the bits are
/// the same at every kernel level: eight lane sums (lane j adds terms j, j + 8, j + 16, … one
/// after another), then ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)).
double tk_exp_sum(const float *logits, const int32_t *ids, int count, float max_logit,
                  double divisor);

/// Sampling weights in float, the same bits at every kernel level:
/// weights[i] = e^((logits[i] - max_logit) / temperature) for logits ≤ max_logit, computed from
/// basic operations (see sampling.c), 0 below e^-87 and for NaN.
void tk_sample_weights(const float *logits, int count, float max_logit, float temperature,
                       float *weights);

/// An inverse-CDF draw over every token in id order (for sampling without truncation): the
/// first id whose running weight, in double, exceeds uniform · Σ weights. Blocks of 64 ids are
/// summed in id order, the total over blocks in order; the walk skips whole blocks by their
/// sums. `weights` is scratch of `count` floats, `block_sums` of ⌈count / 64⌉ doubles. Returns
/// -1 only if every weight is 0.
int tk_draw_in_id_order(const float *logits, int count, float max_logit, float temperature,
                        double uniform, float *weights, double *block_sums);

/// out[i] = in[i], with NaN replaced by -inf.
void tk_copy_without_nan(const float *in, float *out, int count);

/// The lowest index holding the largest value of a row without NaN (0 if every value is -inf,
/// -1 if the row is empty).
int tk_argmax(const float *row, int count);

/// The sampler's counting sort of token ids by distance from the largest logit: bucket b < near
/// holds ids with b ≤ (max - logit) · per_nat < b + 1 (computed in float as
/// (int)((max - logit) * per_nat) when max - logit < near / per_nat), bucket `near` every
/// farther id; -inf and NaN logits are left out. Writes bucket b's members, in id order, to
/// out[start[b] ..< start[b + 1]] for b in 0...near (start has near + 2 entries) and returns
/// how many ids were placed. bucket_of is scratch of `count` entries.
int tk_bucket_candidates(const float *logits, int count, float max_logit, float per_nat,
                         int near_count, uint16_t *bucket_of, int32_t *start, int32_t *out);

#ifdef __cplusplus
}
#endif

#endif
