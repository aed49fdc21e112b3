#include "search/vector_index.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "core/error.h"

namespace kioku {

namespace {

// Scan kernels: scores[i] = <query, row i> for n consecutive rows. One build
// carries all three; pick() chooses by what the CPU reports at run time, so a
// portable build still scans with AVX-512 where it exists.
using FloatScan = void (*)(const float* rows, size_t n, int dim, const float* query, float* scores);
using Int8Scan = void (*)(const int8_t* codes, const float* scales, size_t n, int dim, const float* query, float* scores);

void scan_f32_scalar(const float* rows, size_t n, int dim, const float* q, float* scores) {
  for (size_t i = 0; i < n; ++i) {
    const float* r = rows + i * static_cast<size_t>(dim);
    float acc = 0;
    for (int d = 0; d < dim; ++d) acc += r[d] * q[d];
    scores[i] = acc;
  }
}

void scan_i8_scalar(const int8_t* codes, const float* scales, size_t n, int dim, const float* q, float* scores) {
  for (size_t i = 0; i < n; ++i) {
    const int8_t* r = codes + i * static_cast<size_t>(dim);
    float acc = 0;
    for (int d = 0; d < dim; ++d) acc += static_cast<float>(r[d]) * q[d];
    scores[i] = acc * scales[i];
  }
}

__attribute__((target("avx2,fma"))) float hsum256(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

__attribute__((target("avx2,fma"))) void scan_f32_avx2(const float* rows, size_t n, int dim, const float* q,
                                                       float* scores) {
  const int body = dim & ~15;
  for (size_t i = 0; i < n; ++i) {
    const float* r = rows + i * static_cast<size_t>(dim);
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int d = 0;
    for (; d < body; d += 16) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r + d), _mm256_loadu_ps(q + d), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r + d + 8), _mm256_loadu_ps(q + d + 8), a1);
    }
    float acc = hsum256(_mm256_add_ps(a0, a1));
    for (; d < dim; ++d) acc += r[d] * q[d];
    scores[i] = acc;
  }
}

__attribute__((target("avx2,fma"))) void scan_i8_avx2(const int8_t* codes, const float* scales, size_t n, int dim,
                                                      const float* q, float* scores) {
  const int body = dim & ~15;
  for (size_t i = 0; i < n; ++i) {
    const int8_t* r = codes + i * static_cast<size_t>(dim);
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int d = 0;
    for (; d < body; d += 16) {
      const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + d));
      const __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c));
      const __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(c, 8)));
      a0 = _mm256_fmadd_ps(lo, _mm256_loadu_ps(q + d), a0);
      a1 = _mm256_fmadd_ps(hi, _mm256_loadu_ps(q + d + 8), a1);
    }
    float acc = hsum256(_mm256_add_ps(a0, a1));
    for (; d < dim; ++d) acc += static_cast<float>(r[d]) * q[d];
    scores[i] = acc * scales[i];
  }
}

__attribute__((target("avx512f"))) __mmask16 mask16(int n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
}

// Two rows at a time: twice the loads in flight per reduction.
__attribute__((target("avx512f"))) void scan_f32_avx512(const float* rows, size_t n, int dim, const float* q,
                                                         float* scores) {
  const size_t stride = static_cast<size_t>(dim);
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    const float* r0 = rows + i * stride;
    const float* r1 = r0 + stride;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
    int d = 0;
    for (; d + 32 <= dim; d += 32) {
      const __m512 q0 = _mm512_loadu_ps(q + d), q1 = _mm512_loadu_ps(q + d + 16);
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + d), q0, a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + d + 16), q1, a1);
      b0 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + d), q0, b0);
      b1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + d + 16), q1, b1);
    }
    for (; d < dim; d += 16) {
      const __mmask16 m = mask16(dim - d);
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + d);
      a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r0 + d), qv, a0);
      b0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r1 + d), qv, b0);
    }
    scores[i] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    scores[i + 1] = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
  }
  for (; i < n; ++i) {
    const float* r = rows + i * stride;
    __m512 a = _mm512_setzero_ps();
    for (int d = 0; d < dim; d += 16) {
      const __mmask16 m = mask16(dim - d);
      a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r + d), _mm512_maskz_loadu_ps(m, q + d), a);
    }
    scores[i] = _mm512_reduce_add_ps(a);
  }
}

__attribute__((target("avx512f"))) void scan_i8_avx512(const int8_t* codes, const float* scales, size_t n, int dim,
                                                        const float* q, float* scores) {
  for (size_t i = 0; i < n; ++i) {
    const int8_t* r = codes + i * static_cast<size_t>(dim);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int d = 0;
    for (; d + 32 <= dim; d += 32) {
      const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + d));
      const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(c)));
      const __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(c, 1)));
      a0 = _mm512_fmadd_ps(lo, _mm512_loadu_ps(q + d), a0);
      a1 = _mm512_fmadd_ps(hi, _mm512_loadu_ps(q + d + 16), a1);
    }
    float acc = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    for (; d < dim; ++d) acc += static_cast<float>(r[d]) * q[d];
    scores[i] = acc * scales[i];
  }
}

enum class Kernel { kScalar, kAvx2, kAvx512 };

Kernel pick() {
  static const Kernel k = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return Kernel::kAvx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Kernel::kAvx2;
    return Kernel::kScalar;
  }();
  return k;
}

FloatScan float_scan() {
  switch (pick()) {
    case Kernel::kAvx512: return scan_f32_avx512;
    case Kernel::kAvx2: return scan_f32_avx2;
    default: return scan_f32_scalar;
  }
}

Int8Scan int8_scan() {
  switch (pick()) {
    case Kernel::kAvx512: return scan_i8_avx512;
    case Kernel::kAvx2: return scan_i8_avx2;
    default: return scan_i8_scalar;
  }
}

void check_dimension(size_t got, int want, const char* what) {
  if (static_cast<int>(got) != want) {
    throw invalid_input(std::string(what) + " of dimension " + std::to_string(got) + " does not fit an index of " +
                        std::to_string(want));
  }
}

}  // namespace

const char* ExactVectorIndex::kernel_name() {
  switch (pick()) {
    case Kernel::kAvx512: return "avx512";
    case Kernel::kAvx2: return "avx2";
    default: return "scalar";
  }
}

ExactVectorIndex::ExactVectorIndex(int dimension, VectorEncoding encoding, int threads)
    : dimension_(dimension), encoding_(encoding), threads_(threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))) {}

void ExactVectorIndex::set_row(size_t row, const std::vector<float>& vector) {
  const size_t at = row * static_cast<size_t>(dimension_);
  if (encoding_ == VectorEncoding::kFloat32) {
    std::copy(vector.begin(), vector.end(), floats_.begin() + static_cast<long>(at));
    return;
  }
  // Symmetric per-row scale: the largest magnitude maps to 127.
  float max_abs = 0;
  for (float v : vector) max_abs = std::max(max_abs, std::fabs(v));
  const float scale = max_abs > 0 ? max_abs / 127.0f : 0.0f;
  const float inv = max_abs > 0 ? 127.0f / max_abs : 0.0f;
  for (int d = 0; d < dimension_; ++d)
    codes_[at + static_cast<size_t>(d)] =
        static_cast<int8_t>(std::clamp(std::lrint(vector[static_cast<size_t>(d)] * inv), -127L, 127L));
  scales_[row] = scale;
}

void ExactVectorIndex::upsert(const std::string& id, const std::vector<float>& vector) {
  check_dimension(vector.size(), dimension_, "vector");
  auto it = row_of_.find(id);
  if (it != row_of_.end()) {
    set_row(it->second, vector);
    return;
  }
  const size_t row = ids_.size();
  row_of_.emplace(id, row);
  ids_.push_back(id);
  if (encoding_ == VectorEncoding::kFloat32) {
    floats_.resize(floats_.size() + static_cast<size_t>(dimension_));
  } else {
    codes_.resize(codes_.size() + static_cast<size_t>(dimension_));
    scales_.push_back(0);
  }
  set_row(row, vector);
}

void ExactVectorIndex::reserve(size_t rows) {
  ids_.reserve(rows);
  row_of_.reserve(rows);
  if (encoding_ == VectorEncoding::kFloat32) {
    floats_.reserve(rows * static_cast<size_t>(dimension_));
  } else {
    codes_.reserve(rows * static_cast<size_t>(dimension_));
    scales_.reserve(rows);
  }
}

const float* ExactVectorIndex::find(const std::string& id) const {
  if (encoding_ != VectorEncoding::kFloat32) return nullptr;
  auto it = row_of_.find(id);
  return it == row_of_.end() ? nullptr : floats_.data() + it->second * static_cast<size_t>(dimension_);
}

void ExactVectorIndex::remove(const std::string& id) {
  auto it = row_of_.find(id);
  if (it == row_of_.end()) return;
  // Swap the last row into the hole so the matrix stays dense.
  const size_t row = it->second;
  const size_t last = ids_.size() - 1;
  const size_t dim = static_cast<size_t>(dimension_);
  if (row != last) {
    if (encoding_ == VectorEncoding::kFloat32) {
      std::copy_n(floats_.begin() + static_cast<long>(last * dim), dim, floats_.begin() + static_cast<long>(row * dim));
    } else {
      std::copy_n(codes_.begin() + static_cast<long>(last * dim), dim, codes_.begin() + static_cast<long>(row * dim));
      scales_[row] = scales_[last];
    }
    ids_[row] = ids_[last];
    row_of_[ids_[row]] = row;
  }
  ids_.pop_back();
  if (encoding_ == VectorEncoding::kFloat32) {
    floats_.resize(ids_.size() * dim);
  } else {
    codes_.resize(ids_.size() * dim);
    scales_.pop_back();
  }
  row_of_.erase(it);
}

namespace {

// One scan shared by the caller and its helper threads. Slices of rows are
// claimed from `next`; the caller never waits for a helper that has not
// claimed anything yet: it closes the job when the slices run out and then
// waits only for helpers that entered before that. On a busy machine a helper
// that has not been given a core by then simply finds the job closed.
struct ScanJob {
  std::atomic<long> next{0};
  std::atomic<int> entered{0};
  std::atomic<int> finished{0};
  std::atomic<bool> closed{false};
  std::mutex mutex;
  std::vector<std::vector<ExactVectorIndex::Candidate>> heaps;  // one per thread that worked
};

}  // namespace

std::vector<ExactVectorIndex::Candidate> ExactVectorIndex::top_rows(const float* query, size_t count) const {
  const size_t n = ids_.size();
  const size_t dim = static_cast<size_t>(dimension_);
  count = std::min(count, n);
  // Below ~4M floats (10k rows of 384) a helper thread costs more than it saves.
  const int threads = n * dim >= (size_t{1} << 22) ? std::max(1, std::min(threads_, static_cast<int>(n / 4096))) : 1;
  const FloatScan fscan = float_scan();
  const Int8Scan iscan = int8_scan();
  constexpr size_t kSlice = 2048;
  const long slices = static_cast<long>((n + kSlice - 1) / kSlice);
  auto job = std::make_shared<ScanJob>();
  auto work = [this, job, query, count, n, dim, slices, fscan, iscan] {
    auto worse = [](const Candidate& a, const Candidate& b) { return a.score > b.score; };  // min-heap on score
    std::vector<Candidate> heap;
    heap.reserve(count + 1);
    constexpr size_t kBlock = 256;
    float scores[kBlock];
    for (long slice = job->next.fetch_add(1); slice < slices; slice = job->next.fetch_add(1)) {
      const size_t begin = static_cast<size_t>(slice) * kSlice, end = std::min(n, begin + kSlice);
      for (size_t b = begin; b < end; b += kBlock) {
        const size_t len = std::min(kBlock, end - b);
        if (encoding_ == VectorEncoding::kFloat32) fscan(floats_.data() + b * dim, len, dimension_, query, scores);
        else iscan(codes_.data() + b * dim, scales_.data() + b, len, dimension_, query, scores);
        for (size_t i = 0; i < len; ++i) {
          if (heap.size() < count) {
            heap.push_back({scores[i], static_cast<uint32_t>(b + i)});
            std::push_heap(heap.begin(), heap.end(), worse);
          } else if (scores[i] > heap.front().score) {
            std::pop_heap(heap.begin(), heap.end(), worse);
            heap.back() = {scores[i], static_cast<uint32_t>(b + i)};
            std::push_heap(heap.begin(), heap.end(), worse);
          }
        }
      }
    }
    std::lock_guard<std::mutex> lock(job->mutex);
    job->heaps.push_back(std::move(heap));
  };
  for (int t = 1; t < threads; ++t) {
    try {
      std::thread([job, work] {
        job->entered.fetch_add(1);
        if (!job->closed.load()) work();  // entered before the close: the caller waits for it
        job->finished.fetch_add(1);
      }).detach();
    } catch (const std::system_error&) {
      break;  // no thread to be had: the caller scans alone
    }
  }
  work();
  job->closed.store(true);
  while (job->finished.load() != job->entered.load()) std::this_thread::yield();
  std::lock_guard<std::mutex> lock(job->mutex);
  std::vector<Candidate> all;
  for (auto& h : job->heaps) all.insert(all.end(), h.begin(), h.end());
  return all;
}

std::vector<VectorHit> ExactVectorIndex::search(const std::vector<float>& query, size_t k,
                                                const std::function<bool(const std::string&)>& accept) const {
  check_dimension(query.size(), dimension_, "query vector");
  const size_t n = ids_.size();
  if (n == 0 || k == 0) return {};
  // Take the best rows by score, then filter: the k best accepted rows are
  // among them unless the filter rejects too many, then widen and rescan.
  size_t want = accept ? std::max(k * 4, k + 32) : k;
  for (;;) {
    std::vector<Candidate> rows = top_rows(query.data(), want);
    std::sort(rows.begin(), rows.end(),
              [](const Candidate& a, const Candidate& b) { return a.score > b.score || (a.score == b.score && a.row < b.row); });
    std::vector<VectorHit> out;
    out.reserve(std::min(k, rows.size()));
    for (const Candidate& c : rows) {
      if (accept && !accept(ids_[c.row])) continue;
      out.push_back({ids_[c.row], c.score});
      if (out.size() == k) break;
    }
    if (out.size() == k || rows.size() >= n) return out;
    want = std::min(n, want * 8);
  }
}

void RescoringVectorIndex::upsert(const std::string&, const std::vector<float>&) {
  throw Error(ErrorCode::kInternal, "a rescoring view of an index is read-only");
}
void RescoringVectorIndex::remove(const std::string&) {
  throw Error(ErrorCode::kInternal, "a rescoring view of an index is read-only");
}

std::vector<VectorHit> RescoringVectorIndex::search(const std::vector<float>& query, size_t k,
                                                    const std::function<bool(const std::string&)>& accept) const {
  check_dimension(query.size(), dimension(), "query vector");
  if (k == 0) return {};
  std::vector<VectorHit> candidates = approximate_.search(query, std::max(min_candidates_, k * per_hit_), accept);
  std::vector<std::string> ids;
  ids.reserve(candidates.size());
  for (const auto& c : candidates) ids.push_back(c.id);
  const auto floats = load_(ids);
  for (auto& c : candidates) {
    auto it = floats.find(c.id);
    if (it == floats.end() || it->second.size() != query.size()) continue;  // keep the approximate score
    float dot = 0;
    for (size_t d = 0; d < query.size(); ++d) dot += it->second[d] * query[d];
    c.score = dot;
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const VectorHit& a, const VectorHit& b) { return a.score > b.score; });
  if (candidates.size() > k) candidates.resize(k);
  return candidates;
}

}  // namespace kioku
