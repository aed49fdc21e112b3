// Kioku's store and search path next to raw SQLite + FTS5 on the same rows,
// the Kioku half of bench/peers/store_search_peers.py (which adds hnswlib on
// the graph Kioku saved, interleaves the rounds and prints the one JSON).
// Every mode prints one JSON object on stdout.
//
//   store_search_peers bulk --dir D --n N [--dim 384]
//       Kioku add_batch and raw SQLite + FTS5 on the same rows, batches of
//       1000 alternating; bytes per memory without vectors; then N synthetic
//       clustered vectors stored through put_embeddings, bytes with vectors.
//   store_search_peers first-search --dir D [--graph-from store|exact]
//       A fresh process, no saved index: how long the first vector search
//       takes, how long until the approximate index serves, peak RSS against
//       the vector data; saves the index for the other modes. The graph
//       reads its vectors from a store session of its own (the Engine's way,
//       int8 codes answering meanwhile) or copies a float exact index.
//   store_search_peers search --dir D [--queries 300] [--only vector|lexical|hybrid|floor] [--encoder MODEL_DIR]
//       Query by query, interleaved: Kioku lexical (Searcher, top 10) vs raw
//       FTS5 top 10 with their rows; Kioku vector path (Searcher, top 10) and
//       the HNSW index alone; the vector path's read floor (the index's
//       candidates and two bare statements reading what the path must read:
//       RowReadFloor); hybrid. --only times one path alone (perf);
//       --encoder also runs the real encoder on each query embedding.
//   store_search_peers populate --dir D --n N
//       memory.db of N memories (no vectors) for `kioku index` timing.
// The same source builds against an older tree (the baseline of a change), so
// it uses only long-standing interfaces (SearcherConfig::open_build_store
// since 2026-12-03).
#include <sqlite3.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/synthetic.h"
#include "core/json.h"
#include "embed/bert_embedder.h"
#include "search/query.h"
#include "search/searcher.h"
#include "store/sqlite/sqlite_store.h"

using namespace kioku;
using kioku::bench::percentile;
using kioku::bench::TextGenerator;
using BenchClock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double ms_since(BenchClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count();
}

// This thread's CPU time: on a shared, loaded machine wall time mostly
// measures the scheduler, so every latency is reported both ways.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct Samples {
  std::vector<double> wall, cpu;
  template <typename F>
  auto time(F&& f) {
    const auto t0 = BenchClock::now();
    const double c0 = thread_cpu_ms();
    auto r = f();
    cpu.push_back(thread_cpu_ms() - c0);
    wall.push_back(ms_since(t0));
    return r;
  }
  nlohmann::json json() const {
    return {{"p50_ms", percentile(wall, 0.5)},
            {"p95_ms", percentile(wall, 0.95)},
            {"cpu_p50_ms", percentile(cpu, 0.5)},
            {"cpu_p95_ms", percentile(cpu, 0.95)}};
  }
};

double ratio(const Samples& a, const Samples& b, bool cpu) {
  return cpu ? percentile(a.cpu, 0.5) / percentile(b.cpu, 0.5) : percentile(a.wall, 0.5) / percentile(b.wall, 0.5);
}

// The rows both stores get: the same generator, seed and order.
struct Row {
  std::string content;
  std::string tag;
  int64_t event_ms;
};

std::vector<Row> make_rows(size_t n) {
  TextGenerator gen(42);
  std::vector<Row> rows;
  rows.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Row r;
    r.content = gen.sentence(8, 40) + " #" + std::to_string(i);
    r.tag = gen.word();
    r.event_ms = 1700000000000LL + static_cast<int64_t>(i) * 60000;
    rows.push_back(std::move(r));
  }
  return rows;
}

// Unit vectors around 256 centres, like embeddings of topical text.
std::vector<float> make_vectors(size_t n, int dim, uint64_t seed) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0, 1);
  const size_t centres = 256;
  std::vector<float> centre(centres * static_cast<size_t>(dim));
  for (auto& x : centre) x = normal(rng);
  rng.seed(seed);
  std::uniform_int_distribution<size_t> pick(0, centres - 1);
  std::vector<float> out(n * static_cast<size_t>(dim));
  for (size_t i = 0; i < n; ++i) {
    float* v = &out[i * static_cast<size_t>(dim)];
    const float* c = &centre[pick(rng) * static_cast<size_t>(dim)];
    double norm = 0;
    for (int d = 0; d < dim; ++d) {
      v[d] = c[d] + 0.6f * normal(rng);
      norm += static_cast<double>(v[d]) * v[d];
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (int d = 0; d < dim; ++d) v[d] *= inv;
  }
  return out;
}

// Runs sql on a bench's own connection; throws with SQLite's message.
void exec_sql(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw std::runtime_error(msg);
  }
}

// The peer: what an application would write with SQLite and FTS5 by hand,
// under the same pragmas Kioku's connection uses.
class RawFts {
 public:
  explicit RawFts(const fs::path& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("open raw db");
    exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -64000; "
         "PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 268435456");
    exec("CREATE TABLE IF NOT EXISTS docs(id INTEGER PRIMARY KEY, content TEXT NOT NULL, tags TEXT NOT NULL, "
         "event_time INTEGER NOT NULL);"
         "CREATE VIRTUAL TABLE IF NOT EXISTS docs_fts USING fts5(content, tags, content='docs', content_rowid='id', "
         "tokenize='porter unicode61 remove_diacritics 2')");
  }
  ~RawFts() {
    for (auto* st : {insert_, insert_fts_, search_})
      if (st) sqlite3_finalize(st);
    sqlite3_close(db_);
  }
  void exec(const char* sql) { exec_sql(db_, sql); }
  void add(const std::vector<Row>& rows, size_t from, size_t to) {
    if (!insert_) {
      sqlite3_prepare_v2(db_, "INSERT INTO docs(content, tags, event_time) VALUES (?,?,?)", -1, &insert_, nullptr);
      sqlite3_prepare_v2(db_, "INSERT INTO docs_fts(rowid, content, tags) VALUES (?,?,?)", -1, &insert_fts_, nullptr);
    }
    exec("BEGIN");
    for (size_t i = from; i < to; ++i) {
      const std::string tags = "[\"" + rows[i].tag + "\"]";
      sqlite3_bind_text(insert_, 1, rows[i].content.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert_, 2, tags.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(insert_, 3, rows[i].event_ms);
      sqlite3_step(insert_);
      sqlite3_reset(insert_);
      sqlite3_bind_int64(insert_fts_, 1, sqlite3_last_insert_rowid(db_));
      sqlite3_bind_text(insert_fts_, 2, rows[i].content.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert_fts_, 3, tags.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_step(insert_fts_);
      sqlite3_reset(insert_fts_);
    }
    exec("COMMIT");
  }
  // Top 10 by BM25 with their rows, terms ORed as Kioku does.
  size_t search(const std::vector<std::string>& terms) {
    if (!search_)
      sqlite3_prepare_v2(db_,
                         "SELECT d.id, d.content, d.tags, d.event_time FROM (SELECT rowid, rank FROM docs_fts WHERE "
                         "docs_fts MATCH ? ORDER BY rank LIMIT 10) f JOIN docs d ON d.id = f.rowid ORDER BY f.rank",
                         -1, &search_, nullptr);
    std::string match;
    for (const auto& t : terms) match += (match.empty() ? "\"" : " OR \"") + t + "\"";
    sqlite3_bind_text(search_, 1, match.c_str(), -1, SQLITE_TRANSIENT);
    size_t n = 0;
    while (sqlite3_step(search_) == SQLITE_ROW) {
      // Read the row as an application would.
      const std::string content(reinterpret_cast<const char*>(sqlite3_column_text(search_, 1)));
      const std::string tags(reinterpret_cast<const char*>(sqlite3_column_text(search_, 2)));
      n += content.empty() && tags.empty() ? 0 : 1;
    }
    sqlite3_reset(search_);
    return n;
  }
  int64_t bytes() {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db_, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()", -1, &st,
                       nullptr);
    sqlite3_step(st);
    const int64_t b = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return b;
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* insert_fts_ = nullptr;
  sqlite3_stmt* search_ = nullptr;
};

// The floor of the vector path's design, written by hand on Kioku's own
// memory.db: the reads it cannot avoid (the signal columns of each
// candidate the index returns, then the whole rows of those returned) as
// two bare statements on a read-only connection, with no ranking at all.
// Kioku's path over this is what its code costs; this over hnswlib is what
// ranking on stored rows costs.
class RowReadFloor {
 public:
  explicit RowReadFloor(const fs::path& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
      throw std::runtime_error("open memory.db read-only");
    exec_sql(db_, "PRAGMA cache_size = -64000; PRAGMA mmap_size = 268435456");
    prepare(signals_,
            "SELECT m.id, m.user_id, m.type, m.tier, m.memory_type, m.confidence, m.importance, m.approved, m.tags, "
            "m.event_time, m.content, m.metadata FROM json_each(?) j CROSS JOIN memories m ON m.id = j.value "
            "WHERE m.user_id = ?");
    prepare(rows_, "SELECT m.* FROM json_each(?) j CROSS JOIN memories m ON m.id = j.value WHERE m.user_id = ?");
  }
  ~RowReadFloor() {
    sqlite3_finalize(signals_);
    sqlite3_finalize(rows_);
    sqlite3_close(db_);
  }
  // Reads the signal columns of `ids`, then the whole rows of the first
  // `returned`; the count of rows read.
  size_t read(const std::vector<std::string>& ids, size_t returned, const std::string& user) {
    size_t n = touch(signals_, ids, ids.size(), user);
    return n + touch(rows_, ids, std::min(returned, ids.size()), user);
  }

 private:
  void prepare(sqlite3_stmt*& st, const char* sql) {
    if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db_));
  }
  size_t touch(sqlite3_stmt* st, const std::vector<std::string>& ids, size_t count, const std::string& user) {
    const std::string array = json_string_list_text({ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(count)});
    sqlite3_bind_text(st, 1, array.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, user.c_str(), -1, SQLITE_TRANSIENT);
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      // Each column as an application reading it would take it.
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const auto type = sqlite3_column_type(st, c);
        if (type == SQLITE_TEXT || type == SQLITE_BLOB) sink_ += static_cast<size_t>(sqlite3_column_bytes(st, c));
        else if (type == SQLITE_FLOAT) sink_ += sqlite3_column_double(st, c) > 0.5 ? 1 : 0;
        else sink_ += static_cast<size_t>(sqlite3_column_int64(st, c) & 1);
      }
      ++n;
    }
    sqlite3_reset(st);
    return n;
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* signals_ = nullptr;
  sqlite3_stmt* rows_ = nullptr;
  size_t sink_ = 0;
};

// Query text -> a fixed vector, so the vector path is measured without the
// encoder (encoder speed is bench/peers' encoder script).
class LookupEmbedder final : public Embedder {
 public:
  LookupEmbedder(int dim, std::string model, std::map<std::string, std::vector<float>> table)
      : dim_(dim), model_(std::move(model)), table_(std::move(table)) {}
  // Also runs a real encoder on each text (its cost, not its vectors: the
  // stored vectors are synthetic), as a search with the in-process model pays.
  void also_encode_with(std::unique_ptr<Embedder> encoder) { encoder_ = std::move(encoder); }
  std::vector<std::vector<float>> embed(const std::vector<std::string>& texts, EmbedPurpose purpose) override {
    if (encoder_) encoder_->embed(texts, purpose);
    std::vector<std::vector<float>> out;
    for (const auto& t : texts) {
      auto it = table_.find(t);
      out.push_back(it != table_.end() ? it->second : std::vector<float>(static_cast<size_t>(dim_), 0.0f));
    }
    return out;
  }
  int dimension() const override { return dim_; }
  std::string model_id() const override { return model_; }

 private:
  int dim_;
  std::string model_;
  std::map<std::string, std::vector<float>> table_;
  std::unique_ptr<Embedder> encoder_;
};

int64_t rss_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::stoll(line.substr(std::strlen(field)));
  return 0;
}

struct Args {
  std::string mode;
  fs::path dir;
  size_t n = 100000;
  int dim = 384;
  int queries = 300;
  // Where a background graph build reads its vectors: "store" (a session of
  // its own, int8 codes answering meanwhile: the Engine's way) or "exact"
  // (copied from a float exact index).
  std::string graph_from = "store";
  // The vectors' model id ("" = bench-lookup-<dim>); hashing-384 lets a
  // `kioku serve` with the hashing embedder use them (bench/server/rss_vectors.sh).
  std::string model;
  // search: time only this path ("vector", "lexical", "hybrid"; "" = all,
  // interleaved), e.g. to run it alone under perf.
  std::string only;
  // search: a model folder (all-MiniLM-L6-v2) whose encoder each query's
  // embedding also runs, so hybrid and vector timings include it.
  std::string encoder;
};

Args parse(int argc, char** argv) {
  Args a;
  if (argc > 1) a.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string f = argv[i];
    if (f == "--dir") a.dir = argv[i + 1];
    else if (f == "--n") a.n = std::stoul(argv[i + 1]);
    else if (f == "--dim") a.dim = std::stoi(argv[i + 1]);
    else if (f == "--queries") a.queries = std::stoi(argv[i + 1]);
    else if (f == "--graph-from") a.graph_from = argv[i + 1];
    else if (f == "--model") a.model = argv[i + 1];
    else if (f == "--only") a.only = argv[i + 1];
    else if (f == "--encoder") a.encoder = argv[i + 1];
  }
  if (a.graph_from != "store" && a.graph_from != "exact") throw std::runtime_error("--graph-from: store or exact");
  return a;
}

std::vector<Memory> to_memories(const std::vector<Row>& rows, size_t from, size_t to) {
  std::vector<Memory> batch;
  for (size_t i = from; i < to; ++i) {
    Memory m;
    m.content = rows[i].content;
    m.tags = {rows[i].tag};
    m.event_time = from_millis(rows[i].event_ms);
    batch.push_back(std::move(m));
  }
  return batch;
}

std::string model_id(const Args& a) { return a.model.empty() ? "bench-lookup-" + std::to_string(a.dim) : a.model; }

int bulk(const Args& a) {
  fs::remove_all(a.dir);
  fs::create_directories(a.dir);
  const auto rows = make_rows(a.n);
  auto store = open_sqlite_memory_store(a.dir / "memory.db");
  RawFts raw(a.dir / "raw.db");
  double kioku_s = 0, raw_s = 0;
  const size_t batch = 1000;
  for (size_t from = 0; from < a.n; from += batch) {
    const size_t to = std::min(a.n, from + batch);
    auto memories = to_memories(rows, from, to);
    // Alternate who goes first, so neither always meets a warm cache.
    for (int k = 0; k < 2; ++k) {
      const bool kioku_turn = (k == 0) == ((from / batch) % 2 == 0);
      const auto t0 = BenchClock::now();
      if (kioku_turn) {
        store->add_batch(std::move(memories));
        kioku_s += ms_since(t0) / 1000;
      } else {
        raw.add(rows, from, to);
        raw_s += ms_since(t0) / 1000;
      }
    }
  }
  const double kioku_bytes = static_cast<double>(store->stats("local").database_bytes);
  const double raw_bytes = static_cast<double>(raw.bytes());
  // Vectors, in batches as the embedding queue stores them.
  const std::string model = model_id(a);
  const auto vectors = make_vectors(a.n, a.dim, 11);
  auto ids = store->list(MemoryFilter{}, ListOrder::kOldestFirst, static_cast<int>(a.n), 0);
  const auto tv = BenchClock::now();
  for (size_t from = 0; from < ids.size(); from += 256) {
    std::vector<StoredVector> part;
    for (size_t i = from; i < std::min(ids.size(), from + 256); ++i)
      part.push_back({ids[i].id, std::vector<float>(vectors.begin() + static_cast<long>(i * a.dim),
                                                    vectors.begin() + static_cast<long>((i + 1) * a.dim))});
    store->put_embeddings(model, part);
  }
  const double vectors_s = ms_since(tv) / 1000;
  const double with_vectors = static_cast<double>(store->stats("local").database_bytes);
  nlohmann::json out = {
      {"rows", a.n},
      {"batch", batch},
      {"kioku_rows_per_s", static_cast<double>(a.n) / kioku_s},
      {"raw_rows_per_s", static_cast<double>(a.n) / raw_s},
      {"ratio", raw_s / kioku_s},  // Kioku's rate / raw rate
      {"kioku_bytes_per_memory", kioku_bytes / static_cast<double>(a.n)},
      {"raw_bytes_per_row", raw_bytes / static_cast<double>(a.n)},
      {"kioku_bytes_per_memory_with_vector", with_vectors / static_cast<double>(a.n)},
      {"float32_vector_bytes", a.dim * 4},
      {"put_embeddings_per_s", static_cast<double>(a.n) / vectors_s}};
  std::cout << out.dump() << std::endl;
  return 0;
}

// The lexical queries and their vectors (queries near stored memories).
struct Queries {
  std::vector<std::string> text;
  std::map<std::string, std::vector<float>> vector_of;
  std::vector<std::vector<float>> vectors;
};

Queries make_queries(int count, int dim) {
  Queries q;
  TextGenerator gen(7);
  // Same clusters as the stored vectors (make_vectors' centres), other draws.
  const auto vectors = make_vectors(static_cast<size_t>(count), dim, 12345);
  for (int i = 0; i < count; ++i) {
    std::string t = gen.query(2, 5);
    while (q.vector_of.count(t)) t += " " + gen.word();
    std::vector<float> v(vectors.begin() + static_cast<long>(i) * dim, vectors.begin() + static_cast<long>(i + 1) * dim);
    q.text.push_back(t);
    q.vector_of[t] = v;
    q.vectors.push_back(std::move(v));
  }
  return q;
}

SearcherConfig searcher_config(const Args& a) {
  SearcherConfig c;
  c.index_dir = a.dir / "index";
  if (a.graph_from == "store") {
    const fs::path db = a.dir / "memory.db";
    c.open_build_store = [db]() -> std::shared_ptr<VectorStore> { return open_sqlite_memory_store(db); };
  }
  return c;
}

int first_search(const Args& a) {
  fs::create_directories(a.dir / "index");
  for (const auto& f : fs::directory_iterator(a.dir / "index")) fs::remove(f.path());
  const int64_t rss_before = rss_kb("VmRSS:");
  // VmHWM counts the pages of memory.db that SQLite's mmap touched (clean
  // file pages the kernel can drop); the peak of anonymous memory (heap:
  // indexes, buffers) is sampled beside it.
  std::atomic<bool> sampling{true};
  std::atomic<int64_t> anon_peak_kb{rss_kb("RssAnon:")};
  std::thread sampler([&] {
    while (sampling) {
      anon_peak_kb = std::max<int64_t>(anon_peak_kb, rss_kb("RssAnon:"));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  auto store = open_sqlite_memory_store(a.dir / "memory.db");
  const auto queries = make_queries(20, a.dim);
  LookupEmbedder embedder(a.dim, model_id(a), queries.vector_of);
  Searcher searcher(*store, &embedder, system_time(), searcher_config(a));
  SearchOptions o;
  o.mode = SearchMode::kVector;
  o.record_access = false;
  const auto t0 = BenchClock::now();
  auto first = searcher.search(queries.text[0], o);
  const double first_ms = ms_since(t0);
  // Until the approximate index serves (at once where it is built inside the
  // first request); searches keep answering meanwhile.
  int answered_meanwhile = 0;
  std::vector<double> meanwhile_ms;
  while (searcher.index_kind("local") != "hnsw" && ms_since(t0) < 600000) {
    const auto t1 = BenchClock::now();
    searcher.search(queries.text[static_cast<size_t>(answered_meanwhile) % queries.text.size()], o);
    meanwhile_ms.push_back(ms_since(t1));
    ++answered_meanwhile;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double ready_ms = ms_since(t0);
  searcher.save_indexes();
  // The vectors this database holds (not --n, which first-search is not given).
  const int64_t stored_vectors = store->stats("local").embeddings;
  const double vector_mb = static_cast<double>(stored_vectors) * a.dim * 4 / 1048576.0;
  const double peak_mb = static_cast<double>(rss_kb("VmHWM:")) / 1024.0;
  sampling = false;
  sampler.join();
  const double anon_peak_mb = static_cast<double>(anon_peak_kb.load()) / 1024.0;
  nlohmann::json out = {{"vectors", stored_vectors},
                        {"graph_from", a.graph_from},
                        {"first_search_ms", first_ms},
                        {"first_results", first.size()},
                        {"hnsw_ready_ms", ready_ms},
                        {"searches_answered_while_building", answered_meanwhile},
                        {"search_while_building_p50_ms", meanwhile_ms.empty() ? 0.0 : percentile(meanwhile_ms, 0.5)},
                        {"vector_data_mb", vector_mb},
                        {"peak_rss_mb", peak_mb},
                        {"rss_before_mb", static_cast<double>(rss_before) / 1024.0},
                        {"peak_over_vector_data", (peak_mb - static_cast<double>(rss_before) / 1024.0) / vector_mb},
                        {"peak_anon_mb", anon_peak_mb},
                        {"peak_anon_over_vector_data", anon_peak_mb / vector_mb}};
  std::cout << out.dump() << std::endl;
  return 0;
}

int search(const Args& a) {
  auto store = open_sqlite_memory_store(a.dir / "memory.db");
  RawFts raw(a.dir / "raw.db");
  const auto queries = make_queries(a.queries, a.dim);
  LookupEmbedder embedder(a.dim, model_id(a), queries.vector_of);
  if (!a.encoder.empty()) embedder.also_encode_with(std::make_unique<BertEmbedder>(a.encoder));
  Searcher searcher(*store, &embedder, system_time(), searcher_config(a));
  // Load the saved index (in the background where the catalog does that)
  // and wait until it serves, in both the Searcher and the bare catalog.
  SearcherConfig cfg = searcher_config(a);
  VectorCatalog catalog(cfg);  // the index alone, loaded the same way
  const auto t_load = BenchClock::now();
  std::string kind = searcher.index_kind("local");
  while ((kind != "hnsw" || catalog.kind(*store, model_id(a), a.dim, "local") != "hnsw") &&
         ms_since(t_load) < 600000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    kind = searcher.index_kind("local");
  }
  const double load_ms = ms_since(t_load);
  RowReadFloor floor(a.dir / "memory.db");
  Samples lexical, fts, vector, index_alone, read_floor, hybrid;
  SearchOptions lo;
  lo.mode = SearchMode::kLexical;
  lo.record_access = false;
  SearchOptions vo = lo;
  vo.mode = SearchMode::kVector;
  SearchOptions ho = lo;
  ho.mode = SearchMode::kHybrid;
  size_t kioku_lexical_hits = 0, raw_hits = 0;
  const auto index_query = [&](int i) {
    size_t n = 0;
    catalog.read(*store, model_id(a), a.dim, "local", [&](const VectorIndex& index) {
      n = index.search(queries.vectors[static_cast<size_t>(i)], 10).size();
    });
    return n;
  };
  // The index's candidates as the Searcher asks for them, then their reads.
  const size_t floor_candidates = static_cast<size_t>(std::max(SearchOptions{}.candidates, SearchOptions{}.limit));
  const auto floor_query = [&](int i) {
    std::vector<VectorHit> hits;
    catalog.read(*store, model_id(a), a.dim, "local", [&](const VectorIndex& index) {
      hits = index.search(queries.vectors[static_cast<size_t>(i)], floor_candidates);
    });
    std::vector<std::string> ids;
    ids.reserve(hits.size());
    for (auto& h : hits) ids.push_back(std::move(h.id));
    return floor.read(ids, static_cast<size_t>(SearchOptions{}.limit), "local");
  };
  // Warm both.
  for (int i = 0; i < 20 && i < a.queries; ++i) {
    searcher.search(queries.text[static_cast<size_t>(i)], ho);
    raw.search(query_terms(queries.text[static_cast<size_t>(i)]));
  }
  for (int i = 0; i < a.queries; ++i) {
    const auto& q = queries.text[static_cast<size_t>(i)];
    const bool all = a.only.empty();
    // Alternate the order within each query.
    for (int k = 0; k < 2 && (all || a.only == "lexical"); ++k) {
      if ((k == 0) == (i % 2 == 0)) kioku_lexical_hits += lexical.time([&] { return searcher.search(q, lo).size(); });
      else raw_hits += fts.time([&] { return raw.search(query_terms(q)); });
    }
    if (all || a.only == "vector") vector.time([&] { return searcher.search(q, vo).size(); });
    if (all) index_alone.time([&] { return index_query(i); });
    if (all || a.only == "floor") read_floor.time([&] { return floor_query(i); });
    if (all || a.only == "hybrid") hybrid.time([&] { return searcher.search(q, ho).size(); });
  }
  // The index alone again, query after query with nothing in between, as the
  // hnswlib peer runs (interleaved with the searches above, SQLite's work
  // evicts the graph from the caches between two of its queries).
  Samples index_back_to_back;
  for (int i = 0; i < 20 && i < a.queries; ++i) index_query(i);
  for (int i = 0; i < a.queries; ++i) index_back_to_back.time([&] { return index_query(i); });
  nlohmann::json out = {{"memories", a.n},
                        {"queries", a.queries},
                        {"index_kind", kind},
                        {"saved_index_ready_ms", load_ms},
                        {"kioku_lexical", lexical.json()},
                        {"raw_fts5_top10", fts.json()},
                        {"lexical_ratio", ratio(lexical, fts, false)},
                        {"lexical_ratio_cpu", ratio(lexical, fts, true)},
                        {"kioku_lexical_hits", kioku_lexical_hits},
                        {"raw_fts5_hits", raw_hits},
                        {"kioku_vector_path", vector.json()},
                        {"kioku_hnsw_index_alone", index_alone.json()},
                        {"vector_read_floor", read_floor.json()},
                        {"vector_read_floor_candidates", floor_candidates},
                        {"kioku_hnsw_index_alone_back_to_back", index_back_to_back.json()},
                        {"kioku_hybrid", hybrid.json()}};
  // The query vectors for the hnswlib peer (raw float32, row-major).
  std::ofstream qf(a.dir / "queries.f32", std::ios::binary);
  for (const auto& v : queries.vectors) qf.write(reinterpret_cast<const char*>(v.data()), static_cast<long>(v.size() * 4));
  std::cout << out.dump() << std::endl;
  return 0;
}

int populate(const Args& a) {
  fs::remove_all(a.dir);
  fs::create_directories(a.dir);
  const auto rows = make_rows(a.n);
  auto store = open_sqlite_memory_store(a.dir / "memory.db");
  for (size_t from = 0; from < a.n; from += 1000) store->add_batch(to_memories(rows, from, std::min(a.n, from + 1000)));
  std::cout << nlohmann::json{{"memories", a.n}}.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  try {
    if (a.dir.empty()) throw std::runtime_error("--dir is required");
    if (a.mode == "bulk") return bulk(a);
    if (a.mode == "first-search") return first_search(a);
    if (a.mode == "search") return search(a);
    if (a.mode == "populate") return populate(a);
    throw std::runtime_error("mode: bulk, first-search, search or populate");
  } catch (const std::exception& e) {
    std::cerr << "store_search_peers: " << e.what() << "\n";
    return 1;
  }
}
