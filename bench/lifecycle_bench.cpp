// Times the daily maintenance run (issue 12) at N memories: extraction of
// every memory into the graph (lexical; no LLM), near-duplicate merge over
// the hashing embedder's vectors, confidence for all, expiry, promotion,
// session summaries. Then the steady state: a second daily run, and an
// hourly run after 100 new memories. Prints JSON.
//   lifecycle_bench [--memories 100000] [--dir PATH]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/synthetic.h"
#include "embed/hashing_embedder.h"
#include "lifecycle/maintenance.h"
#include "search/searcher.h"
#include "store/knowledge.h"
#include "store/sqlite/sqlite_store.h"

using namespace kioku;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int n = 100000;
  std::filesystem::path dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--memories") n = std::stoi(argv[i + 1]);
    else if (flag == "--dir") dir = argv[i + 1];
  }
  const bool own_dir = dir.empty();
  if (own_dir) dir = std::filesystem::temp_directory_path() / ("kioku-lifecycle-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  const TimePoint now = *parse_iso8601("2026-11-30T09:00:00Z");
  FakeTimeSource clock(now);
  auto memories = open_sqlite_memory_store(dir / "memory.db", clock);
  auto knowledge = open_sqlite_knowledge_store(dir / "memory.db", clock);
  HashingEmbedder embedder(256);
  Searcher searcher(*memories, &embedder, clock);

  // The corpus: synthetic notes, one in five naming people and places, 2%
  // near-duplicates of an earlier note, chat sessions, a few suggestions.
  bench::TextGenerator text(42);
  std::mt19937_64 rng(7);
  const char* verbs[] = {"moved to", "works at", "visited", "lives in", "met"};
  std::vector<Memory> batch;
  std::vector<std::string> recent_notes;
  auto t_fill = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    Memory m;
    const auto age = std::chrono::minutes(static_cast<int64_t>((n - i)) * 7);  // ~2 years over 100k
    m.event_time = m.created_at = now - age;
    const int kind = static_cast<int>(rng() % 100);
    if (kind < 20) {
      m.content = "Person" + std::to_string(rng() % 3000) + " " + verbs[rng() % 5] + " Place" +
                  std::to_string(rng() % 400) + " with " + text.sentence(4, 10) + ".";
    } else if (kind < 22 && !recent_notes.empty()) {
      m.content = recent_notes[rng() % recent_notes.size()] + "!";  // same words: a near-duplicate
    } else if (kind < 40) {
      m.type = "chat";
      m.source = Source::kConversation;
      m.metadata = {{"role", rng() % 2 ? "user" : "assistant"}};
      m.content = text.sentence(6, 30) + ".";
    } else if (kind < 41) {
      m.source = Source::kAiSuggested;
      m.approved = false;
      m.content = "The user may like " + text.sentence(2, 5) + ".";
    } else {
      m.content = text.sentence(8, 40) + ".";
      if (recent_notes.size() < 2000) recent_notes.push_back(m.content);
      else recent_notes[rng() % recent_notes.size()] = m.content;
    }
    batch.push_back(std::move(m));
    if (batch.size() == 1000) {
      memories->add_batch(batch);
      batch.clear();
    }
  }
  if (!batch.empty()) memories->add_batch(batch);
  const double fill_s = seconds_since(t_fill);
  auto t_embed = std::chrono::steady_clock::now();
  const int embedded = searcher.index_pending(n * 2);
  const double embed_s = seconds_since(t_embed);

  MaintenanceDeps deps{*memories, *knowledge, &embedder, &searcher, nullptr};
  auto t1 = std::chrono::steady_clock::now();
  MaintenanceReport first = run_maintenance(Period::kDaily, clock, deps);
  const double first_s = seconds_since(t1);

  clock.advance(std::chrono::hours(24));
  auto t2 = std::chrono::steady_clock::now();
  MaintenanceReport second = run_maintenance(Period::kDaily, clock, deps);
  const double second_s = seconds_since(t2);

  for (int i = 0; i < 100; ++i) {
    Memory m;
    m.content = "Person" + std::to_string(i) + " moved to Place" + std::to_string(i % 40) + ".";
    memories->add(m);
  }
  auto t3 = std::chrono::steady_clock::now();
  MaintenanceReport hourly = run_maintenance(Period::kHourly, clock, deps);
  const double hourly_s = seconds_since(t3);

  auto t4 = std::chrono::steady_clock::now();
  MaintenanceReport weekly = run_maintenance(Period::kWeekly, clock, deps);
  const double weekly_s = seconds_since(t4);

  auto stats = memories->stats("local");
  nlohmann::json out = {
      {"memories", n},
      {"fill_seconds", fill_s},
      {"embed_seconds", embed_s},
      {"embedded", embedded},
      {"daily_first_seconds", first_s},
      {"daily_first", first.to_json()},
      {"daily_steady_seconds", second_s},
      {"daily_steady", second.to_json()},
      {"hourly_100_new_seconds", hourly_s},
      {"hourly", hourly.to_json()},
      {"weekly_seconds", weekly_s},
      {"weekly", weekly.to_json()},
      {"by_tier", stats.by_tier},
      {"database_bytes", stats.database_bytes},
      {"graph", {{"entities", knowledge->graph_counts("local").entities}, {"facts", knowledge->graph_counts("local").facts}}},
  };
  std::cout << out.dump(2) << "\n";
  memories.reset();
  knowledge.reset();
  if (own_dir) std::filesystem::remove_all(dir);
  return 0;
}
