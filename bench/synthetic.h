// Synthetic text shared by the benchmarks.
#pragma once

#include <time.h>

#include <algorithm>
#include <limits>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/memory.h"
#include "core/time.h"

namespace kioku::bench {

// A Zipf-distributed synthetic vocabulary, so that term frequencies look like
// natural text: a few very common words, a long tail of rare ones.
class TextGenerator {
 public:
  explicit TextGenerator(uint64_t seed) : rng_(seed) {
    static const char* syllables[] = {"ka", "ri", "to", "mu", "sen", "ko", "na", "ha", "yo", "shi",
                                      "re", "mi", "lo", "ta", "ne", "su", "po", "ga", "da", "vi"};
    for (int i = 0; i < 20000; ++i) {
      std::string w;
      int x = i + 1;
      while (x > 0) {
        w += syllables[x % 20];
        x /= 20;
      }
      words_.push_back(w);
    }
    double total = 0;
    for (size_t i = 0; i < words_.size(); ++i) total += 1.0 / std::pow(static_cast<double>(i + 1), 1.07);
    double acc = 0;
    for (size_t i = 0; i < words_.size(); ++i) {
      acc += 1.0 / std::pow(static_cast<double>(i + 1), 1.07) / total;
      cdf_.push_back(acc);
    }
  }
  const std::string& word() {
    const double u = uniform_(rng_);
    const size_t i = static_cast<size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
    return words_[std::min(i, words_.size() - 1)];
  }
  // A query as query_terms() leaves it: real queries lose their stop words,
  // which in this vocabulary are the most frequent words, so query words are
  // drawn from outside the top 100.
  std::string query(int min_words, int max_words) {
    std::uniform_int_distribution<int> len(min_words, max_words);
    std::string s;
    for (int n = len(rng_); n > 0;) {
      const double u = uniform_(rng_);
      const size_t i = static_cast<size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
      if (i < 100 || i >= words_.size()) continue;
      s += (s.empty() ? "" : " ") + words_[i];
      --n;
    }
    return s;
  }
  std::string sentence(int min_words, int max_words) {
    std::uniform_int_distribution<int> len(min_words, max_words);
    std::string s;
    for (int n = len(rng_); n > 0; --n) s += (s.empty() ? "" : " ") + word();
    return s;
  }

 private:
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
  std::vector<std::string> words_;
  std::vector<double> cdf_;
};

// n memories of synthetic text, numbered from offset (so none deduplicates),
// one minute apart from 2023-11-14: the rows store_bench and backend_bench add.
inline std::vector<Memory> synthetic_batch(TextGenerator& gen, size_t n, size_t offset) {
  std::vector<Memory> batch;
  batch.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Memory m;
    m.content = gen.sentence(8, 40) + " #" + std::to_string(offset + i);
    m.tags = {gen.word()};
    m.event_time = from_millis(1700000000000LL + static_cast<int64_t>(offset + i) * 60000);
    batch.push_back(std::move(m));
  }
  return batch;
}

// This thread's CPU time: on a shared, loaded machine wall time mostly
// measures the scheduler, so latencies are reported both ways.
inline double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// NaN (null in JSON) for no samples.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

}  // namespace kioku::bench
