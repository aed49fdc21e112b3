#include "embed/encoder_kernels.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#if defined(__AVX512F__)
#include <immintrin.h>

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>
#endif

#include "core/error.h"

namespace kioku::encoder_kernels {

namespace {
constexpr int kPanel = 32;  // output features per packed panel: two zmm registers
}  // namespace

PackedLinear pack(const float* weight, const float* bias, int out, int in) {
  PackedLinear p;
  p.out = out;
  p.in = in;
  const int panels = (out + kPanel - 1) / kPanel;
  const size_t floats = static_cast<size_t>(panels) * static_cast<size_t>(in) * kPanel;
  float* raw = static_cast<float*>(std::aligned_alloc(64, ((floats * sizeof(float) + 63) / 64) * 64));
  if (!raw) throw Error(ErrorCode::kInternal, "out of memory packing encoder weights");
  p.panels = std::shared_ptr<float[]>(raw, [](float* f) { std::free(f); });
  std::memset(raw, 0, floats * sizeof(float));
  for (int o = 0; o < out; ++o) {
    float* panel = raw + static_cast<size_t>(o / kPanel) * in * kPanel;
    for (int k = 0; k < in; ++k) panel[static_cast<size_t>(k) * kPanel + o % kPanel] = weight[static_cast<size_t>(o) * in + k];
  }
  p.bias.assign(static_cast<size_t>(panels) * kPanel, 0.0f);
  std::copy(bias, bias + out, p.bias.begin());
  return p;
}

#if defined(__AVX512F__)

bool available() { return true; }

namespace {

using Eigen::internal::generic_fast_erf_float;
using Eigen::internal::pexp;

constexpr int kRows = 12;  // rows per micro-kernel call: 24 accumulators + 2 weights + 1 broadcast of 32 zmm

inline __mmask16 tail_mask(int n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1); }

// GELU with erf, as BERT defines it; Eigen's vectorised erf is accurate to a
// few ulp in float (the real-weight test holds cosine >= 0.99999).
inline __m512 gelu(__m512 x) {
  const __m512 e = generic_fast_erf_float(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f)));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

// rows x 32 block of y = x * W^T + bias (+ epilogue) over the whole depth.
template <int R>
inline void micro(const float* a, int lda, const float* b, int depth, float* c, int ldc, int cols, const float* bias,
                  Epilogue epilogue, const float* res) {
  __m512 acc0[R], acc1[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int k = 0; k < depth; ++k) {
    const __m512 b0 = _mm512_load_ps(b + static_cast<size_t>(k) * kPanel);
    const __m512 b1 = _mm512_load_ps(b + static_cast<size_t>(k) * kPanel + 16);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a[static_cast<size_t>(r) * lda + k]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
  }
  const __mmask16 m0 = tail_mask(cols), m1 = tail_mask(std::max(0, cols - 16));
  const __m512 bias0 = _mm512_loadu_ps(bias), bias1 = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    __m512 v0 = _mm512_add_ps(acc0[r], bias0), v1 = _mm512_add_ps(acc1[r], bias1);
    if (epilogue == Epilogue::kBiasGelu) {
      v0 = gelu(v0);
      v1 = gelu(v1);
    } else if (epilogue == Epilogue::kBiasResidual) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, res + static_cast<size_t>(r) * ldc));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, res + static_cast<size_t>(r) * ldc + 16));
    }
    _mm512_mask_storeu_ps(c + static_cast<size_t>(r) * ldc, m0, v0);
    _mm512_mask_storeu_ps(c + static_cast<size_t>(r) * ldc + 16, m1, v1);
  }
}

using Micro = void (*)(const float*, int, const float*, int, float*, int, int, const float*, Epilogue, const float*);
template <int... R>
constexpr auto micro_table(std::integer_sequence<int, R...>) {
  return std::array<Micro, sizeof...(R)>{&micro<R + 1>...};
}
constexpr auto kMicro = micro_table(std::make_integer_sequence<int, kRows>{});

}  // namespace

void dense(const float* x, int rows, const PackedLinear& w, float* y, Epilogue epilogue, const float* residual,
           int threads) {
  const int panels = (w.out + kPanel - 1) / kPanel;
  const int blocks = (rows + kRows - 1) / kRows;
  // A task is one panel of weights (in L2) against a run of row blocks.
  // Tasks are handed out dynamically: on a shared machine a thread that loses
  // its core for a while must not leave the other waiting at the barrier.
  constexpr int kBlocksPerTask = 8;
  const int runs = (blocks + kBlocksPerTask - 1) / kBlocksPerTask;
  const int tasks = panels * runs;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (threads > 1 && tasks > 1)
  for (int t = 0; t < tasks; ++t) {
    const int p = t / runs, run = t % runs;
    const float* b = w.panels.get() + static_cast<size_t>(p) * w.in * kPanel;
    const int col = p * kPanel, cols = std::min(kPanel, w.out - col);
    const int last = std::min(blocks, (run + 1) * kBlocksPerTask);
    for (int block = run * kBlocksPerTask; block < last; ++block) {
      const int r0 = block * kRows, n = std::min(kRows, rows - r0);
      const size_t at = static_cast<size_t>(r0) * w.out + col;
      kMicro[static_cast<size_t>(n - 1)](x + static_cast<size_t>(r0) * w.in, w.in, b, w.in, y + at, w.out, cols,
                                         w.bias.data() + col, epilogue, residual ? residual + at : nullptr);
    }
  }
}

void layer_norm(float* x, int rows, int n, const float* gamma, const float* beta, float eps, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows >= 32)
  for (int r = 0; r < rows; ++r) {
    float* row = x + static_cast<size_t>(r) * n;
    __m512 sum = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(tail_mask(n - i), row + i));
    const float mean = hsum(sum) / static_cast<float>(n);
    const __m512 vmean = _mm512_set1_ps(mean);
    __m512 sq = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
      const __mmask16 m = tail_mask(n - i);
      const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, row + i), vmean);
      sq = _mm512_fmadd_ps(d, d, sq);
    }
    const float inv = 1.0f / std::sqrt(hsum(sq) / static_cast<float>(n) + eps);
    const __m512 vinv = _mm512_set1_ps(inv);
    for (int i = 0; i < n; i += 16) {
      const __mmask16 m = tail_mask(n - i);
      const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + i), vmean), vinv);
      _mm512_mask_storeu_ps(row + i, m,
                            _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, gamma + i), _mm512_maskz_loadu_ps(m, beta + i)));
    }
  }
}

void attention(const float* qkv, const std::vector<int>& offsets, int hidden, int heads, float* context, int threads) {
  const int d = hidden / heads;
  if (d > kMaxHeadSize) throw invalid_input("attention head size " + std::to_string(d) + " is not supported");
  const int ld = 3 * hidden;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const int sequences = static_cast<int>(offsets.size()) - 1;
  const int tasks = sequences * heads;
  const int chunks = (d + 15) / 16;
#pragma omp parallel num_threads(threads) if (threads > 1 && tasks > 1)
  {
    std::vector<float> keys_t, scores;  // per thread: K^T of one head, one row of scores
#pragma omp for schedule(dynamic, 2)
    for (int t = 0; t < tasks; ++t) {
      const int s = t / heads, h = t % heads;
      const int begin = offsets[static_cast<size_t>(s)], len = offsets[static_cast<size_t>(s) + 1] - begin;
      const int padded = (len + 15) & ~15;
      // K^T [d][padded], so a row of scores is a sum of d scaled key rows.
      keys_t.assign(static_cast<size_t>(d) * padded, 0.0f);
      for (int j = 0; j < len; ++j) {
        const float* k = qkv + static_cast<size_t>(begin + j) * ld + hidden + h * d;
        for (int c = 0; c < d; ++c) keys_t[static_cast<size_t>(c) * padded + j] = k[c];
      }
      scores.resize(static_cast<size_t>(padded));
      const float* values = qkv + static_cast<size_t>(begin) * ld + 2 * hidden + h * d;
      for (int i = 0; i < len; ++i) {
        const float* q = qkv + static_cast<size_t>(begin + i) * ld + h * d;
        __m512 vmax = _mm512_set1_ps(-INFINITY);
        for (int j = 0; j < padded; j += 16) {
          __m512 acc = _mm512_setzero_ps();
          for (int c = 0; c < d; ++c)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(q[c]), _mm512_loadu_ps(&keys_t[static_cast<size_t>(c) * padded + j]), acc);
          acc = _mm512_mul_ps(acc, _mm512_set1_ps(scale));
          _mm512_storeu_ps(&scores[static_cast<size_t>(j)], acc);
          vmax = _mm512_mask_max_ps(vmax, tail_mask(len - j), vmax, acc);
        }
        const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
        __m512 vsum = _mm512_setzero_ps();
        for (int j = 0; j < padded; j += 16) {
          const __m512 e = _mm512_maskz_mov_ps(tail_mask(len - j), pexp(_mm512_sub_ps(_mm512_loadu_ps(&scores[static_cast<size_t>(j)]), max)));
          _mm512_storeu_ps(&scores[static_cast<size_t>(j)], e);
          vsum = _mm512_add_ps(vsum, e);
        }
        __m512 acc[kMaxHeadSize / 16];
        for (int u = 0; u < chunks; ++u) acc[u] = _mm512_setzero_ps();
        for (int j = 0; j < len; ++j) {
          const __m512 p = _mm512_set1_ps(scores[static_cast<size_t>(j)]);
          const float* v = values + static_cast<size_t>(j) * ld;
          for (int u = 0; u < chunks; ++u)
            acc[u] = _mm512_fmadd_ps(p, _mm512_maskz_loadu_ps(tail_mask(d - 16 * u), v + 16 * u), acc[u]);
        }
        const __m512 inv = _mm512_set1_ps(1.0f / hsum(vsum));
        float* out = context + static_cast<size_t>(begin + i) * hidden + h * d;
        for (int u = 0; u < chunks; ++u) _mm512_mask_storeu_ps(out + 16 * u, tail_mask(d - 16 * u), _mm512_mul_ps(acc[u], inv));
      }
    }
  }
}

#else  // no AVX-512 in this build: BertEmbedder uses its Eigen path

bool available() { return false; }
void dense(const float*, int, const PackedLinear&, float*, Epilogue, const float*, int) {
  throw Error(ErrorCode::kInternal, "encoder kernels are not built for this CPU");
}
void layer_norm(float*, int, int, const float*, const float*, float, int) {
  throw Error(ErrorCode::kInternal, "encoder kernels are not built for this CPU");
}
void attention(const float*, const std::vector<int>&, int, int, float*, int) {
  throw Error(ErrorCode::kInternal, "encoder kernels are not built for this CPU");
}

#endif

}  // namespace kioku::encoder_kernels
