// Store and search benchmark. Prints one JSON object:
//   add: memories/s when adding in batches (no embeddings),
//   search_<n>: full-text search latency p50/p95 at n synthetic memories,
//   bytes_per_memory: database file size / memories.
// Usage: store_bench [--sizes 10000,100000] [--queries 500] [--dir /tmp/x]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "search/query.h"
#include "search/searcher.h"
#include "store/sqlite/sqlite_store.h"

using namespace kioku;
using BenchClock = std::chrono::steady_clock;

namespace {

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

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

std::vector<Memory> make_batch(TextGenerator& gen, size_t n, size_t offset) {
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

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes = {10000, 100000};
  int queries = 500;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "kioku-store-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--sizes") {
      sizes.clear();
      std::string v = argv[i + 1];
      size_t start = 0;
      while (start < v.size()) {
        size_t end = v.find(',', start);
        if (end == std::string::npos) end = v.size();
        sizes.push_back(std::stoul(v.substr(start, end - start)));
        start = end + 1;
      }
    } else if (flag == "--queries") {
      queries = std::stoi(argv[i + 1]);
    } else if (flag == "--dir") {
      dir = argv[i + 1];
    }
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  nlohmann::json report;
  TextGenerator gen(42);
  auto store = open_sqlite_memory_store(dir / "memory.db");
  const size_t batch_size = 1000;
  size_t stored = 0;
  double add_seconds = 0;
  for (size_t target : sizes) {
    while (stored < target) {
      auto batch = make_batch(gen, std::min(batch_size, target - stored), stored);
      const auto t0 = BenchClock::now();
      store->add_batch(std::move(batch));
      add_seconds += std::chrono::duration<double>(BenchClock::now() - t0).count();
      stored = std::min(target, stored + batch_size);
    }
    Searcher searcher(*store, nullptr);
    std::vector<double> lexical_ms;
    std::vector<double> store_ms;
    TextGenerator qgen(7);
    for (int q = 0; q < queries; ++q) {
      const std::string query = qgen.query(2, 5);
      SearchOptions o;
      o.mode = SearchMode::kLexical;
      o.record_access = false;
      const auto t0 = BenchClock::now();
      auto results = searcher.search(query, o);
      lexical_ms.push_back(std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count());
      const auto t1 = BenchClock::now();
      store->search_text(query_terms(query), o.filter, o.candidates);
      store_ms.push_back(std::chrono::duration<double, std::milli>(BenchClock::now() - t1).count());
    }
    report["search_" + std::to_string(target)] = {{"memories", target},
                                                  {"queries", queries},
                                                  {"p50_ms", percentile(lexical_ms, 0.5)},
                                                  {"p95_ms", percentile(lexical_ms, 0.95)},
                                                  {"p99_ms", percentile(lexical_ms, 0.99)},
                                                  {"fulltext_only_p50_ms", percentile(store_ms, 0.5)}};
  }
  StoreStats stats = store->stats("local");
  report["add"] = {{"memories", stored},
                   {"batch_size", batch_size},
                   {"seconds", add_seconds},
                   {"memories_per_s", static_cast<double>(stored) / add_seconds}};
  report["bytes_per_memory"] = static_cast<double>(stats.database_bytes) / static_cast<double>(stats.memories);
  std::cout << report.dump(2) << std::endl;
  store.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
