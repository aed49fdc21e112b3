// Vector index benchmark. Prints JSON:
//   exact: p50/p95 query latency of the exact scan at --exact-n vectors;
//   hnsw:  build time, recall@10 against the exact scan, p50/p95 latency at
//          --hnsw-n vectors; load time of the saved index (restart cost).
// Data: clustered unit vectors of --dim dimensions (real sentence embeddings
// are clustered; uniform random vectors would be an unrealistic worst case).
// Usage: vector_bench [--dim 384] [--exact-n 100000] [--hnsw-n 1000000]
//                     [--queries 200] [--threads 2] [--ef 64,128,256]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "search/hnsw_index.h"
#include "search/vector_index.h"

using namespace kioku;
using BenchClock = std::chrono::steady_clock;

namespace {

class Clustered {
 public:
  Clustered(int dim, int clusters, uint64_t seed) : dim_(dim), rng_(seed) {
    std::normal_distribution<float> n(0.0f, 1.0f);
    centers_.resize(static_cast<size_t>(clusters) * dim);
    for (auto& x : centers_) x = n(rng_);
  }
  void next(float* out) {
    std::normal_distribution<float> n(0.0f, 1.0f);
    std::uniform_int_distribution<size_t> pick(0, centers_.size() / dim_ - 1);
    const float* c = centers_.data() + pick(rng_) * dim_;
    double norm = 0;
    for (int d = 0; d < dim_; ++d) {
      out[d] = c[d] + 0.7f * n(rng_);
      norm += out[d] * out[d];
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (int d = 0; d < dim_; ++d) out[d] *= inv;
  }

 private:
  int dim_;
  std::mt19937_64 rng_;
  std::vector<float> centers_;
};

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

double seconds_since(BenchClock::time_point t0) { return std::chrono::duration<double>(BenchClock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
  int dim = 384, queries = 200, threads = 2;
  size_t exact_n = 100000, hnsw_n = 1000000;
  std::vector<size_t> efs = {64, 128, 256};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i];
    const std::string v = argv[i + 1];
    if (f == "--dim") dim = std::stoi(v);
    else if (f == "--exact-n") exact_n = std::stoul(v);
    else if (f == "--hnsw-n") hnsw_n = std::stoul(v);
    else if (f == "--queries") queries = std::stoi(v);
    else if (f == "--threads") threads = std::stoi(v);
    else if (f == "--ef") {
      efs.clear();
      for (size_t start = 0; start < v.size();) {
        size_t end = v.find(',', start);
        if (end == std::string::npos) end = v.size();
        efs.push_back(std::stoul(v.substr(start, end - start)));
        start = end + 1;
      }
    }
  }
  nlohmann::json report = {{"dim", dim}, {"queries", queries}};
  const size_t n = std::max(exact_n, hnsw_n);
  Clustered gen(dim, 1000, 11);
  std::vector<float> data(n * dim);
  for (size_t i = 0; i < n; ++i) gen.next(data.data() + i * dim);
  std::vector<std::string> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = "m" + std::to_string(i);
  Clustered qgen(dim, 1000, 11);  // same centres, fresh samples
  std::vector<std::vector<float>> qs(static_cast<size_t>(queries), std::vector<float>(dim));
  for (auto& q : qs) qgen.next(q.data());

  if (exact_n > 0) {
    ExactVectorIndex exact(dim);
    for (size_t i = 0; i < exact_n; ++i) exact.upsert(ids[i], std::vector<float>(data.begin() + i * dim, data.begin() + (i + 1) * dim));
    std::vector<double> ms;
    for (const auto& q : qs) {
      auto t0 = BenchClock::now();
      exact.search(q, 10);
      ms.push_back(seconds_since(t0) * 1000);
    }
    report["exact"] = {{"vectors", exact_n}, {"p50_ms", pct(ms, 0.5)}, {"p95_ms", pct(ms, 0.95)}};
  }

  if (hnsw_n > 0) {
    HnswParams params;
    HnswVectorIndex hnsw(dim, params, hnsw_n);
    auto t0 = BenchClock::now();
    hnsw.add_parallel(std::vector<std::string>(ids.begin(), ids.begin() + hnsw_n),
                      std::vector<float>(data.begin(), data.begin() + hnsw_n * dim), threads);
    const double build_s = seconds_since(t0);
    ExactVectorIndex truth_index(dim);
    for (size_t i = 0; i < hnsw_n; ++i) truth_index.upsert(ids[i], std::vector<float>(data.begin() + i * dim, data.begin() + (i + 1) * dim));
    std::vector<std::set<std::string>> truth;
    for (const auto& q : qs) {
      std::set<std::string> want;
      for (const auto& h : truth_index.search(q, 10)) want.insert(h.id);
      truth.push_back(std::move(want));
    }
    nlohmann::json sweep = nlohmann::json::array();
    for (size_t ef : efs) {
      hnsw.set_ef_search(ef);
      std::vector<double> ms;
      double found = 0;
      for (size_t i = 0; i < qs.size(); ++i) {
        auto t1 = BenchClock::now();
        auto hits = hnsw.search(qs[i], 10);
        ms.push_back(seconds_since(t1) * 1000);
        for (const auto& h : hits) found += truth[i].count(h.id);
      }
      sweep.push_back({{"ef_search", ef}, {"recall@10", found / (10.0 * qs.size())}, {"p50_ms", pct(ms, 0.5)}, {"p95_ms", pct(ms, 0.95)}});
    }
    const auto path = std::filesystem::temp_directory_path() / "kioku-vector-bench.hnsw";
    hnsw.save(path);
    auto t2 = BenchClock::now();
    auto loaded = HnswVectorIndex::load(path, dim, params);
    const double load_s = seconds_since(t2);
    std::filesystem::remove(path);
    std::filesystem::remove(path.string() + ".ids");
    report["hnsw"] = {{"vectors", hnsw_n}, {"m", params.m}, {"ef_construction", params.ef_construction},
                      {"build_threads", threads}, {"build_s", build_s}, {"load_s", load_s},
                      {"loaded_ok", loaded != nullptr}, {"queries", sweep}};
  }
  std::cout << report.dump(2) << std::endl;
  return 0;
}
