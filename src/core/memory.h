// The universal memory record: one shape for chats, journals, images,
// documents, notes, social posts and facts. Seeds 000, 001 and 002 merged.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time.h"

namespace kioku {

enum class Tier { kShortTerm, kLongTerm, kPersistent };
enum class TruthCategory { kAbsolute, kContextual, kOpinion, kInferred };
enum class MemoryKind { kFact, kBelief, kPreference, kSkill, kEvent, kContext };
enum class Source { kManual, kAiSuggested, kImported, kConversation };
enum class RelationKind { kRelated, kSupports, kContradicts, kSupersedes };

std::string_view to_string(Tier v);
std::string_view to_string(TruthCategory v);
std::string_view to_string(MemoryKind v);
std::string_view to_string(Source v);
std::string_view to_string(RelationKind v);
// Parsers throw invalid_input listing the accepted words.
Tier parse_tier(std::string_view s);
TruthCategory parse_truth_category(std::string_view s);
MemoryKind parse_memory_kind(std::string_view s);
Source parse_source(std::string_view s);
RelationKind parse_relation_kind(std::string_view s);

// Well-known values of Memory::type. The type is open text so importers and
// later layers can add their own, but these are the ones the code relies on.
namespace memory_types {
inline constexpr std::string_view kChat = "chat";
inline constexpr std::string_view kJournal = "journal";
inline constexpr std::string_view kImage = "image";
inline constexpr std::string_view kDocument = "document";
inline constexpr std::string_view kNote = "note";
inline constexpr std::string_view kBskyPost = "bsky_post";
inline constexpr std::string_view kFact = "fact";
}  // namespace memory_types

// Seed 001's confidence: the overall value is recomputed from its parts by
// the lifecycle layer (src/lifecycle/confidence.h).
struct Confidence {
  double overall = 0.5;
  double source_reliability = 0.5;
  double recency = 1.0;  // time decay since the memory was last confirmed or used, 0..1
  int corroboration_count = 0;
  int contradiction_count = 0;
};

// Where a memory came from. Every importer fills what it knows.
struct Provenance {
  std::string kind;        // "file", "chat", "telegram", "bsky", "manual", ...
  std::string file;        // source file path or upload name
  int line = 0;            // 1-based first line, 0 = unknown
  int page = 0;            // 1-based page (PDF), 0 = unknown
  std::string sheet;       // spreadsheet sheet name
  int row = 0;             // spreadsheet / CSV row, 0 = unknown
  std::string message_id;  // chat or bot message id
  std::string url;         // web address or AT-URI
  bool empty() const;
};

struct Relation {
  std::string target_id;
  RelationKind kind = RelationKind::kRelated;
};

struct Memory {
  std::string id;  // UUIDv7; empty until stored
  std::string user_id = "local";
  std::string type = std::string(memory_types::kNote);
  std::string content;
  std::string summary;
  std::string raw_content;
  std::string media_path;
  std::string content_hash;  // filled by the store when empty

  Tier tier = Tier::kShortTerm;
  TruthCategory truth_category = TruthCategory::kContextual;
  MemoryKind memory_kind = MemoryKind::kContext;
  Confidence confidence;
  Source source = Source::kManual;
  double importance = 0.5;  // 0..1
  bool approved = true;     // false while an AI suggestion awaits the user

  std::vector<std::string> tags;
  std::vector<std::string> domains;
  std::vector<std::string> entities;
  std::vector<Relation> relations;
  Provenance provenance;

  TimePoint event_time{};   // when it happened (defaults to record time)
  TimePoint created_at{};   // when it was stored
  TimePoint updated_at{};
  std::optional<TimePoint> last_accessed;
  int access_count = 0;

  nlohmann::json metadata = nlohmann::json::object();
};

// A compiled journal article (seed 000). Stored in its own table and also
// mirrored as a memory of type "journal" whose id is memory_id.
struct Journal {
  std::string id;  // equals the journal session id, which makes `done` idempotent
  std::string user_id = "local";
  std::string title;
  std::string body;  // markdown
  std::vector<std::string> source_entry_ids;
  std::vector<std::string> tags;
  std::string markdown_path;
  std::string memory_id;
  // True when compiled without an LLM: such journals are re-compiled once one is configured.
  bool needs_recompile = false;
  TimePoint created_at{};
};

// Normalises text for hashing: trims, collapses runs of whitespace.
std::string normalize_for_hash(std::string_view content);
// The deduplication key of a memory. Chat turns are events: the same words at
// another time (or in another message) are another memory, so their key also
// covers the event time and message id.
std::string compute_content_hash(const Memory& m);

nlohmann::json to_json(const Memory& m);
// Reads the fields present in j onto a default Memory; throws invalid_input on
// wrong types or unknown enum words.
Memory memory_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Journal& j);
nlohmann::json to_json(const Provenance& p);
Provenance provenance_from_json(const nlohmann::json& j);

// Splits "a, b,,c" into {"a","b","c"}; trims and drops empties and duplicates.
std::vector<std::string> split_tags(std::string_view csv);

}  // namespace kioku
