// Time expressions in queries, and time-aware / neighbour-aware search.
#include <gtest/gtest.h>

#include "core/time.h"
#include "search/searcher.h"
#include "search/time_expr.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

TimePoint at(const char* iso) { return *parse_iso8601(iso); }

TEST(TimeExpressions, NamedPeriods) {
  const TimePoint now = at("2024-03-15T12:00:00Z");
  auto p = query_time_periods("What did Maria donate in December 2023?", now);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(in_any(p, at("2023-12-31T23:00:00Z")));
  EXPECT_FALSE(in_any(p, at("2024-01-01T00:00:00Z")));
  p = query_time_periods("Who did Maria have dinner with on May 3, 2023?", now);
  EXPECT_TRUE(in_any(p, at("2023-05-03T19:00:00Z")));
  EXPECT_TRUE(in_any(p, at("2023-05-02T10:00:00Z")));  // the evening before is told the next day
  EXPECT_FALSE(in_any(p, at("2023-05-20T10:00:00Z")));
  p = query_time_periods("What did John find on 1 February, 2023?", now);
  EXPECT_TRUE(in_any(p, at("2023-02-01T09:00:00Z")));
  p = query_time_periods("When did Melanie go camping in June?", now);
  EXPECT_TRUE(in_any(p, at("2023-06-10T00:00:00Z")));
  EXPECT_TRUE(in_any(p, at("2021-06-30T00:00:00Z")));
  EXPECT_FALSE(in_any(p, at("2023-07-01T00:00:00Z")));
  p = query_time_periods("How many times did she go to the beach in 2023?", now);
  EXPECT_TRUE(in_any(p, at("2023-08-01T00:00:00Z")));
  EXPECT_FALSE(in_any(p, at("2022-08-01T00:00:00Z")));
  p = query_time_periods("where did we go last year", now);
  EXPECT_TRUE(in_any(p, at("2023-07-01T00:00:00Z")));
  EXPECT_FALSE(in_any(p, at("2024-01-02T00:00:00Z")));
  EXPECT_FALSE(query_time_periods("yesterday", now).empty());
  // Each word the quick check looks for before the expressions run.
  EXPECT_TRUE(in_any(query_time_periods("What did we plan TODAY?", now), at("2024-03-15T08:00:00Z")));
  EXPECT_TRUE(in_any(query_time_periods("the hike last weekend", now), at("2024-03-10T08:00:00Z")));
  EXPECT_TRUE(in_any(query_time_periods("books read last month", now), at("2024-02-10T08:00:00Z")));
  EXPECT_TRUE(in_any(query_time_periods("trips this year", now), at("2024-01-10T08:00:00Z")));
  EXPECT_TRUE(in_any(query_time_periods("the concert during Sept", now), at("2023-09-10T08:00:00Z")));
  // "may" the verb and plain questions name no period.
  EXPECT_TRUE(query_time_periods("May I ask what you may like?", now).empty());
  EXPECT_TRUE(query_time_periods("What is Caroline's identity?", now).empty());
}

class NeighbourSearch : public ::testing::Test {
 protected:
  void SetUp() override { store = open_sqlite_memory_store(dir / "memory.db"); }
  std::string add(const std::string& content, const std::string& type, const char* when) {
    Memory m;
    m.content = content;
    m.type = type;
    m.event_time = at(when);
    return store->add(m).id;
  }
  testing::TempDir dir;
  std::unique_ptr<MemoryStore> store;
};

TEST_F(NeighbourSearch, AChatTurnIsFoundThroughTheTurnBeforeIt) {
  add("Ann: any plans for the weekend?", "chat", "2023-05-01T10:00:00Z");
  const std::string question = add("Bo: did you finally visit the pottery studio?", "chat", "2023-05-01T10:00:00Z");
  const std::string answer = add("Ann: yes, last Saturday, it was wonderful", "chat", "2023-05-01T10:00:00Z");
  add("Bo: great to hear", "chat", "2023-05-01T10:00:00Z");
  const auto adjacent = store->adjacent("local", {question, "no-such-id"});
  ASSERT_EQ(adjacent.size(), 1u);
  EXPECT_EQ(adjacent.at(question).second, answer);
  Searcher searcher(*store, nullptr);
  SearchOptions o;
  o.record_access = false;
  o.neighbour_weight = 0;
  auto plain = searcher.search("pottery studio", o);
  ASSERT_EQ(plain.size(), 1u);
  o.neighbour_weight = 0.5;
  auto with = searcher.search("pottery studio", o);
  ASSERT_GE(with.size(), 2u);
  EXPECT_EQ(with[0].memory.id, question);
  bool found = false;
  for (const auto& r : with) found = found || r.memory.id == answer;
  EXPECT_TRUE(found);
}

TEST_F(NeighbourSearch, NotesAreNotNeighboursAndTheTimeBoostReordersTies) {
  add("Pottery class notes", "note", "2023-05-01T10:00:00Z");
  add("Unrelated shopping list", "note", "2023-05-01T10:01:00Z");
  const std::string june = add("Pottery class in the park", "note", "2023-06-05T10:00:00Z");
  Searcher searcher(*store, nullptr);
  SearchOptions o;
  o.record_access = false;
  o.recency_weight = 0;
  auto r = searcher.search("pottery class", o);
  EXPECT_EQ(r.size(), 2u);  // the shopping list is not pulled in
  auto timed = searcher.search("pottery class in June 2023", o);
  ASSERT_FALSE(timed.empty());
  EXPECT_EQ(timed[0].memory.id, june);
}

}  // namespace
}  // namespace kioku
