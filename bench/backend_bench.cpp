// SQLite next to PostgreSQL in one run: add throughput (batches of 1000, no
// embeddings), full-text search latency (MemoryStore::search_text, the
// lexical half of every search) and the whole lexical search (Searcher: the
// candidates' rows and ranking, top 10 records) at the given sizes. Prints
// one JSON object.
// Usage: backend_bench --pg URL [--sizes 10000,100000] [--queries 300] [--dir /tmp/x] [--keep 1]
//   (URL: e.g. scripts/pg-test-server start /tmp/kpg; then --pg "$(cat /tmp/kpg/url)";
//   the bench works in a schema of its own, kioku_bench, dropped first, as
//   the role kioku_bench, which the URL's user must be allowed to create.)
#include <libpq-fe.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/synthetic.h"
#include "search/query.h"
#include "search/searcher.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

using namespace kioku;
using kioku::bench::percentile;
using kioku::bench::TextGenerator;
using BenchClock = std::chrono::steady_clock;

namespace {

nlohmann::json run(MemoryStore& store, const std::vector<size_t>& sizes, int queries) {
  nlohmann::json out;
  TextGenerator gen(42);  // the same memories and queries on both backends
  const size_t batch_size = 1000;
  size_t stored = 0;
  double add_seconds = 0;
  for (size_t target : sizes) {
    while (stored < target) {
      auto batch = bench::synthetic_batch(gen, std::min(batch_size, target - stored), stored);
      const auto t0 = BenchClock::now();
      store.add_batch(std::move(batch));
      add_seconds += std::chrono::duration<double>(BenchClock::now() - t0).count();
      stored = std::min(target, stored + batch_size);
    }
    std::vector<double> ms;
    TextGenerator qgen(7);
    MemoryFilter filter;
    for (int q = 0; q < queries; ++q) {
      const auto terms = query_terms(qgen.query(2, 5));
      const auto t0 = BenchClock::now();
      store.search_text(terms, filter, 50);
      ms.push_back(std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count());
    }
    out["search_" + std::to_string(target)] = {{"memories", target},
                                               {"queries", queries},
                                               {"p50_ms", percentile(ms, 0.5)},
                                               {"p95_ms", percentile(ms, 0.95)}};
    Searcher searcher(store, nullptr);
    SearchOptions lexical;
    lexical.mode = SearchMode::kLexical;
    lexical.record_access = false;
    std::vector<double> searcher_ms;
    TextGenerator sgen(7);
    for (int q = 0; q < queries; ++q) {
      const std::string query = sgen.query(2, 5);
      const auto t0 = BenchClock::now();
      searcher.search(query, lexical);
      searcher_ms.push_back(std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count());
    }
    out["lexical_search_" + std::to_string(target)] = {{"memories", target},
                                                       {"queries", queries},
                                                       {"p50_ms", percentile(searcher_ms, 0.5)},
                                                       {"p95_ms", percentile(searcher_ms, 0.95)}};
  }
  out["add"] = {{"memories", stored},
                {"batch_size", batch_size},
                {"seconds", add_seconds},
                {"memories_per_s", static_cast<double>(stored) / add_seconds}};
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes = {10000, 100000};
  int queries = 300;
  std::string pg;
  bool keep = false;  // --keep 1: leave the kioku_bench schema for a look (EXPLAIN)
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "kioku-backend-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string v = argv[i + 1];
    if (flag == "--sizes") {
      sizes.clear();
      for (size_t start = 0; start < v.size();) {
        size_t end = v.find(',', start);
        if (end == std::string::npos) end = v.size();
        sizes.push_back(std::stoul(v.substr(start, end - start)));
        start = end + 1;
      }
    } else if (flag == "--queries") {
      queries = std::stoi(v);
    } else if (flag == "--pg") {
      pg = v;
    } else if (flag == "--dir") {
      dir = v;
    } else if (flag == "--keep") {
      keep = v == "1";
    }
  }
  if (pg.empty()) {
    std::cerr << "backend_bench: --pg URL is required (see the usage at the top of bench/backend_bench.cpp)\n";
    return 2;
  }
  nlohmann::json report;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    auto sqlite = open_sqlite_memory_store(dir / "memory.db");
    report["sqlite"] = run(*sqlite, sizes, queries);
  }
  std::filesystem::remove_all(dir);
  PGconn* c = PQconnectdb(pg.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::cerr << "backend_bench: cannot connect to PostgreSQL: " << PQerrorMessage(c);
    return 1;
  }
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
  // The schema belongs to an ordinary role and the stores connect as it: a
  // superuser would bypass row-level security (docs/POSTGRES.md), and the
  // figures are for the way Kioku should run.
  PQclear(PQexec(c,
                 "DROP SCHEMA IF EXISTS kioku_bench CASCADE; DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles "
                 "WHERE rolname = 'kioku_bench') THEN CREATE ROLE kioku_bench LOGIN NOSUPERUSER NOBYPASSRLS; END IF; "
                 "END $$; CREATE SCHEMA kioku_bench AUTHORIZATION kioku_bench"));
  const std::string url =
      pg + (pg.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3Dkioku_bench&user=kioku_bench";
  {
    auto postgres = open_postgres_memory_store(url);
    report["postgres"] = run(*postgres, sizes, queries);
  }
  if (!keep) PQclear(PQexec(c, "DROP SCHEMA kioku_bench CASCADE"));
  PQfinish(c);
  std::cout << report.dump(2) << std::endl;
  return 0;
}
