// The BERT encoder's compute kernels: dense layers on weights packed once at
// load, multi-head self-attention over concatenated sequences, LayerNorm.
// AVX-512, chosen per build: this file's implementation is compiled with
// -march=native (see src/embed/CMakeLists.txt); where the build has no
// AVX-512, available() is false and BertEmbedder keeps its Eigen path.
// Every stage fans out over `threads` OpenMP threads (1 = on the caller).
// Thread safety: pure functions over caller-owned buffers; a PackedLinear is
// immutable after pack() and may be shared by any number of callers.
#pragma once

#include <memory>
#include <vector>

namespace kioku::encoder_kernels {

// True when this build carries the vector kernels.
bool available();
// The widest head size attention() supports.
constexpr int kMaxHeadSize = 128;

// One linear layer's weights [out, in] (PyTorch layout), repacked into panels
// of 32 output features, each [in][32] contiguous and zero padded, so the
// GEMM streams them without packing anything per call.
struct PackedLinear {
  int out = 0;
  int in = 0;
  std::shared_ptr<float[]> panels;  // 64-byte aligned, ceil(out/32) * in * 32
  std::vector<float> bias;          // out, zero padded to a multiple of 32
};
PackedLinear pack(const float* weight, const float* bias, int out, int in);

enum class Epilogue { kBias, kBiasGelu, kBiasResidual };
// y[rows, out] = x[rows, in] * W^T + bias, then exact-erf GELU (kBiasGelu) or
// + residual[rows, out] (kBiasResidual). x, y and residual are row-major and
// dense; y must not alias x.
void dense(const float* x, int rows, const PackedLinear& w, float* y, Epilogue epilogue, const float* residual,
           int threads);

// Each row of x [rows, n] becomes (x - mean) / sqrt(var + eps) * gamma + beta.
void layer_norm(float* x, int rows, int n, const float* gamma, const float* beta, float eps, int threads);

// Self-attention (no mask: sequences are concatenated, not padded):
// qkv [total, 3 * hidden] holds Q | K | V per token, sequence s owns rows
// offsets[s] .. offsets[s + 1]; context [total, hidden] gets softmax(Q K^T /
// sqrt(d)) V per sequence and head. hidden / heads <= kMaxHeadSize.
void attention(const float* qkv, const std::vector<int>& offsets, int hidden, int heads, float* context, int threads);

}  // namespace kioku::encoder_kernels
