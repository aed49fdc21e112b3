#include "embed/hashing_embedder.h"

#include <cmath>

#include "core/text.h"

namespace kioku {

namespace {
// FNV-1a: stable across platforms and runs, unlike std::hash.
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}
}  // namespace

std::vector<std::vector<float>> HashingEmbedder::embed(const std::vector<std::string>& texts, EmbedPurpose) {
  std::vector<std::vector<float>> out;
  out.reserve(texts.size());
  for (const auto& text : texts) {
    std::vector<float> v(static_cast<size_t>(dimension_), 0.0f);
    for (const auto& w : word_tokens(text)) {
      if (is_stopword(w)) continue;
      const uint64_t h = fnv1a(w);
      v[h % static_cast<uint64_t>(dimension_)] += (h >> 63) ? 1.0f : -1.0f;
    }
    double norm = 0;
    for (float x : v) norm += static_cast<double>(x) * x;
    if (norm > 0) {
      const float inv = static_cast<float>(1.0 / std::sqrt(norm));
      for (float& x : v) x *= inv;
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace kioku
