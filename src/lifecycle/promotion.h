// Seed 001's promotion engine, its confidence model and the expiry of
// unconfirmed inferences. Pure functions of a memory's row and "now", so
// every rule is tested on both sides of its threshold with a fake clock.
//
// Confidence (recomputed, never accumulated):
//   reliability  = by source: manual 0.9, imported 0.8, conversation 0.7,
//                  ai_suggested 0.5; 0.95 once the user validated it
//   recency      = 0.5 ^ (days since last confirmed or used / 180)
//   corroborated = 1 - (1 - reliability) * 0.6 ^ corroborations
//   overall      = corroborated * 0.7 ^ contradictions * (0.8 + 0.2 * recency)
//
// Rules (each tier change is recorded with the rule's name):
//   short_to_long:validated     the user validated it
//   short_to_long:corroborated  confidence >= 0.6 and corroborated >= 2 times
//   short_to_long:persisted     stored 3+ days ago with no contradictions
//   long_to_persistent:absolute truth category absolute and confidence >= 0.9
//   long_to_persistent:identity tagged "identity" for 30+ days
//   long_to_persistent:preference a preference with no contradictions, accessed
//                               10+ times over 60+ days (first store to last access)
// Pending suggestions (approved = false) are not promoted: nobody has
// accepted them yet. A memory may climb both steps in one run.
//
// Expiry: only short-term memories the system inferred (source
// ai_suggested), still unapproved, never corroborated and never validated;
// after a TTL of 24 h + 48 h x confidence (seed 001's 24-72 h). They go to the
// archive (KnowledgeStore::archive_memory), from where they can be restored.
#pragma once

#include <optional>
#include <string>

#include "core/time.h"
#include "store/knowledge.h"

namespace kioku {

struct PromotionRules {
  double short_to_long_confidence = 0.6;
  int short_to_long_corroborations = 2;
  std::chrono::hours persisted_for{24 * 3};
  double absolute_confidence = 0.9;
  std::chrono::hours identity_for{24 * 30};
  int preference_accesses = 10;
  std::chrono::hours preference_span{24 * 60};
  double recency_half_life_days = 180;
  std::chrono::hours ttl_min{24};
  std::chrono::hours ttl_max{72};
};

double source_reliability(Source source, bool validated);
// The confidence of row at now (counts kept, parts and overall recomputed).
Confidence recompute_confidence(const LifecycleRow& row, TimePoint now, const PromotionRules& rules = {});

// The next tier change row qualifies for at now (row's confidence as
// stored), or nullopt.
std::optional<TierChange> next_promotion(const LifecycleRow& row, TimePoint now, const PromotionRules& rules = {});

// When an unconfirmed inference expires; nullopt for anything that never does.
std::optional<TimePoint> expiry_time(const LifecycleRow& row, const PromotionRules& rules = {});

}  // namespace kioku
