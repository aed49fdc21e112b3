// Speaker, session and coverage signals, alone and inside Searcher::search.
#include <gtest/gtest.h>

#include "core/time.h"
#include "search/rank_signals.h"
#include "search/searcher.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

Memory turn(const std::string& content, const char* when = "2023-05-01T10:00:00Z") {
  Memory m;
  m.type = std::string(memory_types::kChat);
  m.content = content;
  m.event_time = *parse_iso8601(when);
  return m;
}

TEST(RankSignals, ChatSpeakerFromPrefixOrMetadata) {
  EXPECT_EQ(chat_speaker(turn("Caroline: I went to a pride parade")), "caroline");
  EXPECT_EQ(chat_speaker(turn("Dr. Ann Lee: take two a day")), "dr. ann lee");
  EXPECT_EQ(chat_speaker(turn("note to self: buy milk")), "");    // not capitalised
  EXPECT_EQ(chat_speaker(turn("The plan for the day was: rest")), "");  // too many words
  EXPECT_EQ(chat_speaker(turn("no colon here")), "");
  Memory with_meta = turn("see you soon");
  with_meta.metadata["speaker"] = "Bo";
  EXPECT_EQ(chat_speaker(with_meta), "bo");
  Memory note = turn("Caroline: a note, not a turn");
  note.type = std::string(memory_types::kNote);
  EXPECT_EQ(chat_speaker(note), "");
}

TEST(RankSignals, SpeakersNamedByWordOrPossessive) {
  const std::vector<Memory> candidates = {turn("Caroline: hi Mel"), turn("Melanie: hi Caroline"), turn("a plain line")};
  EXPECT_EQ(speakers_named("What is Caroline's identity?", candidates), (std::set<std::string>{"caroline"}));
  EXPECT_EQ(speakers_named("What did Melanie and Caroline paint?", candidates),
            (std::set<std::string>{"caroline", "melanie"}));
  EXPECT_TRUE(speakers_named("What did Mel paint?", candidates).empty());
  EXPECT_EQ(without_names({"carolines", "identity", "caroline"}, {"caroline"}), (std::vector<std::string>{"identity"}));
}

TEST(RankSignals, LightStemAndCoverage) {
  EXPECT_EQ(light_stem("painting"), light_stem("painted"));
  EXPECT_EQ(light_stem("hiking"), light_stem("hike"));
  EXPECT_EQ(light_stem("running"), light_stem("run"));
  EXPECT_EQ(light_stem("stories"), "story");
  EXPECT_EQ(light_stem("class"), light_stem("classes"));
  const auto terms = coverage_terms("What has Melanie painted at the lake?", {"melanie"});
  EXPECT_EQ(terms, (std::vector<std::string>{light_stem("painted"), light_stem("lake")}));
  EXPECT_DOUBLE_EQ(term_coverage(terms, turn("Melanie: I paint by the lake")), 1.0);
  EXPECT_DOUBLE_EQ(term_coverage(terms, turn("Melanie: we painted the fence")), 0.5);
  EXPECT_DOUBLE_EQ(term_coverage(terms, turn("Caroline: hello")), 0.0);
  EXPECT_DOUBLE_EQ(term_coverage({}, turn("anything")), 0.0);
}

TEST(RankSignals, SessionIsTheUserAndDayOfAChatTurn) {
  EXPECT_EQ(session_key(turn("A: x", "2023-05-01T01:00:00Z")), session_key(turn("B: y", "2023-05-01T23:00:00Z")));
  EXPECT_NE(session_key(turn("A: x", "2023-05-01T01:00:00Z")), session_key(turn("A: x", "2023-05-02T01:00:00Z")));
  Memory note = turn("A: x");
  note.type = std::string(memory_types::kNote);
  EXPECT_EQ(session_key(note), "");
  // An imported conversation is one session whatever the days.
  Memory first = turn("A: x", "2023-05-01T23:00:00Z"), second = turn("B: y", "2023-05-02T01:00:00Z");
  first.metadata["conversation"] = second.metadata["conversation"] = "trip-planning";
  EXPECT_EQ(session_key(first), session_key(second));
  EXPECT_NE(session_key(first), session_key(turn("A: x", "2023-05-01T23:00:00Z")));
}

class RankedSearch : public ::testing::Test {
 protected:
  void SetUp() override { store = open_sqlite_memory_store(dir / "memory.db"); }
  std::string add(const std::string& content, const char* when) { return store->add(turn(content, when)).id; }
  SearchOptions plain() const {
    SearchOptions o;
    o.record_access = false;
    o.recency_weight = o.importance_weight = o.tier_weight = o.confidence_weight = 0;
    o.neighbour_weight = o.time_boost = 0;
    o.speaker_boost = o.session_weight = o.coverage_weight = 0;
    return o;
  }
  testing::TempDir dir;
  std::unique_ptr<MemoryStore> store;
};

TEST_F(RankedSearch, TheNamedSpeakersOwnTurnOutranksOneAddressedToThem) {
  // Bo's turn names Ann twice (addressed to her); Ann's own turn says it.
  const std::string addressed = add("Bo: Ann, Ann, did you like the pottery?", "2023-05-01T10:00:00Z");
  const std::string own = add("Ann: I loved the pottery class and the teacher and the clay", "2023-06-01T10:00:00Z");
  Searcher searcher(*store, nullptr);
  auto o = plain();
  auto before = searcher.search("What did Ann think of pottery?", o);
  ASSERT_EQ(before.size(), 2u);
  ASSERT_EQ(before[0].memory.id, addressed);
  o.speaker_boost = 0.5;
  auto after = searcher.search("What did Ann think of pottery?", o);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].memory.id, own);
  // Without a speaker named, the boost changes nothing.
  auto unnamed = searcher.search("pottery", o);
  ASSERT_EQ(unnamed.size(), 2u);
  EXPECT_EQ(unnamed[0].memory.id, searcher.search("pottery", plain())[0].memory.id);
}

TEST_F(RankedSearch, ASessionWithAStrongHitLiftsItsOtherTurns) {
  add("Ann: the marathon in Osaka was hard, the marathon hurt", "2023-05-01T10:00:00Z");
  const std::string same_day = add("Bo: how long was the race?", "2023-05-01T10:00:00Z");
  const std::string other_day = add("Bo: a race on television", "2023-07-01T10:00:00Z");
  Searcher searcher(*store, nullptr);
  auto o = plain();
  o.session_weight = 0.3;
  auto r = searcher.search("Osaka marathon race", o);
  ASSERT_EQ(r.size(), 3u);
  size_t pos_same = 0, pos_other = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i].memory.id == same_day) pos_same = i;
    if (r[i].memory.id == other_day) pos_other = i;
  }
  EXPECT_LT(pos_same, pos_other);
  EXPECT_GT(r[pos_same].score, r[pos_other].score * 1.2);
}

TEST_F(RankedSearch, CoverageFavoursTheMemoryHoldingMoreOfTheQuery) {
  const std::string one_word = add("X: kayak kayak kayak", "2023-05-01T10:00:00Z");
  const std::string both = add("Y: we rented a kayak at the lake house", "2023-06-01T10:00:00Z");
  Searcher searcher(*store, nullptr);
  auto o = plain();
  o.coverage_weight = 0.3;
  auto r = searcher.search("kayak lake", o);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].memory.id, both);
  (void)one_word;
}

}  // namespace
}  // namespace kioku
