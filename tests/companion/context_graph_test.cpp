// The context builder's knowledge-graph hook (issue 12): what Kioku knows
// about the entities a message names goes into the prompt, and search also
// looks for their other names.
#include <gtest/gtest.h>

#include "companion/context_builder.h"
#include "lifecycle/entity_resolver.h"
#include "store/knowledge.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

TEST(ContextGraph, TheMessagesEntitiesAndTheirFactsAreInTheContext) {
  testing::TempDir dir;
  FakeTimeSource clock(*parse_iso8601("2026-01-10T12:00:00Z"));
  auto store = open_sqlite_memory_store(dir / "memory.db", clock);
  auto knowledge = open_sqlite_knowledge_store(dir / "memory.db", clock);
  Searcher searcher(*store, nullptr, clock);
  Memory note;
  note.content = "Tanaka family dinner was lovely.";
  note.event_time = clock.now() - std::chrono::hours(24 * 30);
  const std::string note_id = store->add(note).id;
  Memory source;
  source.content = "Hana moved to Kyoto.";
  source.event_time = clock.now() - std::chrono::hours(24 * 40);
  const std::string source_id = store->add(source).id;

  EntityResolver resolver(*knowledge, "local");
  Entity hana = *resolver.resolve("my sister Hana", "person", 0.8);
  resolver.alias(hana.id, "Hana Tanaka");
  Entity kyoto = *resolver.resolve("Kyoto", "place", 0.8);
  Fact f;
  f.subject_id = hana.id;
  f.predicate = "lives_in";
  f.object_id = kyoto.id;
  f.value = "Kyoto";
  f.valid_from = *parse_iso8601("2024-04-01");
  f.memory_id = source_id;
  knowledge->record_fact(f, true);

  ContextBuilder builder(*store, searcher, clock);
  ContextOptions o;
  o.recent_hours = 1;
  BuiltContext without = builder.build("local", "what should I cook for hana-chan?", o);
  EXPECT_TRUE(without.entities.empty());
  builder.set_knowledge(knowledge.get());
  BuiltContext with = builder.build("local", "what should I cook for hana-chan?", o);
  ASSERT_EQ(with.entities.size(), 1u);
  EXPECT_NE(with.entities[0].text.find("Hana lives in Kyoto (since 2024-04-01)"), std::string::npos) << with.entities[0].text;
  EXPECT_EQ(with.entities[0].memory_id, source_id);
  EXPECT_NE(with.render().find("## People, places and things in this message"), std::string::npos);
  // "Tanaka" came from the alias, not from the message.
  bool found = false;
  for (const auto& item : with.relevant) found = found || item.memory_id == note_id;
  EXPECT_TRUE(found) << "alias expansion finds the Tanaka note";
  bool found_without = false;
  for (const auto& item : without.relevant) found_without = found_without || item.memory_id == note_id;
  EXPECT_FALSE(found_without);
}

}  // namespace
}  // namespace kioku
