// Kioku's side of bench/peers/encoder_scan_peers.py (which runs the peers,
// interleaves the rounds and prints the combined JSON). One mode per run,
// one JSON object on stdout:
//   tokenize  --model DIR --sentences FILE --out FILE
//             token ids (max 256) of a JSON array of sentences, as JSON
//   encode    --model DIR --ids FILE --threads N [--batch 32] [--rounds 3]
//             forward pass over the token-id batches: sentences/s
//   scan      --data FILE --dim D --queries FILE --threads N [--encoding float|int8] [--k 10]
//             exact top-k over raw float32 rows: p50/p95 ms per query
//   bandwidth --mb M --threads N [--rounds 20]
//             STREAM-like read of M MiB on N threads: GB/s, p50 ms
//   serve     --model DIR --ids FILE --data FILE --queries FILE [--dim 384]
//             keeps the encoders and the index loaded and answers commands on
//             stdin, one JSON line each, so the harness can alternate Kioku
//             and a peer every few seconds: "encode THREADS PASSES",
//             "scan THREADS", "bandwidth THREADS", "quit"
//   int8      --n N --dim D [--queries 200] [--encoding float|int8]
//             clustered synthetic unit vectors: RSS with the index built and,
//             for int8, recall@10 of int8 + float rescoring against exact float
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "embed/bert_embedder.h"
#include "search/vector_index.h"

using namespace kioku;
using BenchClock = std::chrono::steady_clock;

namespace {

std::map<std::string, std::string> parse(int argc, char** argv) {
  std::map<std::string, std::string> a;
  for (int i = 2; i + 1 < argc; i += 2) a[argv[i]] = argv[i + 1];
  return a;
}
std::string arg(const std::map<std::string, std::string>& a, const std::string& k, const std::string& def = "") {
  auto it = a.find(k);
  if (it != a.end()) return it->second;
  if (def.empty()) throw std::runtime_error("missing " + k);
  return def;
}
double ms_since(BenchClock::time_point t0) { return std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count(); }
double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}
std::vector<float> read_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<float> v(static_cast<size_t>(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}
size_t rss_bytes() {
  std::ifstream in("/proc/self/statm");
  size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * 4096;
}

int tokenize(const std::map<std::string, std::string>& a) {
  BertEmbedder encoder(arg(a, "--model"), 1);
  std::ifstream in(arg(a, "--sentences"));
  const auto sentences = nlohmann::json::parse(in).get<std::vector<std::string>>();
  nlohmann::json ids = nlohmann::json::array();
  for (const auto& s : sentences) ids.push_back(encoder.tokenizer().encode(s, 256));
  std::ofstream(arg(a, "--out")) << ids.dump();
  std::cout << nlohmann::json{{"sentences", sentences.size()}}.dump() << std::endl;
  return 0;
}

int encode(const std::map<std::string, std::string>& a) {
  const int threads = std::stoi(arg(a, "--threads", "1"));
  const size_t batch = std::stoul(arg(a, "--batch", "32"));
  const int rounds = std::stoi(arg(a, "--rounds", "3"));
  BertEmbedder encoder(arg(a, "--model"), threads);
  std::ifstream in(arg(a, "--ids"));
  const auto ids = nlohmann::json::parse(in).get<std::vector<std::vector<int32_t>>>();
  std::vector<std::vector<std::vector<int32_t>>> batches;
  for (size_t i = 0; i < ids.size(); i += batch)
    batches.emplace_back(ids.begin() + static_cast<long>(i), ids.begin() + static_cast<long>(std::min(ids.size(), i + batch)));
  encoder.embed_ids(batches.front());  // warm-up
  std::vector<double> per_round;
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = BenchClock::now();
    for (const auto& b : batches) encoder.embed_ids(b);
    per_round.push_back(ms_since(t0));
  }
  const double best = *std::min_element(per_round.begin(), per_round.end());
  const double median = pct(per_round, 0.5);
  std::cout << nlohmann::json{{"threads", threads},
                              {"sentences", ids.size()},
                              {"sentences_per_s", 1000.0 * static_cast<double>(ids.size()) / median},
                              {"best_sentences_per_s", 1000.0 * static_cast<double>(ids.size()) / best},
                              {"kernels", "packed AVX-512 where built"}}
                   .dump()
            << std::endl;
  return 0;
}

int scan(const std::map<std::string, std::string>& a) {
  const int dim = std::stoi(arg(a, "--dim", "384"));
  const int threads = std::stoi(arg(a, "--threads", "2"));
  const size_t k = std::stoul(arg(a, "--k", "10"));
  const auto encoding = arg(a, "--encoding", "float") == "int8" ? VectorEncoding::kInt8 : VectorEncoding::kFloat32;
  const auto data = read_floats(arg(a, "--data"));
  const auto queries = read_floats(arg(a, "--queries"));
  const size_t n = data.size() / static_cast<size_t>(dim);
  ExactVectorIndex index(dim, encoding, threads);
  std::vector<float> row(static_cast<size_t>(dim));
  for (size_t i = 0; i < n; ++i) {
    std::copy_n(data.begin() + static_cast<long>(i * static_cast<size_t>(dim)), dim, row.begin());
    index.upsert(std::to_string(i), row);
  }
  std::vector<double> ms;
  nlohmann::json first;
  std::vector<float> q(static_cast<size_t>(dim));
  const size_t nq = queries.size() / static_cast<size_t>(dim);
  for (int warm = 0; warm < 2; ++warm) {
    std::copy_n(queries.begin(), dim, q.begin());
    index.search(q, k);
  }
  for (size_t i = 0; i < nq; ++i) {
    std::copy_n(queries.begin() + static_cast<long>(i * static_cast<size_t>(dim)), dim, q.begin());
    const auto t0 = BenchClock::now();
    const auto hits = index.search(q, k);
    ms.push_back(ms_since(t0));
    if (i == 0)
      for (const auto& h : hits) first.push_back(std::stoul(h.id));
  }
  std::cout << nlohmann::json{{"n", n},          {"dim", dim},          {"threads", threads},
                              {"kernel", ExactVectorIndex::kernel_name()},
                              {"p50_ms", pct(ms, 0.5)}, {"p95_ms", pct(ms, 0.95)}, {"first_query_top", first}}
                   .dump()
            << std::endl;
  return 0;
}

// The floor: one read of buf on `threads` threads, the median of `rounds`.
nlohmann::json read_bandwidth(const std::vector<float>& buf, int threads, int rounds) {
  const size_t n = buf.size();
  std::vector<double> ms;
  volatile float sink = 0;
  for (int r = 0; r < rounds; ++r) {
    float total = 0;
    const auto t0 = BenchClock::now();
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      const size_t t = static_cast<size_t>(omp_get_thread_num()), nt = static_cast<size_t>(omp_get_num_threads());
      const size_t begin = n * t / nt, end = n * (t + 1) / nt;
      // SSE2 (every x86-64): four independent chains are enough to saturate
      // memory from one core.
      __m128 a0 = _mm_setzero_ps(), a1 = _mm_setzero_ps(), a2 = _mm_setzero_ps(), a3 = _mm_setzero_ps();
      size_t i = begin;
      for (; i + 16 <= end; i += 16) {
        a0 = _mm_add_ps(a0, _mm_loadu_ps(&buf[i]));
        a1 = _mm_add_ps(a1, _mm_loadu_ps(&buf[i + 4]));
        a2 = _mm_add_ps(a2, _mm_loadu_ps(&buf[i + 8]));
        a3 = _mm_add_ps(a3, _mm_loadu_ps(&buf[i + 12]));
      }
      alignas(16) float lanes[4];
      _mm_store_ps(lanes, _mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)));
      float s = 0;
      for (float l : lanes) s += l;
      for (; i < end; ++i) s += buf[i];
      total += s;
    }
    ms.push_back(ms_since(t0));
    sink = sink + total;
  }
  const double p50 = pct(ms, 0.5), best = *std::min_element(ms.begin(), ms.end());
  return {{"bytes", n * sizeof(float)}, {"threads", threads}, {"p50_ms", p50}, {"best_ms", best},
          {"gb_per_s", static_cast<double>(n * sizeof(float)) / 1e6 / p50}};
}

int bandwidth(const std::map<std::string, std::string>& a) {
  const size_t bytes = std::stoul(arg(a, "--mb", "147")) << 20;
  const int threads = std::stoi(arg(a, "--threads", "2"));
  std::vector<float> buf(bytes / sizeof(float));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<float>(i & 1023) * 1e-3f;
  std::cout << read_bandwidth(buf, threads, std::stoi(arg(a, "--rounds", "20"))).dump() << std::endl;
  return 0;
}

struct ScanSet {
  int dim = 384;
  std::vector<float> queries;
  std::map<int, std::unique_ptr<ExactVectorIndex>> by_threads;
};

nlohmann::json scan_once(ScanSet& set, const std::vector<float>& data, int threads, size_t k) {
  auto& index = set.by_threads[threads];
  const size_t dim = static_cast<size_t>(set.dim);
  if (!index) {
    index = std::make_unique<ExactVectorIndex>(set.dim, VectorEncoding::kFloat32, threads);
    std::vector<float> row(dim);
    for (size_t i = 0; i < data.size() / dim; ++i) {
      std::copy_n(data.begin() + static_cast<long>(i * dim), dim, row.begin());
      index->upsert(std::to_string(i), row);
    }
  }
  std::vector<float> q(dim);
  std::vector<double> ms;
  nlohmann::json first = nlohmann::json::array();
  std::copy_n(set.queries.begin(), dim, q.begin());
  index->search(q, k);
  for (size_t i = 0; i < set.queries.size() / dim; ++i) {
    std::copy_n(set.queries.begin() + static_cast<long>(i * dim), dim, q.begin());
    const auto t0 = BenchClock::now();
    const auto hits = index->search(q, k);
    ms.push_back(ms_since(t0));
    if (i == 0)
      for (const auto& h : hits) first.push_back(std::stoul(h.id));
  }
  return {{"n", index->size()}, {"threads", threads}, {"kernel", ExactVectorIndex::kernel_name()},
          {"p50_ms", pct(ms, 0.5)}, {"p95_ms", pct(ms, 0.95)}, {"first_query_top", first}};
}

int serve(const std::map<std::string, std::string>& a) {
  std::ifstream in(arg(a, "--ids"));
  const auto ids = nlohmann::json::parse(in).get<std::vector<std::vector<int32_t>>>();
  std::vector<std::vector<std::vector<int32_t>>> batches;
  for (size_t i = 0; i < ids.size(); i += 32)
    batches.emplace_back(ids.begin() + static_cast<long>(i), ids.begin() + static_cast<long>(std::min(ids.size(), i + 32)));
  std::map<int, std::unique_ptr<BertEmbedder>> encoders;
  ScanSet set;
  set.dim = std::stoi(arg(a, "--dim", "384"));
  const auto data = read_floats(arg(a, "--data"));
  set.queries = read_floats(arg(a, "--queries"));
  std::string cmd;
  int threads = 0, passes = 0;
  while (std::cin >> cmd) {
    if (cmd == "quit") break;
    std::cin >> threads;
    nlohmann::json out;
    if (cmd == "encode") {
      std::cin >> passes;
      auto& e = encoders[threads];
      if (!e) {
        e = std::make_unique<BertEmbedder>(arg(a, "--model"), threads);
        e->embed_ids(batches.front());
      }
      std::vector<double> per_pass;
      for (int p = 0; p < passes; ++p) {
        const auto t0 = BenchClock::now();
        for (const auto& b : batches) e->embed_ids(b);
        per_pass.push_back(ms_since(t0));
      }
      out = {{"threads", threads}, {"sentences", ids.size()},
             {"sentences_per_s", 1000.0 * static_cast<double>(ids.size()) / pct(per_pass, 0.5)}};
    } else if (cmd == "scan") {
      out = scan_once(set, data, threads, 10);
    } else if (cmd == "bandwidth") {
      out = read_bandwidth(data, threads, 20);
    } else {
      out = {{"error", "unknown command " + cmd}};
    }
    std::cout << out.dump() << std::endl;
  }
  return 0;
}

// Clustered unit vectors: real sentence embeddings are clustered.
void clustered(std::vector<float>& out, size_t n, int dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> centers(static_cast<size_t>(1000) * dim);
  for (auto& c : centers) c = g(rng);
  std::uniform_int_distribution<size_t> pick(0, 999);
  out.resize(n * static_cast<size_t>(dim));
  for (size_t i = 0; i < n; ++i) {
    float* v = out.data() + i * static_cast<size_t>(dim);
    const float* c = centers.data() + pick(rng) * static_cast<size_t>(dim);
    double norm = 0;
    for (int d = 0; d < dim; ++d) {
      v[d] = c[d] + 0.7f * g(rng);
      norm += static_cast<double>(v[d]) * v[d];
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (int d = 0; d < dim; ++d) v[d] *= inv;
  }
}

int int8(const std::map<std::string, std::string>& a) {
  const size_t n = std::stoul(arg(a, "--n", "1000000"));
  const int dim = std::stoi(arg(a, "--dim", "384"));
  const size_t nq = std::stoul(arg(a, "--queries", "200"));
  const auto encoding = arg(a, "--encoding", "int8") == "int8" ? VectorEncoding::kInt8 : VectorEncoding::kFloat32;
  const size_t rss_start = rss_bytes();
  ExactVectorIndex index(dim, encoding, 2);
  {
    // Built in chunks so the generator's buffer stays small next to the index.
    std::vector<float> chunk, row(static_cast<size_t>(dim));
    for (size_t start = 0; start < n; start += 65536) {
      const size_t len = std::min<size_t>(65536, n - start);
      clustered(chunk, len, dim, 42 + start);
      for (size_t i = 0; i < len; ++i) {
        std::copy_n(chunk.begin() + static_cast<long>(i * static_cast<size_t>(dim)), dim, row.begin());
        index.upsert(std::to_string(start + i), row);
      }
    }
  }
  const size_t rss_index = rss_bytes();
  nlohmann::json out = {{"n", n}, {"dim", dim}, {"encoding", encoding == VectorEncoding::kInt8 ? "int8" : "float32"},
                        {"vector_bytes", index.vector_bytes()}, {"rss_mb_before", static_cast<double>(rss_start) / 1e6},
                        {"rss_mb_with_index", static_cast<double>(rss_index) / 1e6}};
  if (encoding == VectorEncoding::kInt8) {
    // Recall: the float vectors regenerated (same seeds) stand in for the
    // store that rescoring reads in the product.
    std::vector<float> floats;
    std::vector<float> all;
    for (size_t start = 0; start < n; start += 65536) {
      clustered(floats, std::min<size_t>(65536, n - start), dim, 42 + start);
      all.insert(all.end(), floats.begin(), floats.end());
    }
    ExactVectorIndex truth(dim, VectorEncoding::kFloat32, 2);
    std::vector<float> row(static_cast<size_t>(dim));
    for (size_t i = 0; i < n; ++i) {
      std::copy_n(all.begin() + static_cast<long>(i * static_cast<size_t>(dim)), dim, row.begin());
      truth.upsert(std::to_string(i), row);
    }
    RescoringVectorIndex rescored(index, [&](const std::vector<std::string>& ids) {
      std::unordered_map<std::string, std::vector<float>> m;
      for (const auto& id : ids) {
        const size_t r = std::stoul(id);
        m.emplace(id, std::vector<float>(all.begin() + static_cast<long>(r * static_cast<size_t>(dim)),
                                         all.begin() + static_cast<long>((r + 1) * static_cast<size_t>(dim))));
      }
      return m;
    });
    std::vector<float> queries;
    clustered(queries, nq, dim, 7);
    double hit_plain = 0, hit_rescored = 0;
    std::vector<double> ms_int8, ms_float;
    for (size_t i = 0; i < nq; ++i) {
      std::vector<float> q(queries.begin() + static_cast<long>(i * static_cast<size_t>(dim)),
                           queries.begin() + static_cast<long>((i + 1) * static_cast<size_t>(dim)));
      auto t0 = BenchClock::now();
      const auto want = truth.search(q, 10);
      ms_float.push_back(ms_since(t0));
      t0 = BenchClock::now();
      const auto got = rescored.search(q, 10);
      ms_int8.push_back(ms_since(t0));
      const auto plain = index.search(q, 10);
      std::set<std::string> truth_ids;
      for (const auto& h : want) truth_ids.insert(h.id);
      for (const auto& h : got) hit_rescored += truth_ids.count(h.id);
      for (const auto& h : plain) hit_plain += truth_ids.count(h.id);
    }
    out["recall_at_10_int8_rescored"] = hit_rescored / (10.0 * static_cast<double>(nq));
    out["recall_at_10_int8_without_rescoring"] = hit_plain / (10.0 * static_cast<double>(nq));
    out["p50_ms_float_scan"] = pct(ms_float, 0.5);
    out["p50_ms_int8_scan_rescored"] = pct(ms_int8, 0.5);
  }
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: encoder_scan_bench tokenize|encode|scan|bandwidth|int8 [--flag value ...]\n";
    return 2;
  }
  try {
    const std::string mode = argv[1];
    const auto a = parse(argc, argv);
    if (mode == "tokenize") return tokenize(a);
    if (mode == "encode") return encode(a);
    if (mode == "scan") return scan(a);
    if (mode == "bandwidth") return bandwidth(a);
    if (mode == "int8") return int8(a);
    if (mode == "serve") return serve(a);
    std::cerr << "unknown mode " << mode << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "encoder_scan_bench: " << e.what() << "\n";
    return 1;
  }
}
