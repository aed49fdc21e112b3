#include "eval/locomo.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <regex>
#include <set>

#include "core/error.h"
#include "store/sqlite/sqlite_store.h"

namespace kioku {

namespace {

int month_number(std::string m) {
  static const char* names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return std::tolower(c); });
  for (int i = 0; i < 12; ++i)
    if (m.rfind(names[i], 0) == 0) return i + 1;
  return 0;
}

}  // namespace

std::optional<TimePoint> parse_locomo_datetime(const std::string& text) {
  static const std::regex re(R"((\d{1,2}):(\d{2})\s*([ap]m)\s+on\s+(\d{1,2})\s+([A-Za-z]+),?\s+(\d{4}))",
                             std::regex::icase);
  std::smatch m;
  if (!std::regex_search(text, m, re)) return std::nullopt;
  int hour = std::stoi(m[1]) % 12;
  if (std::tolower(static_cast<unsigned char>(m[3].str()[0])) == 'p') hour += 12;
  const int month = month_number(m[5]);
  if (month == 0) return std::nullopt;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:00Z", std::stoi(m[6]), month, std::stoi(m[4]), hour,
                std::stoi(m[2]));
  return parse_iso8601(buf);
}

nlohmann::json LocomoReport::to_json() const {
  nlohmann::json j;
  j["questions"] = questions;
  j["conversations"] = conversations;
  j["turns"] = turns;
  j["skipped_evidence"] = skipped_evidence;
  for (const auto& [k, r] : recall) j["recall@" + std::to_string(k)] = r;
  for (const auto& [k, r] : ndcg) j["ndcg@" + std::to_string(k)] = r;
  j["query_p50_ms"] = query_p50_ms;
  j["query_p95_ms"] = query_p95_ms;
  j["index_seconds"] = index_seconds;
  nlohmann::json cats = nlohmann::json::object();
  static const std::map<int, std::string> names = {{1, "multi-hop"}, {2, "temporal"}, {3, "open-domain"}, {4, "single-hop"}};
  for (const auto& [cat, per_k] : by_category) {
    nlohmann::json c;
    c["name"] = names.count(cat) ? names.at(cat) : "other";
    c["questions"] = questions_by_category.at(cat);
    for (const auto& [k, r] : per_k) c["recall@" + std::to_string(k)] = r;
    if (ndcg_by_category.count(cat))
      for (const auto& [k, r] : ndcg_by_category.at(cat)) c["ndcg@" + std::to_string(k)] = r;
    cats[std::to_string(cat)] = c;
  }
  j["by_category"] = cats;
  if (!per_question.empty()) j["per_question"] = per_question;
  return j;
}

LocomoReport evaluate_locomo(const std::filesystem::path& dataset, const LocomoOptions& options) {
  std::ifstream in(dataset);
  if (!in) throw not_found("cannot read LoCoMo file " + dataset.string());
  nlohmann::json samples;
  try {
    samples = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw invalid_input(dataset.string() + " is not valid JSON: " + e.what());
  }
  if (!samples.is_array()) throw invalid_input(dataset.string() + ": expected a list of LoCoMo samples");
  if (options.ks.empty()) throw invalid_input("--k needs at least one value");
  const int max_k = *std::max_element(options.ks.begin(), options.ks.end());

  std::filesystem::create_directories(options.work_dir);
  const auto db_path = options.work_dir / "locomo-eval.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_path.string() + suffix);
  auto store = open_sqlite_memory_store(db_path);
  Searcher searcher(*store, options.mode == SearchMode::kLexical ? nullptr : options.embedder, system_time(),
                    options.searcher);

  LocomoReport report;
  std::map<int, double> recall_sum, ndcg_sum;
  std::map<int, std::map<int, double>> cat_sum, cat_ndcg_sum;
  std::vector<double> latencies_ms;
  for (const auto& sample : samples) {
    if (options.max_conversations > 0 && report.conversations >= options.max_conversations) break;
    if (!sample.is_object() || !sample.contains("conversation") || !sample.contains("qa"))
      throw invalid_input(dataset.string() + ": a sample lacks 'conversation' or 'qa'");
    const std::string user = "locomo:" + sample.value("sample_id", std::to_string(report.conversations));
    ++report.conversations;
    const auto& conv = sample["conversation"];
    std::vector<Memory> batch;
    std::map<std::string, std::string> memory_of_turn;  // dia_id -> memory id (filled after add)
    std::map<std::string, std::string> turn_of_memory;
    std::vector<std::string> turn_ids;
    for (int s = 1; conv.contains("session_" + std::to_string(s)); ++s) {
      const std::string key = "session_" + std::to_string(s);
      auto when = parse_locomo_datetime(conv.value(key + "_date_time", ""));
      for (const auto& turn : conv[key]) {
        Memory m;
        m.user_id = user;
        m.type = std::string(memory_types::kChat);
        m.source = Source::kImported;
        m.content = turn.value("speaker", "") + ": " + turn.value("text", "");
        if (turn.contains("blip_caption") && turn["blip_caption"].is_string())
          m.content += " [photo: " + turn["blip_caption"].get<std::string>() + "]";
        if (when) m.event_time = *when;
        m.provenance.kind = "locomo";
        m.provenance.message_id = turn.value("dia_id", "");
        turn_ids.push_back(m.provenance.message_id);
        batch.push_back(std::move(m));
      }
    }
    auto outcomes = store->add_batch(std::move(batch));
    for (size_t i = 0; i < outcomes.size(); ++i) {
      memory_of_turn[turn_ids[i]] = outcomes[i].id;
      turn_of_memory[outcomes[i].id] = turn_ids[i];
    }
    report.turns += static_cast<int>(outcomes.size());
    if (options.mode != SearchMode::kLexical && options.embedder) {
      const auto t0 = std::chrono::steady_clock::now();
      searcher.index_pending(1 << 30);
      report.index_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }

    for (const auto& qa : sample["qa"]) {
      const int category = qa.value("category", 0);
      if (category < 1 || category > 4) continue;
      std::set<std::string> wanted;
      if (qa.contains("evidence") && qa["evidence"].is_array()) {
        for (const auto& ev : qa["evidence"]) {
          if (!ev.is_string()) continue;
          auto it = memory_of_turn.find(ev.get<std::string>());
          if (it == memory_of_turn.end()) {
            ++report.skipped_evidence;
            continue;
          }
          wanted.insert(it->second);
        }
      }
      if (wanted.empty()) continue;
      SearchOptions so = options.search;
      so.filter.user_id = user;
      so.limit = max_k;
      so.mode = options.mode;
      so.record_access = false;
      so.recency_weight = 0;  // the dataset's dates say nothing about relevance
      so.importance_weight = 0;
      const auto t0 = std::chrono::steady_clock::now();
      auto results = searcher.search(qa.value("question", ""), so);
      latencies_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      ++report.questions;
      ++report.questions_by_category[category];
      if (options.per_question) {
        nlohmann::json ranks = nlohmann::json::object();
        for (const auto& id : wanted) ranks[turn_of_memory[id]] = 0;
        std::vector<std::string> top;
        for (size_t i = 0; i < results.size(); ++i) {
          const auto& turn = turn_of_memory[results[i].memory.id];
          if (wanted.count(results[i].memory.id)) ranks[turn] = static_cast<int>(i + 1);
          if (i < 10) top.push_back(turn);
        }
        report.per_question.push_back({{"conversation", user},
                                       {"question", qa.value("question", "")},
                                       {"category", category},
                                       {"ranks", ranks},
                                       {"top", top}});
      }
      for (int k : options.ks) {
        int found = 0;
        for (int i = 0; i < k && i < static_cast<int>(results.size()); ++i)
          if (wanted.count(results[static_cast<size_t>(i)].memory.id)) ++found;
        const double r = static_cast<double>(found) / static_cast<double>(wanted.size());
        recall_sum[k] += r;
        cat_sum[category][k] += r;
        // NDCG@k with gain 1 per evidence turn.
        double dcg = 0, ideal = 0;
        for (int i = 0; i < k && i < static_cast<int>(results.size()); ++i)
          if (wanted.count(results[static_cast<size_t>(i)].memory.id)) dcg += 1.0 / std::log2(i + 2.0);
        for (int i = 0; i < k && i < static_cast<int>(wanted.size()); ++i) ideal += 1.0 / std::log2(i + 2.0);
        ndcg_sum[k] += dcg / ideal;
        cat_ndcg_sum[category][k] += dcg / ideal;
      }
    }
  }
  for (const auto& [k, sum] : recall_sum) report.recall[k] = report.questions ? sum / report.questions : 0;
  for (const auto& [k, sum] : ndcg_sum) report.ndcg[k] = report.questions ? sum / report.questions : 0;
  for (const auto& [cat, per_k] : cat_sum)
    for (const auto& [k, sum] : per_k) report.by_category[cat][k] = sum / report.questions_by_category[cat];
  for (const auto& [cat, per_k] : cat_ndcg_sum)
    for (const auto& [k, sum] : per_k) report.ndcg_by_category[cat][k] = sum / report.questions_by_category[cat];
  if (!latencies_ms.empty()) {
    std::sort(latencies_ms.begin(), latencies_ms.end());
    report.query_p50_ms = latencies_ms[latencies_ms.size() / 2];
    report.query_p95_ms = latencies_ms[std::min(latencies_ms.size() - 1, latencies_ms.size() * 95 / 100)];
  }
  store.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_path.string() + suffix);
  return report;
}

}  // namespace kioku
