// LoCoMo retrieval evaluation (protocol: ../shared/data/locomo/README.md).
// Every turn becomes one memory ("Speaker: text", plus "[photo: caption]"),
// stamped with its session's date; every question of categories 1-4 is a
// query; recall@k is the share of a question's valid evidence turns found in
// the top k, averaged over questions; NDCG@k counts each evidence turn as
// relevant (gain 1). Each conversation is evaluated in its own user namespace
// of one fresh store. Query latency is the time of Searcher::search alone
// (the question's embedding included).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time.h"
#include "embed/embedder.h"
#include "search/searcher.h"

namespace kioku {

struct LocomoOptions {
  std::vector<int> ks = {5, 10};
  SearchMode mode = SearchMode::kLexical;
  Embedder* embedder = nullptr;  // needed for vector / hybrid
  std::filesystem::path work_dir;  // where the throw-away store lives
  // Fusion settings (defaults: SearchOptions' own).
  SearchOptions search;
  // How the searcher embeds (e.g. chat context in the key).
  SearcherConfig searcher;
  // Only the first N conversations (0 = all): for quick tests.
  int max_conversations = 0;
  // Keep every question's outcome in LocomoReport::per_question (analysis).
  bool per_question = false;
};

struct LocomoReport {
  int questions = 0;
  int conversations = 0;
  int turns = 0;
  int skipped_evidence = 0;
  std::map<int, double> recall;                     // k -> recall@k
  std::map<int, double> ndcg;                       // k -> NDCG@k
  std::map<int, std::map<int, double>> by_category;  // category -> k -> recall@k
  std::map<int, std::map<int, double>> ndcg_by_category;
  std::map<int, int> questions_by_category;
  double query_p50_ms = 0;
  double query_p95_ms = 0;
  double index_seconds = 0;  // embedding the turns (0 in lexical mode)
  // With LocomoOptions::per_question: {question, category, evidence, ranks
  // (1-based rank of each evidence turn in the results, 0 = not returned)}.
  std::vector<nlohmann::json> per_question;
  nlohmann::json to_json() const;
};

// Parses "1:56 pm on 8 May, 2023" (LoCoMo's session stamps).
std::optional<TimePoint> parse_locomo_datetime(const std::string& text);

// Throws kNotFound / kInvalidInput for a missing or malformed file.
LocomoReport evaluate_locomo(const std::filesystem::path& dataset, const LocomoOptions& options);

}  // namespace kioku
