// Row-invariant matrix products (see include/rz_kernels.h). Each level computes C[i][j] as lane-wise partial
// sums over k (16 lanes at AVX-512, 8 at AVX2, 16 in the portable code), k in increasing order, then one fixed
// reduction of the lanes. A tile of mr rows × nr columns only shares loads between elements, never sums, so
// the tile shape (and hence M, N and the thread split) cannot change a result.
#include "rz_kernels.h"

#include <immintrin.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// MARK: levels

static int detect_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
        return __builtin_cpu_supports("avx512bf16") ? RZ_LEVEL_AVX512BF16 : RZ_LEVEL_AVX512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return RZ_LEVEL_AVX2;
#endif
    return RZ_LEVEL_PORTABLE;
}

static _Atomic int current_level = -1;

int rz_kernel_supported_level(void) { return detect_level(); }

static int clamp_level(int level);

int rz_set_kernel_level(int level) {
    int chosen = clamp_level(level);
    atomic_store(&current_level, chosen);
    return chosen;
}

int rz_kernel_level(void) {
    int level = atomic_load(&current_level);
    if (level >= 0) return level;
    // RZERO_KERNELS=portable|avx2|avx512|avx512bf16 caps the level (replicas on mixed hosts agree on the lowest).
    int wanted = RZ_LEVEL_AVX512BF16;
    const char *env = getenv("RZERO_KERNELS");
    if (env) {
        if (!strcmp(env, "portable")) wanted = RZ_LEVEL_PORTABLE;
        else if (!strcmp(env, "avx2")) wanted = RZ_LEVEL_AVX2;
        else if (!strcmp(env, "avx512")) wanted = RZ_LEVEL_AVX512;
    }
    return rz_set_kernel_level(wanted);
}

// MARK: driver

typedef void (*tile_fn)(int K, const void *A, int lda, const void *W, int ldw, float *C, int ldc);

/// Walks C in tiles: rows in blocks that keep a block of A in the L2 cache, and within a block, for each group
/// of nr rows of W (kept in L1 while the block's rows pass over it), every group of mr rows of A.
static void drive(int M, int N, int K, const char *A, int lda, const char *W, int ldw, float *C, int ldc,
                  size_t elem, int MR, int NR, tile_fn tiles[4][6]) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, sizeof(float) * (size_t)N);
        return;
    }
    size_t rowBytes = (size_t)K * elem;
    int MB = (int)((512u * 1024u) / rowBytes) / MR * MR;
    if (MB < MR) MB = MR;
    for (int m0 = 0; m0 < M; m0 += MB) {
        int mEnd = m0 + MB < M ? m0 + MB : M;
        for (int n0 = 0; n0 < N; n0 += NR) {
            int nr = N - n0 < NR ? N - n0 : NR;
            for (int i = m0; i < mEnd; i += MR) {
                int mr = mEnd - i < MR ? mEnd - i : MR;
                tiles[mr - 1][nr - 1](K, A + (size_t)i * lda * elem, lda, W + (size_t)n0 * ldw * elem, ldw,
                                      C + (size_t)i * ldc + n0, ldc);
            }
        }
    }
}

// Instantiates tile bodies for every (mr, nr) up to (4, 6) as functions of the given target, and a table of them.
#define TILE_INSTANCE(PREFIX, TARGET, BODY, mr, nr)                                                               \
    TARGET static void PREFIX##_##mr##_##nr(int K, const void *a_, int lda, const void *w_, int ldw, float *C, int ldc) { \
        BODY(mr, nr, K, a_, lda, w_, ldw, C, ldc);                                                                \
    }
#define TILE_ROW(PREFIX, TARGET, BODY, mr)                                                                        \
    TILE_INSTANCE(PREFIX, TARGET, BODY, mr, 1) TILE_INSTANCE(PREFIX, TARGET, BODY, mr, 2)                          \
    TILE_INSTANCE(PREFIX, TARGET, BODY, mr, 3) TILE_INSTANCE(PREFIX, TARGET, BODY, mr, 4)                          \
    TILE_INSTANCE(PREFIX, TARGET, BODY, mr, 5) TILE_INSTANCE(PREFIX, TARGET, BODY, mr, 6)
#define TILES(PREFIX, TARGET, BODY)                                                                               \
    TILE_ROW(PREFIX, TARGET, BODY, 1) TILE_ROW(PREFIX, TARGET, BODY, 2) TILE_ROW(PREFIX, TARGET, BODY, 3)          \
    TILE_ROW(PREFIX, TARGET, BODY, 4)                                                                             \
    static tile_fn PREFIX##_table[4][6] = {                                                                       \
        {PREFIX##_1_1, PREFIX##_1_2, PREFIX##_1_3, PREFIX##_1_4, PREFIX##_1_5, PREFIX##_1_6},                     \
        {PREFIX##_2_1, PREFIX##_2_2, PREFIX##_2_3, PREFIX##_2_4, PREFIX##_2_5, PREFIX##_2_6},                     \
        {PREFIX##_3_1, PREFIX##_3_2, PREFIX##_3_3, PREFIX##_3_4, PREFIX##_3_5, PREFIX##_3_6},                     \
        {PREFIX##_4_1, PREFIX##_4_2, PREFIX##_4_3, PREFIX##_4_4, PREFIX##_4_5, PREFIX##_4_6},                     \
    };

#define INLINE static inline __attribute__((always_inline))

// MARK: portable (16 lanes in arrays; the compiler vectorises the lane loops for the baseline ISA)

INLINE float reduce16(const float *v) {
    float s8[8], s4[4];
    for (int l = 0; l < 8; l++) s8[l] = v[l] + v[l + 8];
    for (int l = 0; l < 4; l++) s4[l] = s8[l] + s8[l + 4];
    return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

INLINE float bf16_to_f32(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#define PORTABLE_BODY(mr, nr, K, A_, lda, W_, ldw, C, ldc, TYPE, LOAD)                                           \
    do {                                                                                                          \
        const TYPE *A = (const TYPE *)(A_);                                                                       \
        const TYPE *W = (const TYPE *)(W_);                                                                       \
        float acc[mr][nr][16];                                                                                    \
        memset(acc, 0, sizeof acc);                                                                               \
        for (int k0 = 0; k0 < K; k0 += 16) {                                                                      \
            int n = K - k0 < 16 ? K - k0 : 16;                                                                    \
            float a[mr][16], w[16];                                                                               \
            for (int r = 0; r < mr; r++)                                                                          \
                for (int l = 0; l < 16; l++) a[r][l] = l < n ? LOAD(A[(size_t)r * lda + k0 + l]) : 0.0f;          \
            for (int c = 0; c < nr; c++) {                                                                        \
                for (int l = 0; l < 16; l++) w[l] = l < n ? LOAD(W[(size_t)c * ldw + k0 + l]) : 0.0f;             \
                for (int r = 0; r < mr; r++)                                                                      \
                    for (int l = 0; l < 16; l++) acc[r][c][l] += a[r][l] * w[l];                                  \
            }                                                                                                     \
        }                                                                                                         \
        for (int r = 0; r < mr; r++)                                                                              \
            for (int c = 0; c < nr; c++) C[(size_t)r * ldc + c] = reduce16(acc[r][c]);                           \
    } while (0)

#define LOAD_F32(x) (x)
#define LOAD_BF16(x) bf16_to_f32(x)
#define PORTABLE_F32(mr, nr, K, A, lda, W, ldw, C, ldc) PORTABLE_BODY(mr, nr, K, A, lda, W, ldw, C, ldc, float, LOAD_F32)
#define PORTABLE_BF16(mr, nr, K, A, lda, W, ldw, C, ldc) PORTABLE_BODY(mr, nr, K, A, lda, W, ldw, C, ldc, uint16_t, LOAD_BF16)
#define NO_TARGET
TILES(portable_f32, NO_TARGET, PORTABLE_F32)
TILES(portable_bf16, NO_TARGET, PORTABLE_BF16)

#if defined(__x86_64__)

// MARK: AVX2 + FMA (8 lanes; tiles up to 4 × 2 so accumulators and A rows stay in the 16 registers)

#define T_AVX2 __attribute__((target("avx2,fma")))

T_AVX2 INLINE float reduce8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/// The first n (< 8) lanes of an AVX2 load mask.
T_AVX2 INLINE __m256i mask8(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

T_AVX2 INLINE __m256 load8_f32(const float *p) { return _mm256_loadu_ps(p); }
T_AVX2 INLINE __m256 load8_f32_tail(const float *p, int n) { return _mm256_maskload_ps(p, mask8(n)); }
T_AVX2 INLINE __m256 load8_bf16(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}
T_AVX2 INLINE __m256 load8_bf16_tail(const uint16_t *p, int n) {
    uint16_t tmp[8] = {0};
    memcpy(tmp, p, sizeof(uint16_t) * (size_t)n);
    return load8_bf16(tmp);
}

#define AVX2_BODY(mr, nr, K, A_, lda, W_, ldw, C, ldc, TYPE, LOAD, LOAD_TAIL)                                   \
    do {                                                                                                          \
        const TYPE *A = (const TYPE *)(A_);                                                                       \
        const TYPE *W = (const TYPE *)(W_);                                                                       \
        __m256 acc[mr][nr];                                                                                       \
        for (int r = 0; r < mr; r++)                                                                              \
            for (int c = 0; c < nr; c++) acc[r][c] = _mm256_setzero_ps();                                         \
        int k = 0;                                                                                                \
        for (; k + 8 <= K; k += 8) {                                                                              \
            __m256 a[mr];                                                                                         \
            for (int r = 0; r < mr; r++) a[r] = LOAD(A + (size_t)r * lda + k);                                    \
            for (int c = 0; c < nr; c++) {                                                                        \
                __m256 w = LOAD(W + (size_t)c * ldw + k);                                                         \
                for (int r = 0; r < mr; r++) acc[r][c] = _mm256_fmadd_ps(a[r], w, acc[r][c]);                     \
            }                                                                                                     \
        }                                                                                                         \
        if (k < K) {                                                                                              \
            __m256 a[mr];                                                                                         \
            for (int r = 0; r < mr; r++) a[r] = LOAD_TAIL(A + (size_t)r * lda + k, K - k);                        \
            for (int c = 0; c < nr; c++) {                                                                        \
                __m256 w = LOAD_TAIL(W + (size_t)c * ldw + k, K - k);                                             \
                for (int r = 0; r < mr; r++) acc[r][c] = _mm256_fmadd_ps(a[r], w, acc[r][c]);                     \
            }                                                                                                     \
        }                                                                                                         \
        for (int r = 0; r < mr; r++)                                                                              \
            for (int c = 0; c < nr; c++) C[(size_t)r * ldc + c] = reduce8(acc[r][c]);                            \
    } while (0)

#define AVX2_F32(mr, nr, K, A, lda, W, ldw, C, ldc) AVX2_BODY(mr, nr, K, A, lda, W, ldw, C, ldc, float, load8_f32, load8_f32_tail)
#define AVX2_BF16(mr, nr, K, A, lda, W, ldw, C, ldc) AVX2_BODY(mr, nr, K, A, lda, W, ldw, C, ldc, uint16_t, load8_bf16, load8_bf16_tail)
TILES(avx2_f32, T_AVX2, AVX2_F32)
TILES(avx2_bf16, T_AVX2, AVX2_BF16)

// MARK: AVX-512 (16 lanes; tiles up to 4 × 6: 24 accumulators + 4 A rows + 1 W row of the 32 registers)

#define T_512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define T_512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")))

T_512 INLINE float reduce16v(__m512 v) {
    __m256 lo = _mm512_castps512_ps256(v);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    __m256 s8 = _mm256_add_ps(lo, hi);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

T_512 INLINE __m512 load16_f32(const float *p) { return _mm512_loadu_ps(p); }
T_512 INLINE __m512 load16_f32_tail(const float *p, int n) { return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p); }
T_512 INLINE __m512 load16_bf16(const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}
T_512 INLINE __m512 load16_bf16_tail(const uint16_t *p, int n) {
    __m256i h = _mm256_maskz_loadu_epi16((__mmask16)((1u << n) - 1), p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

#define AVX512_BODY(mr, nr, K, A_, lda, W_, ldw, C, ldc, TYPE, LOAD, LOAD_TAIL)                                 \
    do {                                                                                                          \
        const TYPE *A = (const TYPE *)(A_);                                                                       \
        const TYPE *W = (const TYPE *)(W_);                                                                       \
        __m512 acc[mr][nr];                                                                                       \
        for (int r = 0; r < mr; r++)                                                                              \
            for (int c = 0; c < nr; c++) acc[r][c] = _mm512_setzero_ps();                                         \
        int k = 0;                                                                                                \
        for (; k + 16 <= K; k += 16) {                                                                            \
            __m512 a[mr];                                                                                         \
            for (int r = 0; r < mr; r++) a[r] = LOAD(A + (size_t)r * lda + k);                                    \
            for (int c = 0; c < nr; c++) {                                                                        \
                __m512 w = LOAD(W + (size_t)c * ldw + k);                                                         \
                for (int r = 0; r < mr; r++) acc[r][c] = _mm512_fmadd_ps(a[r], w, acc[r][c]);                     \
            }                                                                                                     \
        }                                                                                                         \
        if (k < K) {                                                                                              \
            __m512 a[mr];                                                                                         \
            for (int r = 0; r < mr; r++) a[r] = LOAD_TAIL(A + (size_t)r * lda + k, K - k);                        \
            for (int c = 0; c < nr; c++) {                                                                        \
                __m512 w = LOAD_TAIL(W + (size_t)c * ldw + k, K - k);                                             \
                for (int r = 0; r < mr; r++) acc[r][c] = _mm512_fmadd_ps(a[r], w, acc[r][c]);                     \
            }                                                                                                     \
        }                                                                                                         \
        for (int r = 0; r < mr; r++)                                                                              \
            for (int c = 0; c < nr; c++) C[(size_t)r * ldc + c] = reduce16v(acc[r][c]);                          \
    } while (0)

#define AVX512_F32(mr, nr, K, A, lda, W, ldw, C, ldc) AVX512_BODY(mr, nr, K, A, lda, W, ldw, C, ldc, float, load16_f32, load16_f32_tail)
#define AVX512_BF16W(mr, nr, K, A, lda, W, ldw, C, ldc) AVX512_BODY(mr, nr, K, A, lda, W, ldw, C, ldc, uint16_t, load16_bf16, load16_bf16_tail)
TILES(avx512_f32, T_512, AVX512_F32)
TILES(avx512_bf16w, T_512, AVX512_BF16W)

// MARK: AVX512-BF16 (vdpbf16ps: 32 BF16 pairs per instruction, each lane adds two products)

T_512BF16 INLINE __m512bh load32_bf16(const uint16_t *p) { return (__m512bh)_mm512_loadu_si512((const void *)p); }
T_512BF16 INLINE __m512bh load32_bf16_tail(const uint16_t *p, int n) {
    return (__m512bh)_mm512_maskz_loadu_epi16((__mmask32)(n >= 32 ? 0xffffffffu : ((1u << n) - 1)), p);
}

#define DPBF16_BODY(mr, nr, K, A_, lda, W_, ldw, C, ldc)                                                          \
    do {                                                                                                          \
        const uint16_t *A = (const uint16_t *)(A_);                                                               \
        const uint16_t *W = (const uint16_t *)(W_);                                                               \
        __m512 acc[mr][nr];                                                                                       \
        for (int r = 0; r < mr; r++)                                                                              \
            for (int c = 0; c < nr; c++) acc[r][c] = _mm512_setzero_ps();                                         \
        int k = 0;                                                                                                \
        for (; k + 32 <= K; k += 32) {                                                                            \
            __m512bh a[mr];                                                                                       \
            for (int r = 0; r < mr; r++) a[r] = load32_bf16(A + (size_t)r * lda + k);                             \
            for (int c = 0; c < nr; c++) {                                                                        \
                __m512bh w = load32_bf16(W + (size_t)c * ldw + k);                                                \
                for (int r = 0; r < mr; r++) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], a[r], w);                    \
            }                                                                                                     \
        }                                                                                                         \
        if (k < K) {                                                                                              \
            __m512bh a[mr];                                                                                       \
            for (int r = 0; r < mr; r++) a[r] = load32_bf16_tail(A + (size_t)r * lda + k, K - k);                \
            for (int c = 0; c < nr; c++) {                                                                        \
                __m512bh w = load32_bf16_tail(W + (size_t)c * ldw + k, K - k);                                    \
                for (int r = 0; r < mr; r++) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], a[r], w);                    \
            }                                                                                                     \
        }                                                                                                         \
        for (int r = 0; r < mr; r++)                                                                              \
            for (int c = 0; c < nr; c++) C[(size_t)r * ldc + c] = reduce16v(acc[r][c]);                          \
    } while (0)

TILES(avx512_dpbf16, T_512BF16, DPBF16_BODY)

#endif  // __x86_64__

// MARK: entry points

void rz_matmul_f32(int M, int N, int K, const float *A, int lda, const float *W, int ldw, float *C, int ldc) {
    rz_matmul_f32_at(rz_kernel_level(), M, N, K, A, lda, W, ldw, C, ldc);
}

void rz_matmul_bf16(int M, int N, int K, const uint16_t *A, int lda, const uint16_t *W, int ldw, float *C, int ldc) {
    rz_matmul_bf16_at(rz_kernel_level(), M, N, K, A, lda, W, ldw, C, ldc);
}

static int clamp_level(int level) {
    int supported = detect_level();
    return level < 0 ? 0 : (level > supported ? supported : level);
}

void rz_matmul_f32_at(int level, int M, int N, int K, const float *A, int lda, const float *W, int ldw, float *C, int ldc) {
    switch (clamp_level(level)) {
#if defined(__x86_64__)
    case RZ_LEVEL_AVX512BF16:
    case RZ_LEVEL_AVX512:
        drive(M, N, K, (const char *)A, lda, (const char *)W, ldw, C, ldc, sizeof(float), 4, 6, avx512_f32_table);
        return;
    case RZ_LEVEL_AVX2:
        drive(M, N, K, (const char *)A, lda, (const char *)W, ldw, C, ldc, sizeof(float), 4, 2, avx2_f32_table);
        return;
#endif
    default:
        drive(M, N, K, (const char *)A, lda, (const char *)W, ldw, C, ldc, sizeof(float), 2, 2, portable_f32_table);
    }
}

void rz_matmul_bf16_at(int level, int M, int N, int K, const uint16_t *A, int lda, const uint16_t *W, int ldw, float *C,
                       int ldc) {
    switch (clamp_level(level)) {
#if defined(__x86_64__)
    case RZ_LEVEL_AVX512BF16:
        drive(M, N, K, (const char *)A, lda, (const char *)W, ldw, C, ldc, sizeof(uint16_t), 4, 6, avx512_dpbf16_table);
        return;
    case RZ_LEVEL_AVX512:
        drive(M, N, K, (const char *)A, lda, (const char *)W, ldw, C, ldc, sizeof(uint16_t), 4, 6, avx512_bf16w_table);
        return;
    case RZ_LEVEL_AVX2:
        drive(M, N, K, (const char *)A, lda, (const char *)W, ldw, C, ldc, sizeof(uint16_t), 4, 2, avx2_bf16_table);
        return;
#endif
    default:
        drive(M, N, K, (const char *)A, lda, (const char *)W, ldw, C, ldc, sizeof(uint16_t), 2, 2, portable_bf16_table);
    }
}

void rz_round_bf16(const float *x, uint16_t *out, size_t n) {
    // Branch-free so that the compiler vectorises it (a KV cache rounds every new key and value).
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        out[i] = (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? 0x7fc0u : rounded);
    }
}
