// Companion benchmark. Prints JSON:
//   context_build: p50/p95 of building a chat context at --memories memories;
//   turn_overhead: time kioku adds to a chat turn beyond the provider's own
//   time (a loopback OpenAI-compatible server that answers at once; its
//   measured service time is subtracted);
//   each also as this thread's CPU time (cpu_p50_ms): the provider runs in
//   another thread, so a turn's CPU time is kioku's own work, and it holds
//   still on a loaded machine where wall time measures the scheduler.
// Usage: companion_bench [--memories 100000] [--turns 200]
#include <chrono>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "bench/synthetic.h"
#include "companion/companion_service.h"
#include "llm/fake_llm_server.h"
#include "store/sqlite/sqlite_store.h"

using namespace kioku;
using BenchClock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  size_t memories = 100000;
  int turns = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i];
    if (f == "--memories") memories = std::stoul(argv[i + 1]);
    if (f == "--turns") turns = std::stoi(argv[i + 1]);
  }
  const auto dir = std::filesystem::temp_directory_path() / "kioku-companion-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto store = open_sqlite_memory_store(dir / "memory.db");
  auto jobs = open_sqlite_job_store(dir / "memory.db");
  bench::TextGenerator gen(3);
  const auto now = system_time().now();
  for (size_t done = 0; done < memories;) {
    std::vector<Memory> batch;
    for (size_t i = 0; i < 1000 && done < memories; ++i, ++done) {
      Memory m;
      m.content = gen.sentence(8, 40) + " #" + std::to_string(done);
      // Spread over a year, with the newest few hundred inside the last day.
      m.event_time = now - std::chrono::minutes(static_cast<int64_t>(memories - done) * 5);
      m.importance = (done % 10) / 10.0;
      if (done % 97 == 0) m.memory_kind = MemoryKind::kPreference;
      batch.push_back(std::move(m));
    }
    store->add_batch(std::move(batch));
  }
  Searcher searcher(*store, nullptr);
  ContextBuilder builder(*store, searcher);
  std::vector<double> build_ms, build_cpu_ms;
  bench::TextGenerator qgen(5);
  for (int i = 0; i < turns; ++i) {
    const std::string q = qgen.query(3, 8);
    const auto t0 = BenchClock::now();
    const double c0 = bench::thread_cpu_ms();
    auto ctx = builder.build("local", q, ContextOptions{});
    build_cpu_ms.push_back(bench::thread_cpu_ms() - c0);
    build_ms.push_back(std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count());
  }

  // Provider time = a bare request to the fake server, measured the same way.
  testing::FakeLlmServer server([](const nlohmann::json&) { return "ok, noted."; });
  LlmConfig c;
  c.provider = "openai";
  c.url = server.url();
  c.model = "bench";
  auto llm = make_llm_client(c);
  std::vector<double> bare_ms, turn_ms, bare_cpu_ms, turn_cpu_ms;
  for (int i = 0; i < turns; ++i) {
    ChatRequest r;
    r.messages = {{"user", "hello"}};
    const auto t0 = BenchClock::now();
    const double c0 = bench::thread_cpu_ms();
    llm->chat(r, nullptr);
    bare_cpu_ms.push_back(bench::thread_cpu_ms() - c0);
    bare_ms.push_back(std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count());
  }
  CompanionService companion(*store, *jobs, searcher, llm.get(), default_persona(), {});
  for (int i = 0; i < turns; ++i) {
    const std::string q = qgen.query(3, 8);
    const auto t0 = BenchClock::now();
    const double c0 = bench::thread_cpu_ms();
    companion.chat("local", q);
    turn_cpu_ms.push_back(bench::thread_cpu_ms() - c0);
    turn_ms.push_back(std::chrono::duration<double, std::milli>(BenchClock::now() - t0).count());
  }
  const double bare_p50 = bench::percentile(bare_ms, 0.5);
  nlohmann::json report = {
      {"memories", memories},
      {"context_build",
       {{"p50_ms", bench::percentile(build_ms, 0.5)},
        {"p95_ms", bench::percentile(build_ms, 0.95)},
        {"cpu_p50_ms", bench::percentile(build_cpu_ms, 0.5)}}},
      {"provider_roundtrip_p50_ms", bare_p50},
      {"provider_roundtrip_cpu_p50_ms", bench::percentile(bare_cpu_ms, 0.5)},
      {"turn",
       {{"p50_ms", bench::percentile(turn_ms, 0.5)},
        {"p95_ms", bench::percentile(turn_ms, 0.95)},
        {"cpu_p50_ms", bench::percentile(turn_cpu_ms, 0.5)}}},
      {"turn_overhead_p50_ms", bench::percentile(turn_ms, 0.5) - bare_p50},
      {"turn_overhead_cpu_p50_ms", bench::percentile(turn_cpu_ms, 0.5)},
  };
  std::cout << report.dump(2) << std::endl;
  store.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
