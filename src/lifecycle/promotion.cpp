#include "lifecycle/promotion.h"

#include <algorithm>
#include <cmath>

namespace kioku {
namespace {

bool has_tag_identity(const LifecycleRow& row) { return row.lifecycle.identity_since.has_value(); }

double days(std::chrono::milliseconds d) { return std::chrono::duration<double>(d).count() / 86400.0; }

}  // namespace

double source_reliability(Source source, bool validated) {
  if (validated) return 0.95;
  switch (source) {
    case Source::kManual: return 0.9;
    case Source::kImported: return 0.8;
    case Source::kConversation: return 0.7;
    case Source::kAiSuggested: return 0.5;
  }
  return 0.5;
}

Confidence recompute_confidence(const LifecycleRow& row, TimePoint now, const PromotionRules& rules) {
  Confidence c = row.confidence;
  c.source_reliability = source_reliability(row.source, row.lifecycle.validated_at.has_value());
  // Last confirmed or used: a corroboration or edit bumps updated_at, a read bumps last_accessed.
  TimePoint last = std::max(row.created_at, row.updated_at);
  if (row.last_accessed) last = std::max(last, *row.last_accessed);
  if (row.lifecycle.validated_at) last = std::max(last, *row.lifecycle.validated_at);
  const double age = std::max(0.0, days(now - last));
  c.recency = std::exp2(-age / rules.recency_half_life_days);
  const double corroborated =
      1.0 - (1.0 - c.source_reliability) * std::pow(0.6, std::max(0, c.corroboration_count));
  const double overall = corroborated * std::pow(0.7, std::max(0, c.contradiction_count)) * (0.8 + 0.2 * c.recency);
  c.overall = std::clamp(overall, 0.0, 1.0);
  return c;
}

std::optional<TierChange> next_promotion(const LifecycleRow& row, TimePoint now, const PromotionRules& rules) {
  if (!row.approved) return std::nullopt;
  const Confidence& c = row.confidence;
  TierChange change;
  change.memory_id = row.id;
  change.from = row.tier;
  change.at = now;
  change.detail = {{"confidence", c.overall},
                   {"corroborations", c.corroboration_count},
                   {"contradictions", c.contradiction_count}};
  if (row.tier == Tier::kShortTerm) {
    change.to = Tier::kLongTerm;
    if (row.lifecycle.validated_at) {
      change.rule = "short_to_long:validated";
      change.detail["validated_at"] = format_iso8601(*row.lifecycle.validated_at);
      return change;
    }
    if (c.overall >= rules.short_to_long_confidence && c.corroboration_count >= rules.short_to_long_corroborations) {
      change.rule = "short_to_long:corroborated";
      return change;
    }
    if (now - row.created_at >= rules.persisted_for && c.contradiction_count == 0) {
      change.rule = "short_to_long:persisted";
      change.detail["days_stored"] = days(now - row.created_at);
      return change;
    }
    return std::nullopt;
  }
  if (row.tier == Tier::kLongTerm) {
    change.to = Tier::kPersistent;
    if (row.truth_category == TruthCategory::kAbsolute && c.overall >= rules.absolute_confidence) {
      change.rule = "long_to_persistent:absolute";
      return change;
    }
    if (has_tag_identity(row) && now - *row.lifecycle.identity_since >= rules.identity_for) {
      change.rule = "long_to_persistent:identity";
      change.detail["identity_since"] = format_iso8601(*row.lifecycle.identity_since);
      return change;
    }
    if (row.memory_kind == MemoryKind::kPreference && c.contradiction_count == 0 &&
        row.access_count >= rules.preference_accesses && row.last_accessed &&
        *row.last_accessed - row.created_at >= rules.preference_span) {
      change.rule = "long_to_persistent:preference";
      change.detail["accesses"] = row.access_count;
      change.detail["days_accessed_over"] = days(*row.last_accessed - row.created_at);
      return change;
    }
  }
  return std::nullopt;
}

std::optional<TimePoint> expiry_time(const LifecycleRow& row, const PromotionRules& rules) {
  if (row.tier != Tier::kShortTerm || row.source != Source::kAiSuggested || row.approved) return std::nullopt;
  if (row.lifecycle.validated_at || row.confidence.corroboration_count > 0) return std::nullopt;
  const double share = std::clamp(row.confidence.overall, 0.0, 1.0);
  const auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(
      rules.ttl_min + std::chrono::duration<double, std::ratio<3600>>((rules.ttl_max - rules.ttl_min).count() * share));
  return row.created_at + ttl;
}

}  // namespace kioku
