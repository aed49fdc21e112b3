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

#include "bench/synthetic.h"
#include "search/query.h"
#include "search/searcher.h"
#include "store/sqlite/sqlite_store.h"

using namespace kioku;
using kioku::bench::percentile;
using kioku::bench::TextGenerator;
using BenchClock = std::chrono::steady_clock;

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
      auto batch = bench::synthetic_batch(gen, std::min(batch_size, target - stored), stored);
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
