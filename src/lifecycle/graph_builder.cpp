#include "lifecycle/graph_builder.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "core/text.h"

namespace kioku {

GraphBuilder::GraphBuilder(KnowledgeStore& store, std::string user_id, const TimeSource& clock)
    : store_(store), user_id_(std::move(user_id)), clock_(clock), resolver_(store_, user_id_) {}

std::vector<std::string> GraphBuilder::known_names() {
  std::set<std::string> names;
  for (const auto& e : store_.list_entities(user_id_, "", 1 << 30)) {
    if (e.name == kSelfEntityName) continue;
    names.insert(e.name);
    for (const auto& a : e.aliases) names.insert(a);
  }
  return {names.begin(), names.end()};
}

void GraphBuilder::skip(const Memory& memory) { store_.mark_extracted(user_id_, memory.id, clock_.now()); }

GraphApplied GraphBuilder::apply(const Memory& memory, const Extraction& x) {
  GraphApplied out;
  try {
    store_.transaction([&] {
      out = GraphApplied{};
      std::map<std::string, std::string> id_of;  // lower-collapsed name or alias -> entity id
      std::map<std::string, std::string> name_of;
      const Entity self = resolver_.self();
      for (const char* s : {"me", "user", "i", "the user", "myself"}) id_of[s] = self.id;
      name_of[self.id] = self.name;
      for (const auto& e : x.entities) {
        bool created = false;
        auto entity = resolver_.resolve(e.name, e.kind, x.confidence, &created);
        if (!entity) continue;
        out.entities_created += created ? 1 : 0;
        for (const auto& a : e.aliases) resolver_.alias(entity->id, a);
        if (!e.summary.empty() && entity->summary.empty()) store_.update_entity_summary(user_id_, entity->id, e.summary);
        id_of[lower_collapsed(e.name)] = entity->id;
        for (const auto& a : e.aliases) id_of[lower_collapsed(a)] = entity->id;
        name_of[entity->id] = entity->name;
        if (entity->id == self.id) continue;
        std::set<std::string> surfaces = {e.name};
        surfaces.insert(e.aliases.begin(), e.aliases.end());
        for (const auto& surface : surfaces) {
          store_.add_mention(user_id_, {entity->id, memory.id, surface, normalize_entity_name(surface).norm});
          ++out.mentions;
        }
      }
      auto lookup = [&](const std::string& name) -> std::string {
        auto it = id_of.find(lower_collapsed(name));
        if (it != id_of.end()) return it->second;
        if (auto e = resolver_.find(name)) return e->id;
        return "";
      };
      for (const auto& f : x.facts) {
        Fact fact;
        fact.user_id = user_id_;
        fact.subject_id = lookup(f.subject);
        if (fact.subject_id.empty()) continue;  // validated extractions always name their subjects
        fact.predicate = f.predicate;
        if (!f.object.empty()) {
          fact.object_id = lookup(f.object);
          if (fact.object_id.empty()) continue;
          fact.value = name_of.count(fact.object_id) ? name_of[fact.object_id] : f.object;
        } else {
          fact.value = f.value;
        }
        if (fact.object_id == fact.subject_id) continue;
        fact.valid_from = f.valid_from;
        fact.valid_to = f.valid_to;
        fact.memory_id = memory.id;
        fact.confidence = x.confidence;
        fact.extractor = x.extractor;
        const bool exclusive = f.exclusive.value_or(is_exclusive_predicate(f.predicate)) && !f.valid_to;
        FactOutcome r = store_.record_fact(fact, exclusive);
        out.facts_created += r.created ? 1 : 0;
        out.facts_closed += r.closed;
        out.contradictions += r.contradicted;
      }
      store_.mark_extracted(user_id_, memory.id, clock_.now());
    });
  } catch (...) {
    resolver_.reset();  // ids it cached may have been rolled back
    throw;
  }
  return out;
}

namespace {

// Whole-word, case-insensitive occurrence of needle (already lower-cased) in hay (lower-cased).
bool contains_words(const std::string& hay, const std::string& needle) {
  if (needle.empty()) return false;
  for (size_t pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1)) {
    const bool left = pos == 0 || !std::isalnum(static_cast<unsigned char>(hay[pos - 1]));
    const size_t end = pos + needle.size();
    const bool right = end >= hay.size() || !std::isalnum(static_cast<unsigned char>(hay[end]));
    if (left && right) return true;
  }
  return false;
}

std::vector<Entity> entities_named_in(KnowledgeStore& store, const std::string& user_id, std::string_view text,
                                      int max_entities) {
  std::string lowered(text);
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<std::string> found_ids;
  for (const auto& [norm, id] : store.alias_index(user_id)) {
    if (norm == kSelfEntityName || norm.size() < 2) continue;
    if (std::find(found_ids.begin(), found_ids.end(), id) != found_ids.end()) continue;
    if (contains_words(lowered, norm)) found_ids.push_back(id);
  }
  std::vector<Entity> out;
  for (const auto& id : found_ids)
    if (auto e = store.get_entity(user_id, id)) out.push_back(std::move(*e));
  std::sort(out.begin(), out.end(), [](const Entity& a, const Entity& b) { return a.mention_count > b.mention_count; });
  if (static_cast<int>(out.size()) > max_entities) out.resize(static_cast<size_t>(max_entities));
  return out;
}

}  // namespace

std::vector<EntityKnowledge> knowledge_in_text(KnowledgeStore& store, const std::string& user_id,
                                               std::string_view text, TimePoint at, int max_entities) {
  std::vector<EntityKnowledge> out;
  for (auto& e : entities_named_in(store, user_id, text, max_entities)) {
    FactQuery q;
    q.user_id = user_id;
    q.entity_id = e.id;
    q.valid_at = at;
    q.limit = 20;
    EntityKnowledge k{e, store.facts(q)};
    out.push_back(std::move(k));
  }
  return out;
}

std::vector<std::string> alias_expansion(KnowledgeStore& store, const std::string& user_id, std::string_view query) {
  std::vector<std::string> extra;
  std::string lowered(query);
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& e : entities_named_in(store, user_id, query, 5)) {
    std::vector<std::string> names = e.aliases;
    names.push_back(e.name);
    for (const auto& n : names) {
      for (const auto& w : word_tokens(normalize_entity_name(n).display)) {
        if (w.size() < 2 || is_stopword(w) || contains_words(lowered, w)) continue;
        if (std::find(extra.begin(), extra.end(), w) == extra.end()) extra.push_back(w);
      }
    }
  }
  return extra;
}

std::string describe_fact(const Fact& f) {
  std::string predicate = f.predicate;
  std::replace(predicate.begin(), predicate.end(), '_', ' ');
  std::string line = f.subject_name + " " + predicate + " " + (f.object_name.empty() ? f.value : f.object_name);
  if (f.valid_from && f.valid_to)
    line += " (" + format_iso8601(*f.valid_from).substr(0, 10) + " to " + format_iso8601(*f.valid_to).substr(0, 10) + ")";
  else if (f.valid_from)
    line += " (since " + format_iso8601(*f.valid_from).substr(0, 10) + ")";
  else if (f.valid_to)
    line += " (until " + format_iso8601(*f.valid_to).substr(0, 10) + ")";
  return line;
}

nlohmann::json to_json(const Entity& e) {
  nlohmann::json j = {{"id", e.id},           {"kind", e.kind},
                      {"name", e.name},       {"aliases", e.aliases},
                      {"summary", e.summary}, {"confidence", e.confidence},
                      {"mentions", e.mention_count}, {"created_at", format_iso8601(e.created_at)}};
  if (!e.merged_into.empty()) j["merged_into"] = e.merged_into;
  return j;
}

nlohmann::json to_json(const Fact& f) {
  auto t = [](const std::optional<TimePoint>& p) { return p ? nlohmann::json(format_iso8601(*p)) : nlohmann::json(); };
  nlohmann::json j = {{"id", f.id},
                      {"subject_id", f.subject_id},
                      {"subject", f.subject_name},
                      {"predicate", f.predicate},
                      {"object_id", f.object_id.empty() ? nlohmann::json() : nlohmann::json(f.object_id)},
                      {"object", f.object_name.empty() ? nlohmann::json() : nlohmann::json(f.object_name)},
                      {"value", f.value},
                      {"valid_from", t(f.valid_from)},
                      {"valid_to", t(f.valid_to)},
                      {"recorded_at", format_iso8601(f.recorded_at)},
                      {"invalidated_at", t(f.invalidated_at)},
                      {"memory_id", f.memory_id.empty() ? nlohmann::json() : nlohmann::json(f.memory_id)},
                      {"confidence", f.confidence},
                      {"extractor", f.extractor},
                      {"text", describe_fact(f)}};
  if (!f.superseded_by.empty()) j["superseded_by"] = f.superseded_by;
  if (!f.revision_of.empty()) j["revision_of"] = f.revision_of;
  return j;
}

}  // namespace kioku
