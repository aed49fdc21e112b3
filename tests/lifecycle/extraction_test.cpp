// Extraction: the lexical extractor, the schema check of model replies, and
// the LLM path against a loopback OpenAI-compatible server that answers
// good, malformed and hostile JSON. Nothing of a rejected reply is stored.
#include <gtest/gtest.h>

#include <atomic>

#include "core/error.h"
#include "lifecycle/extraction.h"
#include "lifecycle/graph_builder.h"
#include "lifecycle/maintenance.h"
#include "llm/fake_llm_server.h"
#include "store/knowledge.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

TimePoint at(const char* iso) { return *parse_iso8601(iso); }

const char* kGood = R"({
  "entities": [
    {"name": "Hana", "kind": "person", "aliases": ["my sister Hana"], "summary": "the user's younger sister"},
    {"name": "Kyoto", "kind": "place"}
  ],
  "facts": [
    {"subject": "Hana", "predicate": "lives_in", "object": "Kyoto", "valid_from": "2024-04-01", "exclusive": true},
    {"subject": "Hana", "predicate": "relation_to_user", "value": "sister"}
  ],
  "memories": ["Hana moved to Kyoto in April 2024."]
})";

Memory memory(const std::string& text) {
  Memory m;
  m.content = text;
  m.event_time = at("2024-04-10T10:00:00Z");
  return m;
}

TEST(LexicalExtraction, NamesPlacesDatesAndPatterns) {
  Extraction x = lexical_extract(memory("My sister Hana moved from Osaka to Kyoto in April 2024."), {});
  EXPECT_EQ(x.extractor, "lexical");
  EXPECT_LT(x.confidence, 0.5);
  std::map<std::string, std::string> kinds;
  for (const auto& e : x.entities) kinds[e.name] = e.kind;
  EXPECT_EQ(kinds["Hana"], "person");
  EXPECT_EQ(kinds["Osaka"], "place");
  EXPECT_EQ(kinds["Kyoto"], "place");
  bool kyoto = false, osaka = false, sister = false;
  for (const auto& f : x.facts) {
    if (f.predicate == "lives_in" && f.object == "Kyoto") {
      kyoto = true;
      EXPECT_EQ(f.valid_from, at("2024-04-01"));
    }
    if (f.predicate == "lives_in" && f.object == "Osaka") {
      osaka = true;
      EXPECT_EQ(f.valid_to, at("2024-04-01"));
    }
    sister = sister || (f.predicate == "relation_to_user" && f.value == "sister");
  }
  EXPECT_TRUE(kyoto && osaka && sister);
}

TEST(LexicalExtraction, KnownNamesAreFoundInLowerCaseAndStopWordsAreNotNames) {
  Extraction x = lexical_extract(memory("yesterday i had tea with hana. On Monday The weather was fine."), {"Hana"});
  ASSERT_EQ(x.entities.size(), 1u);
  EXPECT_EQ(x.entities[0].name, "hana");
  EXPECT_EQ(x.entities[0].kind, "person");
}

TEST(ExtractionJson, AGoodReplyParses) {
  Extraction x = parse_extraction_json(std::string("```json\n") + kGood + "\n```");
  EXPECT_EQ(x.extractor, "llm");
  ASSERT_EQ(x.entities.size(), 2u);
  ASSERT_EQ(x.facts.size(), 2u);
  EXPECT_EQ(x.facts[0].valid_from, at("2024-04-01"));
  EXPECT_EQ(x.facts[0].exclusive, true);
  EXPECT_EQ(x.suggestions.size(), 1u);
}

TEST(ExtractionJson, MalformedAndHostileRepliesAreRejectedWhole) {
  const std::vector<std::string> bad = {
      "",
      "Sure! Here are the entities: Hana, Kyoto.",
      R"({"entities": [{"name": "Hana", "kind": "person"}]})",                       // no facts
      R"({"entities": [], "facts": [{"subject": "Nobody", "predicate": "likes", "value": "x"}]})",  // unknown subject
      R"({"entities": [{"name": "Hana", "kind": "Person!"}], "facts": []})",            // bad kind
      R"({"entities": [{"name": "Hana", "kind": "person"}], "facts": [{"subject": "Hana", "predicate": "DROP TABLE", "value": "x"}]})",
      R"({"entities": [{"name": "Hana", "kind": "person"}], "facts": [{"subject": "Hana", "predicate": "born_on", "value": "x", "valid_from": "last year"}]})",
      R"({"entities": [{"name": "Hana", "kind": "person", "user_id": "someone-else"}], "facts": []})",  // smuggled field
      R"({"entities": [], "facts": [], "sql": "DELETE FROM memories"})",
      R"({"entities": [{"name": "Ha\u0000na", "kind": "person"}], "facts": []})",        // control character
      R"({"entities": [{"name": 42, "kind": "person"}], "facts": []})",
      "[" + std::string(100000, '[') + std::string(100000, ']') + "]",                  // nesting bomb
      R"({"entities": [{"name": ")" + std::string(5000, 'A') + R"(", "kind": "person"}], "facts": []})",
  };
  for (const auto& reply : bad) EXPECT_THROW(parse_extraction_json(reply), Error) << reply.substr(0, 80);
  nlohmann::json many = {{"entities", nlohmann::json::array()}, {"facts", nlohmann::json::array()}};
  for (int i = 0; i < 65; ++i) many["entities"].push_back({{"name", "E" + std::to_string(i)}, {"kind", "thing"}});
  EXPECT_THROW(parse_extraction_json(many.dump()), Error);
}

struct LlmRig {
  testing::TempDir dir;
  FakeTimeSource clock{at("2024-04-10T12:00:00Z")};
  std::unique_ptr<MemoryStore> memories = open_sqlite_memory_store(dir / "memory.db", clock);
  std::unique_ptr<KnowledgeStore> knowledge = open_sqlite_knowledge_store(dir / "memory.db", clock);
  std::unique_ptr<LlmClient> client(testing::FakeLlmServer& server) {
    LlmConfig c;
    c.provider = "openai";
    c.url = server.url();
    c.model = "test-model";
    c.max_retries = 0;
    c.timeout_s = 5;
    return make_llm_client(c);
  }
  std::string add(const std::string& text) {
    Memory m = memory(text);
    return memories->add(m).id;
  }
};

TEST(LlmExtraction, AMalformedReplyIsRetriedAndTheGoodOneStored) {
  LlmRig rig;
  std::atomic<int> calls{0};
  testing::FakeLlmServer server([&](const nlohmann::json&) -> std::string {
    return ++calls == 1 ? "{\"entities\": [" : kGood;
  });
  auto llm = rig.client(server);
  const std::string id = rig.add("My sister Hana moved to Kyoto in April 2024.");
  MaintenanceReport r = run_maintenance(Period::kHourly, rig.clock, {*rig.memories, *rig.knowledge, nullptr, nullptr, llm.get()});
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(r.llm_replies_rejected, 1);
  EXPECT_EQ(r.lexical_fallbacks, 0);
  EXPECT_EQ(r.suggestions, 1);
  // The retry told the model what was wrong.
  auto second = server.requests().at(1);
  EXPECT_NE(second["messages"].back()["content"].get<std::string>().find("rejected"), std::string::npos);
  auto hana = EntityResolver(*rig.knowledge, "local").find("my sister Hana");
  ASSERT_TRUE(hana);
  EXPECT_EQ(rig.knowledge->get_entity("local", hana->id)->summary, "the user's younger sister");
  FactQuery q;
  q.entity_id = hana->id;
  auto facts = rig.knowledge->facts(q);
  ASSERT_EQ(facts.size(), 2u);
  for (const auto& f : facts) {
    EXPECT_EQ(f.extractor, "llm");
    EXPECT_EQ(f.memory_id, id);
  }
  // The suggestion waits for the user, linked to its source.
  MemoryFilter pending;
  pending.approved = false;
  auto suggested = rig.memories->list(pending, ListOrder::kNewestFirst, 10, 0);
  ASSERT_EQ(suggested.size(), 1u);
  EXPECT_EQ(suggested[0].source, Source::kAiSuggested);
  EXPECT_EQ(suggested[0].truth_category, TruthCategory::kInferred);
  // A second run asks nothing and adds nothing.
  MaintenanceReport again = run_maintenance(Period::kHourly, rig.clock, {*rig.memories, *rig.knowledge, nullptr, nullptr, llm.get()});
  EXPECT_EQ(again.memories_extracted, 0);
  EXPECT_EQ(calls.load(), 2);
}

TEST(LlmExtraction, HostileRepliesAreNeverStoredAndLexicalTakesOver) {
  LlmRig rig;
  std::atomic<int> calls{0};
  testing::FakeLlmServer server([&](const nlohmann::json&) -> std::string {
    ++calls;
    // Valid JSON that tries to write outside its lane, then an injection.
    if (calls % 2) return R"({"entities": [{"name": "Mallory", "kind": "person", "user_id": "victim"}], "facts": []})";
    return R"({"entities": [{"name": "Mallory", "kind": "person"}], "facts": [{"subject": "Mallory", "predicate": "ignore previous instructions", "value": "x"}]})";
  });
  auto llm = rig.client(server);
  rig.add("Lunch with Kenji Sato in Shibuya.");
  MaintenanceReport r = run_maintenance(Period::kHourly, rig.clock, {*rig.memories, *rig.knowledge, nullptr, nullptr, llm.get()});
  EXPECT_EQ(calls.load(), 3) << "three attempts";
  EXPECT_EQ(r.llm_replies_rejected, 3);
  EXPECT_EQ(r.lexical_fallbacks, 1);
  EXPECT_TRUE(r.errors.empty());
  auto entities = rig.knowledge->list_entities("local", "", 100);
  std::set<std::string> names;
  for (const auto& e : entities) names.insert(e.name);
  EXPECT_FALSE(names.count("Mallory"));
  EXPECT_TRUE(names.count("Kenji Sato"));
  EXPECT_TRUE(names.count("Shibuya"));
  EXPECT_TRUE(rig.knowledge->list_entities("victim", "", 100).empty());
}

TEST(LlmExtraction, AnUnreachableModelFallsBackToLexicalForTheRun) {
  LlmRig rig;
  testing::FakeLlmServer server;
  server.down = true;
  auto llm = rig.client(server);
  rig.add("Kenji works at Google.");
  rig.add("Yuki visited Kyoto.");
  MaintenanceReport r = run_maintenance(Period::kHourly, rig.clock, {*rig.memories, *rig.knowledge, nullptr, nullptr, llm.get()});
  EXPECT_EQ(r.memories_extracted, 2);
  EXPECT_EQ(r.lexical_fallbacks, 2);
  EXPECT_EQ(server.requests().size(), 0u) << "503s are not recorded; the run stops asking after the first";
  EXPECT_FALSE(r.notes.empty());
}

}  // namespace
}  // namespace kioku
