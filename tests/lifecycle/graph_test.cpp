// The knowledge graph on a real memory.db: bitemporal facts (a contradiction
// closes the old fact, "as of" answers before and after), entity resolution
// on the golden corpus in tests/lifecycle/golden, merge and split.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "core/error.h"
#include "embed/hashing_embedder.h"
#include "lifecycle/entity_resolver.h"
#include "lifecycle/graph_builder.h"
#include "lifecycle/maintenance.h"
#include "search/searcher.h"
#include "store/knowledge.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"
#include "testing/test_store.h"

namespace kioku {
namespace {

TimePoint at(const char* iso) { return *parse_iso8601(iso); }

struct Graph {
  testing::TempDir dir;
  FakeTimeSource clock{at("2026-01-10T12:00:00Z")};
  // SQLite, or PostgreSQL in the suite's .../postgres run (testing/test_store.h).
  std::unique_ptr<MemoryStore> memories = testing::open_test_memory_store(dir / "memory.db", clock);
  std::unique_ptr<KnowledgeStore> knowledge = testing::open_test_knowledge_store(dir / "memory.db", clock);
  EntityResolver resolver{*knowledge, "local"};

  std::string memory(const std::string& text, const char* when) {
    Memory m;
    m.content = text;
    m.event_time = at(when);
    return memories->add(m).id;
  }
  Entity entity(const std::string& name, std::string_view kind) { return *resolver.resolve(name, kind, 0.8); }
  FactOutcome lives_in(const Entity& who, const Entity& where, const char* from, const std::string& memory_id) {
    Fact f;
    f.subject_id = who.id;
    f.predicate = "lives_in";
    f.object_id = where.id;
    f.value = where.name;
    f.valid_from = at(from);
    f.memory_id = memory_id;
    f.extractor = "llm";
    return knowledge->record_fact(f, true);
  }
  std::vector<std::string> where_at(const Entity& who, std::optional<TimePoint> when,
                                    std::optional<TimePoint> known = std::nullopt) {
    FactQuery q;
    q.entity_id = who.id;
    q.valid_at = when;
    q.known_at = known;
    std::vector<std::string> out;
    for (const auto& f : knowledge->facts(q))
      if (f.predicate == "lives_in") out.push_back(f.object_name);
    return out;
  }
};

TEST(Facts, AContradictionClosesTheOldFactAndAsOfQueriesAnswerBothSides) {
  Graph g;
  const std::string m1 = g.memory("Hana lives in Osaka.", "2020-03-01T10:00:00Z");
  const std::string m2 = g.memory("Hana moved to Kyoto.", "2024-04-01T10:00:00Z");
  Entity hana = g.entity("Hana", "person");
  Entity osaka = g.entity("Osaka", "place");
  Entity kyoto = g.entity("Kyoto", "place");
  EXPECT_TRUE(g.lives_in(hana, osaka, "2020-03-01", m1).created);
  const TimePoint learned_osaka = g.clock.now();
  g.clock.advance(std::chrono::hours(24));
  FactOutcome moved = g.lives_in(hana, kyoto, "2024-04-01", m2);
  EXPECT_TRUE(moved.created);
  EXPECT_EQ(moved.closed, 1);
  EXPECT_EQ(moved.contradicted, 0);

  EXPECT_EQ(g.where_at(hana, at("2023-06-01")), std::vector<std::string>{"Osaka"});
  EXPECT_EQ(g.where_at(hana, at("2024-03-31T23:59:59Z")), std::vector<std::string>{"Osaka"});
  EXPECT_EQ(g.where_at(hana, at("2024-04-01")), std::vector<std::string>{"Kyoto"});
  EXPECT_EQ(g.where_at(hana, at("2025-01-01")), std::vector<std::string>{"Kyoto"});
  EXPECT_TRUE(g.where_at(hana, at("2019-01-01")).empty());
  // As Kioku knew it before it learned of the move: still Osaka in 2025.
  EXPECT_EQ(g.where_at(hana, at("2025-01-01"), learned_osaka), std::vector<std::string>{"Osaka"});
  // Nothing was deleted: the whole history has the retired row, the closed copy and the new fact.
  FactQuery all;
  all.entity_id = hana.id;
  all.include_retired = true;
  auto history = g.knowledge->facts(all);
  ASSERT_EQ(history.size(), 3u);
  int retired = 0;
  for (const auto& f : history) retired += f.invalidated_at ? 1 : 0;
  EXPECT_EQ(retired, 1);

  // The memories are linked and the old one counts a contradiction.
  Memory newer = *g.memories->get("local", m2);
  ASSERT_EQ(newer.relations.size(), 1u);
  EXPECT_EQ(newer.relations[0].target_id, m1);
  EXPECT_EQ(newer.relations[0].kind, RelationKind::kSupersedes);
  EXPECT_EQ(g.memories->get("local", m1)->confidence.contradiction_count, 1);

  // Recording the same fact again (a rerun) changes nothing.
  FactOutcome again = g.lives_in(hana, kyoto, "2024-04-01", m2);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.fact_id, moved.fact_id);
  EXPECT_EQ(g.knowledge->facts(all).size(), 3u);
  EXPECT_EQ(g.memories->get("local", m1)->confidence.contradiction_count, 1);
}

TEST(Facts, AFactForTheSamePeriodContradictsAndRetiresTheOldOne) {
  Graph g;
  const std::string m1 = g.memory("Hana's birthday is 3 May.", "2020-01-01T10:00:00Z");
  const std::string m2 = g.memory("Hana's birthday is 5 May, not 3 May.", "2021-01-01T10:00:00Z");
  Entity hana = g.entity("Hana", "person");
  Fact f;
  f.subject_id = hana.id;
  f.predicate = "birthday";
  f.value = "05-03";
  f.valid_from = at("1995-05-03");
  f.memory_id = m1;
  g.knowledge->record_fact(f, true);
  f.value = "05-05";
  f.memory_id = m2;
  FactOutcome r = g.knowledge->record_fact(f, true);
  EXPECT_EQ(r.contradicted, 1);
  EXPECT_EQ(r.closed, 0);
  FactQuery q;
  q.entity_id = hana.id;
  auto now = g.knowledge->facts(q);
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0].value, "05-05");
  EXPECT_EQ(g.memories->get("local", m2)->relations.at(0).kind, RelationKind::kContradicts);
  EXPECT_EQ(g.memories->get("local", m1)->confidence.contradiction_count, 1);
}

TEST(Facts, OlderNewsEndsWhereTheKnownPeriodBegins) {
  Graph g;
  Entity hana = g.entity("Hana", "person");
  g.lives_in(hana, g.entity("Kyoto", "place"), "2024-04-01", "");
  FactOutcome r = g.lives_in(hana, g.entity("Nagoya", "place"), "2015-01-01", "");
  EXPECT_EQ(r.closed, 0);
  EXPECT_EQ(g.where_at(hana, at("2016-01-01")), std::vector<std::string>{"Nagoya"});
  EXPECT_EQ(g.where_at(hana, at("2025-01-01")), std::vector<std::string>{"Kyoto"});
}

TEST(Facts, UsersNeverSeeEachOthersGraph) {
  Graph g;
  Entity hana = g.entity("Hana", "person");
  EXPECT_FALSE(g.knowledge->get_entity("someone-else", hana.id));
  EXPECT_TRUE(g.knowledge->list_entities("someone-else", "", 10).empty());
  FactQuery q;
  q.user_id = "someone-else";
  EXPECT_TRUE(g.knowledge->facts(q).empty());
  Fact f;
  f.user_id = "someone-else";
  f.subject_id = hana.id;
  f.predicate = "likes";
  f.value = "tea";
  EXPECT_THROW(g.knowledge->record_fact(f, false), Error);
}

TEST(Resolution, NamesNormaliseToOneKey) {
  EXPECT_EQ(normalize_entity_name("my sister Hana").norm, "hana");
  EXPECT_EQ(normalize_entity_name("my sister Hana").relation, "sister");
  EXPECT_EQ(normalize_entity_name("Hana-chan").norm, "hana");
  EXPECT_EQ(normalize_entity_name("Hana-chan").display, "Hana");
  EXPECT_EQ(normalize_entity_name("Hana's").norm, "hana");
  EXPECT_EQ(normalize_entity_name("my best friend Yuki").relation, "friend");
  EXPECT_EQ(normalize_entity_name("Tanaka san").norm, "tanaka");
  EXPECT_EQ(normalize_entity_name("Dr Sato").norm, "sato");
  EXPECT_EQ(normalize_entity_name("The Louvre").norm, "louvre");
  EXPECT_EQ(normalize_entity_name("Kyoto").relation, "");
}

TEST(Resolution, HanaMySisterHanaAndHanaChanAreOneEntityButTwoHanasStayApart) {
  Graph g;
  Entity a = g.entity("Hana", "person");
  EXPECT_EQ(g.entity("my sister Hana", "person").id, a.id);
  EXPECT_EQ(g.entity("Hana-chan", "person").id, a.id);
  EXPECT_EQ(g.entity("Hana Tanaka", "person").id, a.id);  // the only Hana
  Entity other = g.entity("Hana Mori", "person");
  EXPECT_NE(other.id, a.id) << "another full name is another person";
  EXPECT_EQ(g.entity("Hana", "person").id, a.id);
  EXPECT_EQ(g.entity("Hana Mori", "person").id, other.id);
  // A place called like a person is not merged into the person by first name.
  Entity kenji = g.entity("Kenji Sato", "person");
  EXPECT_NE(kenji.id, a.id);
  EXPECT_EQ(g.entity("Sato-san", "person").id, kenji.id);
}

TEST(Resolution, UserMergeAndSplit) {
  Graph g;
  const std::string m1 = g.memory("Met Jun at the gym.", "2025-01-01T10:00:00Z");
  const std::string m2 = g.memory("Junichi from work called.", "2025-01-02T10:00:00Z");
  Entity jun = g.entity("Jun", "person");
  Entity junichi = g.entity("Junichi", "person");
  ASSERT_NE(jun.id, junichi.id);
  g.knowledge->add_mention("local", {jun.id, m1, "Jun", "jun"});
  g.knowledge->add_mention("local", {junichi.id, m2, "Junichi", "junichi"});
  Fact f;
  f.subject_id = junichi.id;
  f.predicate = "works_at";
  f.value = "the office";
  f.memory_id = m2;
  g.knowledge->record_fact(f, true);
  g.knowledge->merge_entities("local", junichi.id, jun.id);
  g.resolver.reset();
  EXPECT_EQ(g.resolver.find("Junichi")->id, jun.id);
  EXPECT_EQ(g.knowledge->mentions_of("local", jun.id).size(), 2u);
  FactQuery q;
  q.entity_id = jun.id;
  EXPECT_EQ(g.knowledge->facts(q).size(), 1u);
  EXPECT_EQ(g.knowledge->get_entity("local", junichi.id)->merged_into, jun.id);

  Entity split = g.knowledge->split_entity("local", jun.id, "Junichi", {{"Junichi", "junichi"}});
  g.resolver.reset();
  EXPECT_EQ(g.resolver.find("Junichi")->id, split.id);
  EXPECT_EQ(g.resolver.find("Jun")->id, jun.id);
  EXPECT_EQ(g.knowledge->mentions_of("local", split.id).size(), 1u);
  q.entity_id = split.id;
  EXPECT_EQ(g.knowledge->facts(q).size(), 1u) << "the fact extracted from Junichi's memory goes with him";
}

// ---------- the golden corpus ----------

nlohmann::json golden() {
  std::ifstream in(std::string(KIOKU_SOURCE_DIR) + "/tests/lifecycle/golden/entity_corpus.json");
  return nlohmann::json::parse(in);
}

TEST(GoldenCorpus, DailyRunYieldsTheExpectedEntitiesFactsAndMerges) {
  Graph g;
  const nlohmann::json corpus = golden();
  for (const auto& m : corpus["memories"]) {
    Memory mem;
    mem.content = m["content"];
    mem.event_time = at(m["at"].get<std::string>().c_str());
    mem.source = Source::kManual;
    g.memories->add(mem);
  }
  HashingEmbedder embedder;
  Searcher searcher(*g.memories, &embedder, g.clock);
  g.clock.advance(std::chrono::hours(24 * 4));  // stored four days ago
  MaintenanceReport r =
      run_maintenance(Period::kDaily, g.clock, {*g.memories, *g.knowledge, &embedder, &searcher, nullptr});
  EXPECT_TRUE(r.errors.empty()) << r.to_json().dump();
  EXPECT_EQ(r.memories_extracted, static_cast<int64_t>(corpus["memories"].size()));

  // Entities: exactly the expected ones, with their kinds and aliases.
  auto entities = g.knowledge->list_entities("local", "", 1000);
  std::map<std::string, Entity> by_name;
  for (const auto& e : entities) by_name[e.name] = e;
  std::set<std::string> expected_names, got_names;
  for (const auto& e : corpus["entities"]) expected_names.insert(e["name"]);
  for (const auto& [name, e] : by_name) got_names.insert(name);
  EXPECT_EQ(got_names, expected_names);
  for (const auto& want : corpus["entities"]) {
    auto it = by_name.find(want["name"]);
    if (it == by_name.end()) continue;
    EXPECT_EQ(it->second.kind, want["kind"].get<std::string>()) << want["name"];
    for (const auto& alias : want.value("aliases", nlohmann::json::array())) {
      std::set<std::string> lower;
      for (const auto& a : it->second.aliases) lower.insert(lower_collapsed(a));
      EXPECT_TRUE(lower.count(lower_collapsed(alias.get<std::string>()))) << want["name"] << " lacks alias " << alias;
    }
  }

  // Facts true now.
  FactQuery now;
  now.valid_at = g.clock.now();
  std::set<std::string> facts_now, expected_facts;
  for (const auto& f : g.knowledge->facts(now)) facts_now.insert(describe_fact(f));
  for (const auto& f : corpus["facts_now"]) expected_facts.insert(f);
  EXPECT_EQ(facts_now, expected_facts);

  // As of: where did Hana live?
  for (const auto& q : corpus["facts_at"]) {
    FactQuery fq;
    fq.entity_id = by_name.at(q["entity"]).id;
    fq.valid_at = at(q["at"].get<std::string>().c_str());
    std::vector<std::string> objects;
    for (const auto& f : g.knowledge->facts(fq))
      if (f.predicate == q["predicate"]) objects.push_back(f.object_name);
    if (q["object"].is_null()) EXPECT_TRUE(objects.empty()) << q.dump();
    else EXPECT_EQ(objects, std::vector<std::string>{q["object"].get<std::string>()}) << q.dump();
  }

  // The two "I work at Acme Corp" memories were merged, provenance kept.
  EXPECT_EQ(r.duplicates_merged, 1);
  MemoryFilter all;
  int merged = 0;
  for (const auto& m : g.memories->list(all, ListOrder::kOldestFirst, 100, 0)) {
    const MemoryLifecycle life = g.knowledge->lifecycle(m.id);
    if (life.merged_into.empty()) continue;
    ++merged;
    Memory survivor = *g.memories->get("local", life.merged_into);
    ASSERT_TRUE(survivor.metadata.contains("merged_from"));
    EXPECT_EQ(survivor.metadata["merged_from"][0]["id"], m.id);
    bool linked = false;
    for (const auto& rel : survivor.relations) linked = linked || (rel.target_id == m.id && rel.kind == RelationKind::kSupersedes);
    EXPECT_TRUE(linked);
  }
  EXPECT_EQ(merged, 1);

  // Stored four days ago: what nothing contradicted is long-term now; the
  // memory whose Osaka fact was ended by the move stays short-term.
  EXPECT_EQ(r.promotions["short_to_long:persisted"], 11);
  EXPECT_EQ(g.memories->stats("local").by_tier.size(), 2u);

  // A rerun finds nothing left to do.
  MaintenanceReport again =
      run_maintenance(Period::kDaily, g.clock, {*g.memories, *g.knowledge, &embedder, &searcher, nullptr});
  EXPECT_EQ(again.memories_extracted, 0);
  EXPECT_EQ(again.duplicates_merged, 0);
  EXPECT_EQ(again.promoted(), 0);
  EXPECT_EQ(g.knowledge->list_entities("local", "", 1000).size(), entities.size());
}

TEST(GraphUse, KnowledgeInTextAndAliasExpansion) {
  Graph g;
  Entity hana = g.entity("Hana", "person");
  g.resolver.alias(hana.id, "Hana-chan");
  g.resolver.alias(hana.id, "Hana Tanaka");
  g.lives_in(hana, g.entity("Kyoto", "place"), "2024-04-01", "");
  auto known = knowledge_in_text(*g.knowledge, "local", "what should I get hana for her birthday?", g.clock.now());
  ASSERT_EQ(known.size(), 1u);
  EXPECT_EQ(known[0].entity.name, "Hana");
  ASSERT_EQ(known[0].facts.size(), 1u);
  EXPECT_EQ(describe_fact(known[0].facts[0]), "Hana lives in Kyoto (since 2024-04-01)");
  auto extra = alias_expansion(*g.knowledge, "local", "gift for Hana-chan");
  EXPECT_NE(std::find(extra.begin(), extra.end(), "tanaka"), extra.end());
  EXPECT_TRUE(knowledge_in_text(*g.knowledge, "local", "Hanami season", g.clock.now()).empty()) << "whole words only";
}

}  // namespace
}  // namespace kioku
