// Scheduled upkeep of the memory (seed 003's automation), one plain function
// per period; the job scheduler (lead's jobs layer) and `kioku maintain`
// call it and record its report.
//
//   hourly  extract entities and facts from memories not yet extracted
//           (normally the last hour's conversations), suggest memories (with
//           an LLM), update the graph.
//   daily   the hourly step, then: merge near-duplicates by meaning (cosine
//           >= merge_threshold between memories of one type; the survivor
//           supersedes the others, which keep their rows and provenance and
//           leave the hot vector index), recompute every confidence, archive
//           expired inferences, run promotion, summarise conversations older
//           than summary_after (LLM, or extractive without one).
//   weekly  a review (tier changes, entities and facts learned, facts closed
//           or contradicted, inferences expired) stored as a journal the user
//           can read; memories older than cold_after leave the hot vector
//           index (cold storage: full text still finds them).
//
// Crash safety and idempotence: every unit of work is one transaction that
// also records that it was done (a memory's extracted_at, a merge's
// merged_into, a summary's or review's maintenance key, a tier change with
// its history row). A run killed at any point leaves finished units done
// and the rest untouched; the next run skips what is done and finishes the
// rest. Running twice in a row changes nothing the second time (apart from
// confidences moving with the clock).
// Thread safety: a run uses the stores it is given from one thread.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time.h"
#include "embed/embedder.h"
#include "lifecycle/promotion.h"
#include "llm/llm_client.h"
#include "search/searcher.h"
#include "store/knowledge.h"
#include "store/store.h"

namespace kioku {

enum class Period { kHourly, kDaily, kWeekly };
std::string_view to_string(Period p);
Period parse_period(std::string_view s);

struct MaintenanceDeps {
  MemoryStore& memories;
  KnowledgeStore& knowledge;
  Embedder* embedder = nullptr;  // near-duplicate merge needs one (skipped, with a note, without)
  Searcher* searcher = nullptr;  // embeds pending memories first; merged/cold ids leave its loaded index
  LlmClient* llm = nullptr;      // extraction and summaries; lexical/extractive without
};

struct MaintenanceOptions {
  std::string user_id;  // "" = every user with memories
  double merge_threshold = 0.93;
  std::chrono::hours summary_after{24 * 7};
  std::chrono::minutes session_gap{30};
  std::chrono::hours cold_after{24 * 90};  // seed 003's max_memory_age_days
  PromotionRules rules;
  // Called after each unit of work ("extract", "merge", "confidence",
  // "expire", "promote", "summarise", "review", "cold") with the units done
  // so far in that step; tests use it to stop a run in the middle.
  std::function<void(std::string_view step, int64_t done)> on_progress;
};

struct MaintenanceReport {
  Period period = Period::kDaily;
  TimePoint started_at{};
  TimePoint finished_at{};
  int users = 0;
  int64_t memories_extracted = 0;
  int64_t entities_created = 0;
  int64_t mentions = 0;
  int64_t facts_recorded = 0;
  int64_t facts_closed = 0;
  int64_t contradictions = 0;
  int64_t suggestions = 0;
  int64_t llm_replies_rejected = 0;
  int64_t lexical_fallbacks = 0;
  int64_t duplicates_merged = 0;
  int64_t confidence_updated = 0;
  int64_t expired = 0;
  std::map<std::string, int64_t> promotions;  // by rule
  int64_t sessions_summarised = 0;
  std::vector<std::string> reviews;  // journal ids written
  int64_t memories_cold = 0;
  std::vector<std::string> notes;
  std::vector<std::string> errors;
  nlohmann::json to_json() const;
  int64_t promoted() const;
};

MaintenanceReport run_maintenance(Period period, const TimeSource& clock, MaintenanceDeps deps,
                                  const MaintenanceOptions& options = {});

// An extractive summary of a conversation: its most telling sentences, in order.
std::string extractive_summary(const std::vector<Memory>& messages, size_t max_sentences = 3);

}  // namespace kioku
