// Row-invariant matrix products for the decode and prefill paths (issue 19).
//
// C (M, N) = A (M, K) · Wᵀ, with W stored (N, K) as PyTorch stores a linear layer's weight. Every element
// C[i][j] is computed by one fixed sequence of vector operations over row i of A and row j of W, whatever M,
// N, the tiling or the thread split: so a request's logits do not depend on what else is in the batch.
// The sequence does depend on the instruction set picked at run time (see rz_kernel_level), so replicas
// that must agree to the bit have to run on the same kind of CPU.
#ifndef RZ_KERNELS_H
#define RZ_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction sets, in increasing order. The kernels use the highest one the CPU (and OS) supports,
/// or a lower one if asked (rz_set_kernel_level).
enum {
    RZ_LEVEL_PORTABLE = 0,  // plain C (16 lanes in arrays); any CPU
    RZ_LEVEL_AVX2 = 1,      // AVX2 + FMA; BF16 weights are widened in registers
    RZ_LEVEL_AVX512 = 2,    // AVX-512 F/BW; BF16 weights still widened
    RZ_LEVEL_AVX512BF16 = 3 // + AVX512-BF16 (vdpbf16ps): BF16 products
};

/// The highest level this CPU supports.
int rz_kernel_supported_level(void);
/// The level in use (the supported one unless lowered).
int rz_kernel_level(void);
/// Uses `level` if supported, else the highest supported one below it; returns the level in use.
int rz_set_kernel_level(int level);

/// C[i*ldc + j] = Σ_k A[i*lda + k] · W[j*ldw + k] for i < M, j < N (single precision).
void rz_matmul_f32(int M, int N, int K, const float *A, int lda, const float *W, int ldw, float *C, int ldc);

/// The same with W in BF16 (bits) and A already rounded to BF16 (rz_round_bf16); products and sums in
/// float32 (at RZ_LEVEL_AVX512BF16 pairs of products are summed by vdpbf16ps).
void rz_matmul_bf16(int M, int N, int K, const uint16_t *A, int lda, const uint16_t *W, int ldw, float *C, int ldc);

/// The two products at a given level (clamped to the supported one): what tests use to cover every level
/// without changing the process-wide choice.
void rz_matmul_f32_at(int level, int M, int N, int K, const float *A, int lda, const float *W, int ldw, float *C, int ldc);
void rz_matmul_bf16_at(int level, int M, int N, int K, const uint16_t *A, int lda, const uint16_t *W, int ldw, float *C,
                       int ldc);

/// out[i] = x[i] rounded to BF16, to nearest even (torch's rounding); NaN becomes the quiet NaN 0x7FC0. The one
/// BF16 rounding of the project (checkpoints, exports, BF16 references and sampling all use it).
void rz_round_bf16(const float *x, uint16_t *out, size_t n);

#ifdef __cplusplus
}
#endif

#endif
