// Seed 001's promotion rules, confidence and expiry: each rule on both sides
// of its threshold (pure functions), then the same rules through a daily
// run on a real memory.db with a fake clock.
#include <gtest/gtest.h>

#include "lifecycle/maintenance.h"
#include "lifecycle/promotion.h"
#include "store/knowledge.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

const TimePoint kNow = *parse_iso8601("2026-06-01T12:00:00Z");
constexpr milliseconds kMs{1};
constexpr hours kDay{24};

LifecycleRow row(Tier tier = Tier::kShortTerm) {
  LifecycleRow r;
  r.id = "m1";
  r.tier = tier;
  r.created_at = r.updated_at = r.event_time = kNow - hours(1);
  r.confidence.overall = 0.5;
  return r;
}

std::string rule_of(const LifecycleRow& r, TimePoint now = kNow) {
  auto c = next_promotion(r, now);
  return c ? c->rule : "";
}

TEST(Promotion, ShortToLongByConfidenceAndCorroborations) {
  LifecycleRow r = row();
  r.confidence.overall = 0.6;
  r.confidence.corroboration_count = 2;
  EXPECT_EQ(rule_of(r), "short_to_long:corroborated");
  r.confidence.overall = 0.599;
  EXPECT_EQ(rule_of(r), "");
  r.confidence.overall = 0.9;
  r.confidence.corroboration_count = 1;
  EXPECT_EQ(rule_of(r), "");
}

TEST(Promotion, ShortToLongAfterThreeDaysWithoutContradictions) {
  LifecycleRow r = row();
  r.created_at = kNow - 3 * kDay;
  EXPECT_EQ(rule_of(r), "short_to_long:persisted");
  r.created_at = kNow - 3 * kDay + kMs;
  EXPECT_EQ(rule_of(r), "");
  r.created_at = kNow - 30 * kDay;
  r.confidence.contradiction_count = 1;
  EXPECT_EQ(rule_of(r), "");
}

TEST(Promotion, ShortToLongWhenTheUserValidated) {
  LifecycleRow r = row();
  EXPECT_EQ(rule_of(r), "");
  r.lifecycle.validated_at = kNow - hours(1);
  EXPECT_EQ(rule_of(r), "short_to_long:validated");
}

TEST(Promotion, PendingSuggestionsAreNotPromoted) {
  LifecycleRow r = row();
  r.created_at = kNow - 10 * kDay;
  r.approved = false;
  EXPECT_EQ(rule_of(r), "");
}

TEST(Promotion, LongToPersistentForAbsoluteTruthAtConfidence09) {
  LifecycleRow r = row(Tier::kLongTerm);
  r.truth_category = TruthCategory::kAbsolute;
  r.confidence.overall = 0.9;
  EXPECT_EQ(rule_of(r), "long_to_persistent:absolute");
  r.confidence.overall = 0.8999;
  EXPECT_EQ(rule_of(r), "");
  r.truth_category = TruthCategory::kContextual;
  r.confidence.overall = 0.99;
  EXPECT_EQ(rule_of(r), "");
}

TEST(Promotion, LongToPersistentAfterThirtyDaysTaggedIdentity) {
  LifecycleRow r = row(Tier::kLongTerm);
  r.lifecycle.identity_since = kNow - 30 * kDay;
  EXPECT_EQ(rule_of(r), "long_to_persistent:identity");
  r.lifecycle.identity_since = kNow - 30 * kDay + kMs;
  EXPECT_EQ(rule_of(r), "");
  r.lifecycle.identity_since.reset();
  EXPECT_EQ(rule_of(r), "");
}

TEST(Promotion, LongToPersistentForAPreferenceUsedTenTimesOverSixtyDays) {
  LifecycleRow r = row(Tier::kLongTerm);
  r.memory_kind = MemoryKind::kPreference;
  r.created_at = kNow - 70 * kDay;
  r.access_count = 10;
  r.last_accessed = r.created_at + 60 * kDay;
  EXPECT_EQ(rule_of(r), "long_to_persistent:preference");
  r.access_count = 9;
  EXPECT_EQ(rule_of(r), "");
  r.access_count = 10;
  r.last_accessed = r.created_at + 60 * kDay - kMs;
  EXPECT_EQ(rule_of(r), "");
  r.last_accessed = r.created_at + 60 * kDay;
  r.confidence.contradiction_count = 1;  // not consistent
  EXPECT_EQ(rule_of(r), "");
  r.confidence.contradiction_count = 0;
  r.memory_kind = MemoryKind::kFact;
  EXPECT_EQ(rule_of(r), "");
}

TEST(Confidence, RecomputedFromItsParts) {
  LifecycleRow r = row();
  r.source = Source::kConversation;
  r.created_at = r.updated_at = kNow;
  Confidence c = recompute_confidence(r, kNow);
  EXPECT_DOUBLE_EQ(c.source_reliability, 0.7);
  EXPECT_DOUBLE_EQ(c.recency, 1.0);
  EXPECT_NEAR(c.overall, 0.7, 1e-12);
  r.confidence.corroboration_count = 2;
  EXPECT_NEAR(recompute_confidence(r, kNow).overall, 1 - 0.3 * 0.36, 1e-12);
  r.confidence.contradiction_count = 1;
  EXPECT_NEAR(recompute_confidence(r, kNow).overall, (1 - 0.3 * 0.36) * 0.7, 1e-12);
  // 180 days unused: recency halves, overall loses a tenth.
  r.confidence.corroboration_count = r.confidence.contradiction_count = 0;
  c = recompute_confidence(r, kNow + 180 * kDay);
  EXPECT_NEAR(c.recency, 0.5, 1e-12);
  EXPECT_NEAR(c.overall, 0.7 * 0.9, 1e-12);
  // A read refreshes it.
  r.last_accessed = kNow + 180 * kDay;
  EXPECT_NEAR(recompute_confidence(r, kNow + 180 * kDay).recency, 1.0, 1e-12);
  r.lifecycle.validated_at = kNow;
  EXPECT_DOUBLE_EQ(recompute_confidence(r, kNow).source_reliability, 0.95);
}

TEST(Expiry, OnlyUnconfirmedInferencesExpireAfter24To72Hours) {
  LifecycleRow r = row();
  r.source = Source::kAiSuggested;
  r.approved = false;
  r.confidence.overall = 0.0;
  EXPECT_EQ(expiry_time(r), r.created_at + hours(24));
  r.confidence.overall = 1.0;
  EXPECT_EQ(expiry_time(r), r.created_at + hours(72));
  r.confidence.overall = 0.5;
  EXPECT_EQ(expiry_time(r), r.created_at + hours(48));
  LifecycleRow approved = r;
  approved.approved = true;
  EXPECT_FALSE(expiry_time(approved));
  LifecycleRow corroborated = r;
  corroborated.confidence.corroboration_count = 1;
  EXPECT_FALSE(expiry_time(corroborated));
  LifecycleRow validated = r;
  validated.lifecycle.validated_at = kNow;
  EXPECT_FALSE(expiry_time(validated));
  for (Source s : {Source::kManual, Source::kImported, Source::kConversation}) {
    LifecycleRow written = r;
    written.source = s;
    EXPECT_FALSE(expiry_time(written)) << "the user's own words never expire";
  }
  LifecycleRow long_term = r;
  long_term.tier = Tier::kLongTerm;
  EXPECT_FALSE(expiry_time(long_term));
}

// ---------- the same rules through daily runs on memory.db ----------

struct Db {
  testing::TempDir dir;
  FakeTimeSource clock{kNow};
  std::unique_ptr<MemoryStore> memories = open_sqlite_memory_store(dir / "memory.db", clock);
  std::unique_ptr<KnowledgeStore> knowledge = open_sqlite_knowledge_store(dir / "memory.db", clock);
  std::string add(const std::string& text, Source source = Source::kManual, bool approved = true,
                  std::vector<std::string> tags = {}, TruthCategory truth = TruthCategory::kContextual) {
    Memory m;
    m.content = text;
    m.source = source;
    m.approved = approved;
    m.tags = std::move(tags);
    m.truth_category = truth;
    return memories->add(m).id;
  }
  MaintenanceReport daily() { return run_maintenance(Period::kDaily, clock, {*memories, *knowledge}); }
  Tier tier(const std::string& id) { return memories->get("local", id)->tier; }
};

TEST(PromotionRun, PersistedThreeDaysThenLongTermWithTheRuleRecorded) {
  Db db;
  const std::string id = db.add("The spare key is under the blue flower pot.");
  db.clock.advance(3 * kDay - hours(1));
  db.daily();
  EXPECT_EQ(db.tier(id), Tier::kShortTerm);
  db.clock.advance(hours(2));
  MaintenanceReport r = db.daily();
  EXPECT_EQ(db.tier(id), Tier::kLongTerm);
  EXPECT_EQ(r.promotions["short_to_long:persisted"], 1);
  auto history = db.knowledge->tier_history("local", id);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].rule, "short_to_long:persisted");
  EXPECT_EQ(history[0].from, Tier::kShortTerm);
  EXPECT_EQ(history[0].to, Tier::kLongTerm);
  // Idempotent: a second run the same day changes no tier.
  EXPECT_EQ(db.daily().promoted(), 0);
  EXPECT_EQ(db.knowledge->tier_history("local", id).size(), 1u);
  auto stats = db.memories->stats("local");
  EXPECT_EQ(stats.by_tier.size(), 1u);
}

TEST(PromotionRun, CorroboratedTwiceIsPromotedAtOnce) {
  Db db;
  const std::string id = db.add("Hana's birthday is 12 March.", Source::kConversation);
  db.add("Hana's birthday is 12 March.", Source::kConversation);  // a corroboration
  db.daily();
  EXPECT_EQ(db.tier(id), Tier::kShortTerm) << "one corroboration is not enough";
  db.add("Hana's birthday is 12 March.", Source::kConversation);
  MaintenanceReport r = db.daily();
  EXPECT_EQ(db.tier(id), Tier::kLongTerm);
  EXPECT_EQ(r.promotions["short_to_long:corroborated"], 1);
  EXPECT_GE(db.memories->get("local", id)->confidence.overall, 0.6);
}

TEST(PromotionRun, AbsoluteAndIdentityReachPersistent) {
  Db db;
  const std::string absolute = db.add("My passport number ends in 4821.", Source::kManual, true, {},
                                      TruthCategory::kAbsolute);
  db.add("My passport number ends in 4821.");  // corroborated once: 0.94 confidence
  const std::string identity = db.add("I am a night owl.", Source::kManual, true, {"identity"});
  const std::string plain = db.add("I tried the new ramen place.");
  db.clock.advance(3 * kDay);
  db.daily();
  EXPECT_EQ(db.tier(absolute), Tier::kPersistent);
  EXPECT_EQ(db.knowledge->tier_history("local", absolute).back().rule, "long_to_persistent:absolute");
  EXPECT_EQ(db.tier(identity), Tier::kLongTerm) << "tagged identity only 3 days";
  db.clock.advance(27 * kDay - hours(1));
  db.daily();
  EXPECT_EQ(db.tier(identity), Tier::kLongTerm);
  db.clock.advance(hours(1));
  db.daily();
  EXPECT_EQ(db.tier(identity), Tier::kPersistent);
  EXPECT_EQ(db.tier(plain), Tier::kLongTerm);
  EXPECT_EQ(db.memories->stats("local").by_tier.size(), 2u) << "the status page shows more than one tier";
}

TEST(PromotionRun, IdentityTaggedLaterCountsFromTheTagging) {
  Db db;
  const std::string id = db.add("I grew up by the sea.");
  db.clock.advance(40 * kDay);
  Memory m = *db.memories->get("local", id);
  m.tags = {"identity"};
  db.memories->update(m);
  db.daily();
  EXPECT_EQ(db.tier(id), Tier::kLongTerm) << "identity for 0 days";
  db.clock.advance(30 * kDay);
  db.daily();
  EXPECT_EQ(db.tier(id), Tier::kPersistent);
}

TEST(PromotionRun, ATierChangedByHandIsRecordedAsManual) {
  Db db;
  const std::string id = db.add("Keep this one.");
  Memory m = *db.memories->get("local", id);
  m.tier = Tier::kPersistent;
  db.memories->update(m);
  auto history = db.knowledge->tier_history("local", id);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].rule, "manual");
  EXPECT_EQ(history[0].to, Tier::kPersistent);
}

TEST(PromotionRun, ExpiredInferencesGoToTheArchiveAndComeBack) {
  Db db;
  const std::string inferred = db.add("The user probably likes jazz.", Source::kAiSuggested, false);
  const std::string accepted = db.add("The user has a cat.", Source::kAiSuggested, false);
  Memory a = *db.memories->get("local", accepted);
  a.approved = true;  // the user accepted the suggestion
  db.memories->update(a);
  const std::string written = db.add("I like jazz on rainy days.");
  db.clock.advance(hours(23));
  EXPECT_EQ(db.daily().expired, 0);
  db.clock.advance(hours(50));  // past 72 h whatever the confidence
  MaintenanceReport r = db.daily();
  EXPECT_EQ(r.expired, 1);
  EXPECT_FALSE(db.memories->get("local", inferred));
  EXPECT_TRUE(db.memories->get("local", accepted));
  EXPECT_TRUE(db.memories->get("local", written));
  EXPECT_TRUE(db.knowledge->lifecycle(accepted).validated_at) << "approving a suggestion validates it";
  auto archived = db.knowledge->list_archive("local", 10);
  ASSERT_EQ(archived.size(), 1u);
  EXPECT_EQ(archived[0].memory_id, inferred);
  EXPECT_EQ(archived[0].memory.content, "The user probably likes jazz.");
  EXPECT_EQ(archived[0].memory.source, Source::kAiSuggested);
}

}  // namespace
}  // namespace kioku
