#include "core/memory.h"

#include <algorithm>
#include <array>
#include <unordered_set>
#include <utility>

#include "core/error.h"
#include "core/hash.h"

namespace kioku {

namespace {

template <typename E, size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<Tier, 3> kTierNames{{{Tier::kShortTerm, "short_term"},
                                     {Tier::kLongTerm, "long_term"},
                                     {Tier::kPersistent, "persistent"}}};
constexpr Names<TruthCategory, 4> kTruthNames{{{TruthCategory::kAbsolute, "absolute"},
                                               {TruthCategory::kContextual, "contextual"},
                                               {TruthCategory::kOpinion, "opinion"},
                                               {TruthCategory::kInferred, "inferred"}}};
constexpr Names<MemoryKind, 6> kKindNames{{{MemoryKind::kFact, "fact"},
                                           {MemoryKind::kBelief, "belief"},
                                           {MemoryKind::kPreference, "preference"},
                                           {MemoryKind::kSkill, "skill"},
                                           {MemoryKind::kEvent, "event"},
                                           {MemoryKind::kContext, "context"}}};
constexpr Names<Source, 4> kSourceNames{{{Source::kManual, "manual"},
                                         {Source::kAiSuggested, "ai_suggested"},
                                         {Source::kImported, "imported"},
                                         {Source::kConversation, "conversation"}}};
constexpr Names<RelationKind, 4> kRelationNames{{{RelationKind::kRelated, "related"},
                                                 {RelationKind::kSupports, "supports"},
                                                 {RelationKind::kContradicts, "contradicts"},
                                                 {RelationKind::kSupersedes, "supersedes"}}};

template <typename E, size_t N>
std::string_view name_of(const Names<E, N>& names, E v) {
  for (const auto& [e, n] : names)
    if (e == v) return n;
  return "unknown";
}

template <typename E, size_t N>
E parse_name(const Names<E, N>& names, std::string_view s, std::string_view what) {
  for (const auto& [e, n] : names)
    if (n == s) return e;
  std::string accepted;
  for (const auto& [e, n] : names) {
    if (!accepted.empty()) accepted += ", ";
    accepted += n;
  }
  throw invalid_input("unknown " + std::string(what) + " '" + std::string(s) + "' (expected one of: " + accepted +
                      ")");
}

std::vector<std::string> string_list(const nlohmann::json& j, const char* field) {
  std::vector<std::string> out;
  if (!j.contains(field) || j[field].is_null()) return out;
  const auto& v = j[field];
  if (v.is_string()) return split_tags(v.get<std::string>());
  if (!v.is_array()) throw invalid_input(std::string(field) + " must be an array of strings");
  for (const auto& e : v) {
    if (!e.is_string()) throw invalid_input(std::string(field) + " must be an array of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

template <typename T>
T field_or(const nlohmann::json& j, const char* field, T fallback) {
  if (!j.contains(field) || j[field].is_null()) return fallback;
  try {
    return j[field].get<T>();
  } catch (const nlohmann::json::exception&) {
    throw invalid_input(std::string("field '") + field + "' has the wrong type");
  }
}

}  // namespace

std::string_view to_string(Tier v) { return name_of(kTierNames, v); }
std::string_view to_string(TruthCategory v) { return name_of(kTruthNames, v); }
std::string_view to_string(MemoryKind v) { return name_of(kKindNames, v); }
std::string_view to_string(Source v) { return name_of(kSourceNames, v); }
std::string_view to_string(RelationKind v) { return name_of(kRelationNames, v); }
Tier parse_tier(std::string_view s) { return parse_name(kTierNames, s, "tier"); }
TruthCategory parse_truth_category(std::string_view s) { return parse_name(kTruthNames, s, "truth category"); }
MemoryKind parse_memory_kind(std::string_view s) { return parse_name(kKindNames, s, "memory type"); }
Source parse_source(std::string_view s) { return parse_name(kSourceNames, s, "source"); }
RelationKind parse_relation_kind(std::string_view s) { return parse_name(kRelationNames, s, "relation"); }

bool Provenance::empty() const {
  return kind.empty() && file.empty() && line == 0 && page == 0 && sheet.empty() && row == 0 &&
         message_id.empty() && url.empty();
}

std::string normalize_for_hash(std::string_view content) {
  std::string out;
  out.reserve(content.size());
  bool pending_space = false;
  for (char c : content) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      pending_space = !out.empty();
    } else {
      if (pending_space) out.push_back(' ');
      pending_space = false;
      out.push_back(c);
    }
  }
  return out;
}

std::string compute_content_hash(const Memory& m) {
  std::string key = m.type;
  key.push_back('\0');
  key += normalize_for_hash(m.content);
  // Chat turns and posts are events: saying or posting "good morning" on
  // two days is two memories.
  if (m.type == memory_types::kChat || m.type == memory_types::kBskyPost) {
    key.push_back('\0');
    key += std::to_string(to_millis(m.event_time));
    key.push_back('\0');
    key += m.provenance.message_id;
  }
  if (!m.media_path.empty()) {
    key.push_back('\0');
    key += m.media_path;
  }
  return sha256_hex(key);
}

nlohmann::json to_json(const Provenance& p) {
  nlohmann::json j = nlohmann::json::object();
  if (!p.kind.empty()) j["kind"] = p.kind;
  if (!p.file.empty()) j["file"] = p.file;
  if (p.line) j["line"] = p.line;
  if (p.page) j["page"] = p.page;
  if (!p.sheet.empty()) j["sheet"] = p.sheet;
  if (p.row) j["row"] = p.row;
  if (!p.message_id.empty()) j["message_id"] = p.message_id;
  if (!p.url.empty()) j["url"] = p.url;
  return j;
}

Provenance provenance_from_json(const nlohmann::json& j) {
  Provenance p;
  if (!j.is_object()) return p;
  p.kind = field_or<std::string>(j, "kind", "");
  p.file = field_or<std::string>(j, "file", "");
  p.line = field_or<int>(j, "line", 0);
  p.page = field_or<int>(j, "page", 0);
  p.sheet = field_or<std::string>(j, "sheet", "");
  p.row = field_or<int>(j, "row", 0);
  p.message_id = field_or<std::string>(j, "message_id", "");
  p.url = field_or<std::string>(j, "url", "");
  return p;
}

nlohmann::json to_json(const Memory& m) {
  nlohmann::json rel = nlohmann::json::array();
  for (const auto& r : m.relations) rel.push_back({{"target_id", r.target_id}, {"kind", to_string(r.kind)}});
  nlohmann::json j = {
      {"id", m.id},
      {"user_id", m.user_id},
      {"type", m.type},
      {"content", m.content},
      {"summary", m.summary},
      {"raw_content", m.raw_content},
      {"media_path", m.media_path},
      {"content_hash", m.content_hash},
      {"tier", to_string(m.tier)},
      {"truth_category", to_string(m.truth_category)},
      {"memory_type", to_string(m.memory_kind)},
      {"confidence",
       {{"overall", m.confidence.overall},
        {"source_reliability", m.confidence.source_reliability},
        {"recency", m.confidence.recency},
        {"corroboration_count", m.confidence.corroboration_count},
        {"contradiction_count", m.confidence.contradiction_count}}},
      {"source", to_string(m.source)},
      {"importance", m.importance},
      {"approved", m.approved},
      {"tags", m.tags},
      {"domains", m.domains},
      {"entities", m.entities},
      {"relations", rel},
      {"provenance", to_json(m.provenance)},
      {"event_time", format_iso8601(m.event_time)},
      {"created_at", format_iso8601(m.created_at)},
      {"updated_at", format_iso8601(m.updated_at)},
      {"last_accessed", m.last_accessed ? nlohmann::json(format_iso8601(*m.last_accessed)) : nlohmann::json()},
      {"access_count", m.access_count},
      {"metadata", m.metadata},
  };
  return j;
}

Memory memory_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw invalid_input("a memory must be a JSON object");
  Memory m;
  m.id = field_or<std::string>(j, "id", "");
  m.user_id = field_or<std::string>(j, "user_id", m.user_id);
  m.type = field_or<std::string>(j, "type", m.type);
  m.content = field_or<std::string>(j, "content", "");
  m.summary = field_or<std::string>(j, "summary", "");
  m.raw_content = field_or<std::string>(j, "raw_content", "");
  m.media_path = field_or<std::string>(j, "media_path", "");
  if (j.contains("tier") && j["tier"].is_string()) m.tier = parse_tier(j["tier"].get<std::string>());
  if (j.contains("truth_category") && j["truth_category"].is_string())
    m.truth_category = parse_truth_category(j["truth_category"].get<std::string>());
  if (j.contains("memory_type") && j["memory_type"].is_string())
    m.memory_kind = parse_memory_kind(j["memory_type"].get<std::string>());
  if (j.contains("source") && j["source"].is_string()) m.source = parse_source(j["source"].get<std::string>());
  if (j.contains("confidence")) {
    const auto& c = j["confidence"];
    if (c.is_number()) {
      m.confidence.overall = c.get<double>();
    } else if (c.is_object()) {
      m.confidence.overall = field_or<double>(c, "overall", m.confidence.overall);
      m.confidence.source_reliability = field_or<double>(c, "source_reliability", m.confidence.source_reliability);
      m.confidence.recency = field_or<double>(c, "recency", m.confidence.recency);
      m.confidence.corroboration_count = field_or<int>(c, "corroboration_count", 0);
      m.confidence.contradiction_count = field_or<int>(c, "contradiction_count", 0);
    }
  }
  m.importance = field_or<double>(j, "importance", m.importance);
  if (!(m.importance >= 0 && m.importance <= 1)) throw invalid_input("importance must be between 0 and 1");
  m.approved = field_or<bool>(j, "approved", m.approved);
  m.tags = string_list(j, "tags");
  m.domains = string_list(j, "domains");
  m.entities = string_list(j, "entities");
  if (j.contains("relations") && j["relations"].is_array()) {
    for (const auto& r : j["relations"]) {
      Relation rel;
      rel.target_id = field_or<std::string>(r, "target_id", "");
      rel.kind = parse_relation_kind(field_or<std::string>(r, "kind", "related"));
      if (!rel.target_id.empty()) m.relations.push_back(rel);
    }
  }
  if (j.contains("provenance")) m.provenance = provenance_from_json(j["provenance"]);
  for (const char* f : {"event_time", "timestamp"}) {
    if (j.contains(f) && j[f].is_string()) {
      m.event_time = parse_iso8601_or_throw(j[f].get<std::string>(), f);
      break;
    }
  }
  if (j.contains("metadata") && j["metadata"].is_object()) m.metadata = j["metadata"];
  return m;
}

nlohmann::json to_json(const Journal& j) {
  return {{"id", j.id},
          {"user_id", j.user_id},
          {"title", j.title},
          {"body", j.body},
          {"source_entry_ids", j.source_entry_ids},
          {"tags", j.tags},
          {"markdown_path", j.markdown_path},
          {"memory_id", j.memory_id},
          {"needs_recompile", j.needs_recompile},
          {"created_at", format_iso8601(j.created_at)}};
}

std::vector<std::string> split_tags(std::string_view csv) {
  std::vector<std::string> out;
  std::unordered_set<std::string_view> seen;  // views into csv: linear in the number of tags
  size_t start = 0;
  while (start <= csv.size()) {
    size_t end = csv.find(',', start);
    if (end == std::string_view::npos) end = csv.size();
    std::string_view part = csv.substr(start, end - start);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (!part.empty() && seen.insert(part).second) out.emplace_back(part);
    start = end + 1;
  }
  return out;
}

}  // namespace kioku
