// What Kioku derives from memories and keeps beside them in memory.db: the
// knowledge graph (entities, aliases, mentions, bitemporal facts) and each
// memory's lifecycle (tier history, user validation, identity tagging, cold
// storage, merges, the archive of expired inferences).
//
// Bitemporal facts (as Graphiti keeps edges): a fact row is never edited
// except to retire it. World time: valid_from/valid_to (when it was true);
// system time: recorded_at/invalidated_at (when Kioku believed the row). A
// contradiction retires the old row (invalidated_at = now) and records a
// closed copy (valid_to = the new fact's valid_from) in the same
// transaction, so "what was true at T, as known at K" is one query and the
// old belief stays readable. Nothing here deletes a user's memory except
// archive_memory, which moves the record into memory_archive first.
//
// Contracts: every write is one transaction; every call takes user_id and a
// user only sees their own rows; failures throw kioku::Error (kIo,
// kNotFound, kInvalidInput). Thread safety: one object per thread (it holds
// its own SQLite connection to memory.db).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/memory.h"
#include "core/time.h"

namespace kioku {

// Open vocabulary: these are the kinds the extractors produce.
namespace entity_kinds {
inline constexpr std::string_view kPerson = "person";
inline constexpr std::string_view kPlace = "place";
inline constexpr std::string_view kOrganisation = "organisation";
inline constexpr std::string_view kThing = "thing";
inline constexpr std::string_view kEvent = "event";
inline constexpr std::string_view kTopic = "topic";
}  // namespace entity_kinds

struct Entity {
  std::string id;
  std::string user_id = "local";
  std::string kind = std::string(entity_kinds::kThing);
  std::string name;  // canonical
  std::vector<std::string> aliases;  // surface forms, canonical name included
  std::string summary;
  double confidence = 0.5;
  std::string merged_into;  // set when the user merged this entity into another
  TimePoint created_at{};
  TimePoint updated_at{};
  int mention_count = 0;
};

struct Fact {
  std::string id;
  std::string user_id = "local";
  std::string subject_id;
  std::string predicate;  // snake_case: lives_in, works_at, relation_to_user, ...
  std::string object_id;  // an entity, or empty when the object is a literal value
  std::string value;      // the literal (or the object's name, for display)
  std::optional<TimePoint> valid_from;
  std::optional<TimePoint> valid_to;
  TimePoint recorded_at{};
  std::optional<TimePoint> invalidated_at;
  std::string memory_id;  // the memory it was extracted from ("" = none)
  double confidence = 0.5;
  std::string extractor;  // "llm", "lexical", "user"
  std::string superseded_by;  // the fact that retired this row
  std::string revision_of;    // the retired row this closed copy replaces
  // Filled by reads for display.
  std::string subject_name;
  std::string object_name;
};

struct Mention {
  std::string entity_id;
  std::string memory_id;
  std::string surface;  // as written
  std::string norm;     // as the resolver normalised it
};

// What recording a fact did.
struct FactOutcome {
  std::string fact_id;
  bool created = false;        // false: the same fact from the same memory was already recorded
  int closed = 0;              // older facts whose validity this one ended
  int contradicted = 0;        // older facts retired as wrong for the same period
  std::vector<std::string> affected_memory_ids;  // memories that got a contradiction counted
};

struct FactQuery {
  std::string user_id = "local";
  std::string entity_id;  // as subject or object; empty = all
  std::optional<TimePoint> valid_at;  // world time; nullopt = any time (full history)
  std::optional<TimePoint> known_at;  // system time; nullopt = now (current beliefs)
  bool include_retired = false;       // also rows invalidated before known_at
  int limit = 1000;
};

struct TierChange {
  std::string memory_id;
  Tier from = Tier::kShortTerm;
  Tier to = Tier::kShortTerm;
  std::string rule;  // "short_to_long:corroborated", ..., "manual"
  nlohmann::json detail = nlohmann::json::object();
  TimePoint at{};
};

// Lifecycle facts about one memory that memories rows do not carry.
struct MemoryLifecycle {
  std::optional<TimePoint> validated_at;    // the user confirmed it
  std::optional<TimePoint> identity_since;  // tagged "identity" since
  std::optional<TimePoint> cold_since;      // out of the hot vector index
  std::optional<TimePoint> extracted_at;    // entities/facts extracted
  std::optional<TimePoint> dedup_checked_at;
  std::string merged_into;                  // a near-duplicate merged into this memory
};

// What the promotion engine reads for one memory (a narrow row, so a daily
// run over 100k memories does not load content).
struct LifecycleRow {
  std::string id;
  std::string type;
  Tier tier = Tier::kShortTerm;
  TruthCategory truth_category = TruthCategory::kContextual;
  MemoryKind memory_kind = MemoryKind::kContext;
  Source source = Source::kManual;
  bool approved = true;
  Confidence confidence;
  TimePoint event_time{};
  TimePoint created_at{};
  TimePoint updated_at{};
  std::optional<TimePoint> last_accessed;
  int access_count = 0;
  MemoryLifecycle lifecycle;
};

struct ArchivedMemory {
  std::string memory_id;
  std::string user_id;
  std::string reason;
  TimePoint archived_at{};
  Memory memory;  // as it was, relations included
};

struct GraphCounts {
  int64_t entities = 0;
  int64_t facts = 0;
  int64_t current_facts = 0;
};

class KnowledgeStore {
 public:
  virtual ~KnowledgeStore() = default;

  // Runs fn in one transaction (calls inside join it): what one memory's
  // extraction writes lands whole or not at all. Rolls back if fn throws.
  virtual void transaction(const std::function<void()>& fn) = 0;

  // --- Entities ---
  // Creates an entity (id assigned when empty) with its name as first alias.
  virtual Entity add_entity(Entity e) = 0;
  virtual std::optional<Entity> get_entity(const std::string& user_id, const std::string& id) = 0;
  // Live (not merged) entities, most mentioned first; kind "" = all.
  virtual std::vector<Entity> list_entities(const std::string& user_id, const std::string& kind, int limit) = 0;
  // Live entities having an alias whose normalised form is norm.
  virtual std::vector<Entity> entities_by_alias(const std::string& user_id, const std::string& norm) = 0;
  // Every (normalised alias, entity id) of live entities: the resolver's dictionary.
  virtual std::vector<std::pair<std::string, std::string>> alias_index(const std::string& user_id) = 0;
  virtual void add_alias(const std::string& user_id, const std::string& entity_id, const std::string& alias,
                         const std::string& norm) = 0;
  virtual void update_entity_summary(const std::string& user_id, const std::string& entity_id,
                                     const std::string& summary) = 0;
  virtual void add_mention(const std::string& user_id, const Mention& m) = 0;
  virtual std::vector<Mention> mentions_of(const std::string& user_id, const std::string& entity_id) = 0;
  // Moves aliases, mentions and facts of `from` to `into`; `from` stays as a
  // tombstone (merged_into) so its id still resolves.
  virtual void merge_entities(const std::string& user_id, const std::string& from, const std::string& into) = 0;
  // Creates a new entity named new_name holding the given aliases of `from`,
  // with the mentions made under those aliases and the facts extracted from
  // those memories. Returns the new entity.
  virtual Entity split_entity(const std::string& user_id, const std::string& from, const std::string& new_name,
                              const std::vector<std::pair<std::string, std::string>>& aliases_with_norms) = 0;

  // --- Facts ---
  // Records f. When `exclusive` (the predicate holds one value at a time), a
  // current fact with the same subject and predicate and another object is
  // ended at f.valid_from (supersedes) or, for the same period, retired as
  // wrong (contradicts); the memories involved are linked and the old
  // memory's contradiction_count incremented, all in one transaction.
  // Idempotent: the same fact from the same memory is recorded once, and a
  // fact equal to a current one (another memory saying it again) adds no row.
  virtual FactOutcome record_fact(Fact f, bool exclusive) = 0;
  virtual std::vector<Fact> facts(const FactQuery& q) = 0;
  virtual GraphCounts graph_counts(const std::string& user_id) = 0;
  // Facts recorded or retired in [since, until): the weekly review.
  virtual std::vector<Fact> facts_changed(const std::string& user_id, TimePoint since, TimePoint until) = 0;
  virtual std::vector<Entity> entities_created(const std::string& user_id, TimePoint since, TimePoint until) = 0;

  // --- Lifecycle ---
  // Memories of user_id, id order after `after_id`, at most limit.
  virtual std::vector<LifecycleRow> lifecycle_rows(const std::string& user_id, const std::string& after_id,
                                                   int limit) = 0;
  virtual MemoryLifecycle lifecycle(const std::string& memory_id) = 0;
  // Writes the recomputed confidence without touching updated_at.
  virtual void set_confidence(const std::string& user_id, const std::string& memory_id, const Confidence& c) = 0;
  // Changes the tier and records why, in one transaction. Returns false when
  // the memory already has tier `to` (nothing recorded).
  virtual bool change_tier(const std::string& user_id, const TierChange& change) = 0;
  virtual std::vector<TierChange> tier_history(const std::string& user_id, const std::string& memory_id) = 0;
  virtual std::vector<TierChange> tier_changes(const std::string& user_id, TimePoint since, TimePoint until) = 0;
  virtual void mark_validated(const std::string& user_id, const std::string& memory_id, TimePoint at) = 0;
  virtual void mark_extracted(const std::string& user_id, const std::string& memory_id, TimePoint at) = 0;
  // Ids of approved memories not yet extracted, in the order they happened
  // (event time, then id): facts are learned in the order they became true.
  virtual std::vector<std::string> unextracted(const std::string& user_id, int limit) = 0;
  virtual void mark_dedup_checked(const std::string& user_id, const std::vector<std::string>& ids, TimePoint at) = 0;
  // Ids (after after_id) of hot, unmerged memories not yet checked for near-duplicates.
  virtual std::vector<std::string> undeduped(const std::string& user_id, const std::string& after_id, int limit) = 0;
  // Users that have memories (maintenance runs per user).
  virtual std::vector<std::string> users() = 0;
  // Marks `duplicate` as merged into `survivor`: relation survivor
  // -supersedes-> duplicate, one corroboration on the survivor, the
  // duplicate's provenance appended to the survivor's metadata.merged_from,
  // the duplicate out of the hot vector index. One transaction; idempotent.
  virtual bool merge_duplicate(const std::string& user_id, const std::string& survivor,
                               const std::string& duplicate, TimePoint at) = 0;
  // Moves memories older than cutoff (event and last access), not
  // persistent and not yet cold, out of the hot vector index. Returns their ids.
  virtual std::vector<std::string> move_to_cold(const std::string& user_id, TimePoint cutoff, TimePoint at) = 0;
  virtual int64_t count_cold(const std::string& user_id) = 0;
  // The memory whose metadata.maintenance_key is key (summaries, reviews).
  virtual std::optional<std::string> find_by_maintenance_key(const std::string& user_id, const std::string& key) = 0;

  // --- Archive (expired inferences; never a memory the user wrote) ---
  // Copies the record (relations included) into the archive and removes it
  // from memories, in one transaction. Returns false when it is gone already.
  virtual bool archive_memory(const std::string& user_id, const std::string& memory_id, const std::string& reason,
                              TimePoint at) = 0;
  virtual std::vector<ArchivedMemory> list_archive(const std::string& user_id, int limit) = 0;
  virtual std::optional<ArchivedMemory> get_archived(const std::string& user_id, const std::string& memory_id) = 0;
  virtual void drop_archived(const std::string& user_id, const std::string& memory_id) = 0;
};

// Opens memory.db (creating and migrating it like open_sqlite_memory_store).
std::unique_ptr<KnowledgeStore> open_sqlite_knowledge_store(const std::filesystem::path& path,
                                                            const TimeSource& clock = system_time());

}  // namespace kioku
