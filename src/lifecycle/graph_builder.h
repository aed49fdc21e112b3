// Writing extractions into the knowledge graph, and reading it back for
// people (kioku graph), the companion's context and search expansion.
// Thread safety: one GraphBuilder per thread (it holds a resolver cache).
#pragma once

#include <string>
#include <vector>

#include "core/memory.h"
#include "lifecycle/entity_resolver.h"
#include "lifecycle/extraction.h"
#include "store/knowledge.h"

namespace kioku {

struct GraphApplied {
  int entities_created = 0;
  int mentions = 0;
  int facts_created = 0;
  int facts_closed = 0;
  int contradictions = 0;
};

class GraphBuilder {
 public:
  GraphBuilder(KnowledgeStore& store, std::string user_id, const TimeSource& clock = system_time());

  // Resolves the extraction's entities, records mentions and facts, and
  // marks the memory extracted: one transaction, so a crash leaves either
  // all of it or none (and the memory still unextracted).
  GraphApplied apply(const Memory& memory, const Extraction& extraction);
  // Marks a memory that has nothing to extract (generated summaries).
  void skip(const Memory& memory);
  // Every name and alias the user's graph knows (for the extractors).
  std::vector<std::string> known_names();
  EntityResolver& resolver() { return resolver_; }

 private:
  KnowledgeStore& store_;
  std::string user_id_;
  const TimeSource& clock_;
  EntityResolver resolver_;
};

struct EntityKnowledge {
  Entity entity;
  std::vector<Fact> facts;  // current facts (or as of the asked time) about it
};

// Entities named in text (by any alias, any case, whole words), with their
// facts valid at `at` as known now; the user's own entity is skipped.
std::vector<EntityKnowledge> knowledge_in_text(KnowledgeStore& store, const std::string& user_id,
                                               std::string_view text, TimePoint at, int max_entities = 5);
// Extra search words: the other names of entities named in query.
std::vector<std::string> alias_expansion(KnowledgeStore& store, const std::string& user_id, std::string_view query);
// One line: "Hana lives_in Kyoto (from 2024-04-01)".
std::string describe_fact(const Fact& f);
nlohmann::json to_json(const Entity& e);
nlohmann::json to_json(const Fact& f);

}  // namespace kioku
