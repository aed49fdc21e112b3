#include "companion/context_export.h"

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace kioku {

ExportFormat parse_export_format(std::string_view s) {
  if (s == "claude" || s == "xml") return ExportFormat::kClaude;
  if (s == "openai") return ExportFormat::kOpenAi;
  if (s == "markdown" || s == "md") return ExportFormat::kMarkdown;
  if (s == "json") return ExportFormat::kJson;
  throw invalid_input("unknown context format '" + std::string(s) + "' (expected claude, openai, markdown or json)");
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

namespace {

struct Sections {
  std::vector<Memory> identity;     // persistent tier
  std::vector<Memory> preferences;  // memory_type preference
  std::vector<Memory> facts;        // important facts, beliefs, skills
  std::vector<Memory> relevant;     // search results for the query
};

Sections gather(MemoryStore& store, Searcher& searcher, const std::string& user_id, const std::string& query,
                const ExportOptions& o) {
  Sections s;
  std::set<std::string> seen;
  MemoryFilter f;
  f.user_id = user_id;
  for (auto& m : store.list(f, ListOrder::kMostImportant, o.profile_limit * 5, 0)) {
    if (m.type == "chat" || m.type == "journal") continue;
    if (m.tier == Tier::kPersistent && static_cast<int>(s.identity.size()) < o.profile_limit) {
      s.identity.push_back(m);
    } else if (m.memory_kind == MemoryKind::kPreference && static_cast<int>(s.preferences.size()) < o.profile_limit) {
      s.preferences.push_back(m);
    } else if ((m.memory_kind == MemoryKind::kFact || m.memory_kind == MemoryKind::kBelief ||
                m.memory_kind == MemoryKind::kSkill || m.type == "fact") &&
               m.importance >= 0.6 && static_cast<int>(s.facts.size()) < o.profile_limit) {
      s.facts.push_back(m);
    } else {
      continue;
    }
    seen.insert(m.id);
  }
  if (!query.empty()) {
    SearchOptions so;
    so.filter.user_id = user_id;
    so.limit = o.relevant_limit;
    try {
      for (auto& r : searcher.search(query, so))
        if (!seen.count(r.memory.id)) s.relevant.push_back(std::move(r.memory));
    } catch (const Error&) {
      so.mode = SearchMode::kLexical;
      for (auto& r : searcher.search(query, so))
        if (!seen.count(r.memory.id)) s.relevant.push_back(std::move(r.memory));
    }
  }
  return s;
}

std::string date_of(const Memory& m) { return format_iso8601(m.event_time).substr(0, 10); }

}  // namespace

std::string export_context(MemoryStore& store, Searcher& searcher, const std::string& user_id,
                           const std::string& query, const ExportOptions& o) {
  Sections s = gather(store, searcher, user_id, query, o);
  const std::vector<std::pair<const char*, const std::vector<Memory>*>> named = {
      {"identity", &s.identity}, {"preferences", &s.preferences}, {"facts", &s.facts}, {"relevant_memories", &s.relevant}};
  if (o.format == ExportFormat::kJson) {
    nlohmann::json j = {{"user_id", user_id}, {"query", query}};
    for (const auto& [name, list] : named) {
      j[name] = nlohmann::json::array();
      for (const auto& m : *list)
        j[name].push_back({{"id", m.id}, {"content", m.content}, {"type", m.type}, {"date", date_of(m)},
                           {"confidence", m.confidence.overall}, {"tags", m.tags}});
    }
    return j.dump(2) + "\n";
  }
  if (o.format == ExportFormat::kClaude) {
    std::string out = "<user_profile>\n";
    for (const auto& [name, list] : named) {
      if (list->empty()) continue;
      out += "  <" + std::string(name) + ">\n";
      for (const auto& m : *list)
        out += "    <memory date=\"" + date_of(m) + "\" type=\"" + xml_escape(m.type) + "\">" + xml_escape(m.content) +
               "</memory>\n";
      out += "  </" + std::string(name) + ">\n";
    }
    return out + "</user_profile>\n";
  }
  std::string md;
  const std::map<std::string, std::string> titles = {{"identity", "Who the user is"},
                                                     {"preferences", "Preferences"},
                                                     {"facts", "Facts"},
                                                     {"relevant_memories", "Relevant memories"}};
  for (const auto& [name, list] : named) {
    if (list->empty()) continue;
    md += "## " + titles.at(name) + "\n\n";
    for (const auto& m : *list) md += "- " + m.content + " (" + date_of(m) + ")\n";
    md += "\n";
  }
  if (o.format == ExportFormat::kMarkdown) return md.empty() ? "No memories to share yet.\n" : md;
  const std::string content = "The following is personal context about the user you are helping, from their own memory store. "
                              "Use it to personalise your answers; do not recite it.\n\n" + md;
  return nlohmann::json{{"role", "system"}, {"content", content}}.dump(2) + "\n";
}

}  // namespace kioku
