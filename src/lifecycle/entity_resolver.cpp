#include "lifecycle/entity_resolver.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

namespace kioku {
namespace {

const std::set<std::string, std::less<>> kRelations = {
    "sister",     "brother",   "mother",    "mom",        "mum",      "father",   "dad",        "wife",
    "husband",    "son",       "daughter",  "friend",     "boss",     "colleague", "coworker",  "co-worker",
    "cousin",     "aunt",      "uncle",     "grandma",    "grandmother", "grandpa", "grandfather", "partner",
    "girlfriend", "boyfriend", "neighbour", "neighbor",   "teacher",  "niece",    "nephew",     "fiance",
    "fiancee",    "roommate",  "manager",   "doctor",     "dentist",  "therapist", "cat",       "dog",
    "sibling",    "parent",    "child",     "kid",        "baby",     "classmate", "mentor",    "student"};
const std::set<std::string, std::less<>> kRelationAdjectives = {"best", "little", "big", "older", "younger",
                                                                "old",  "new",    "twin", "step", "late"};
constexpr std::array<std::string_view, 10> kHonorifics = {"chan", "san", "kun", "sama", "sensei",
                                                          "senpai", "tan", "chin", "dono", "han"};
constexpr std::array<std::string_view, 8> kTitles = {"mr", "mrs", "ms", "miss", "dr", "prof", "mr.", "dr."};

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string join(const std::vector<std::string>& words, size_t from = 0) {
  std::string out;
  for (size_t i = from; i < words.size(); ++i) {
    if (!out.empty()) out += ' ';
    out += words[i];
  }
  return out;
}

// "Hana-chan" -> "Hana", "Tanaka-san" -> "Tanaka"; a trailing " san" word too.
void strip_honorific(std::vector<std::string>& words) {
  if (words.empty()) return;
  std::string& last = words.back();
  const auto dash = last.rfind('-');
  if (dash != std::string::npos && dash > 0) {
    const std::string suffix = lower(std::string_view(last).substr(dash + 1));
    if (std::find(kHonorifics.begin(), kHonorifics.end(), suffix) != kHonorifics.end()) last.resize(dash);
  } else if (words.size() > 1) {
    const std::string l = lower(last);
    if (std::find(kHonorifics.begin(), kHonorifics.end(), l) != kHonorifics.end()) words.pop_back();
  }
}

}  // namespace

std::string lower_collapsed(std::string_view text) { return lower(join(split_words(text))); }

NormalizedName normalize_entity_name(std::string_view surface) {
  NormalizedName out;
  std::vector<std::string> words = split_words(surface);
  // Trailing punctuation and possessives: "Hana's" -> "Hana".
  for (auto& w : words) {
    while (!w.empty() && std::string_view(",.;:!?\"()[]").find(w.back()) != std::string_view::npos) w.pop_back();
    while (!w.empty() && std::string_view("\"([").find(w.front()) != std::string_view::npos) w.erase(0, 1);
  }
  std::erase_if(words, [](const std::string& w) { return w.empty(); });
  if (!words.empty()) {
    std::string& last = words.back();
    if (last.size() > 2 && (last.ends_with("'s") || last.ends_with("\u2019s")))
      last.resize(last.size() - (last.ends_with("'s") ? 2 : 4));
  }
  // "my (best) friend Hana", "our neighbour Sato", "the Tanakas"
  size_t i = 0;
  if (i < words.size()) {
    const std::string first = lower(words[i]);
    if (first == "my" || first == "our" || first == "his" || first == "her" || first == "their") {
      size_t j = i + 1;
      while (j < words.size() && kRelationAdjectives.count(lower(words[j]))) ++j;
      if (j < words.size() && kRelations.count(lower(words[j]))) {
        out.relation = lower(words[j]);
        i = j + 1;
      } else if (j < words.size()) {
        i = i + 1;
      }
    } else if (first == "the" && words.size() > 1) {
      i = 1;
    }
  }
  std::vector<std::string> rest(words.begin() + static_cast<std::ptrdiff_t>(std::min(i, words.size())), words.end());
  while (!rest.empty() &&
         std::find(kTitles.begin(), kTitles.end(), lower(rest.front())) != kTitles.end() && rest.size() > 1)
    rest.erase(rest.begin());
  strip_honorific(rest);
  std::erase_if(rest, [](const std::string& w) { return w.empty(); });
  out.display = join(rest);
  out.norm = lower(out.display);
  return out;
}

EntityResolver::EntityResolver(KnowledgeStore& store, std::string user_id)
    : store_(store), user_id_(std::move(user_id)) {}

void EntityResolver::reset() {
  loaded_ = false;
  by_norm_.clear();
  entities_.clear();
}

void EntityResolver::load() {
  if (loaded_) return;
  for (auto& [norm, id] : store_.alias_index(user_id_)) by_norm_.emplace(norm, id);
  for (auto& e : store_.list_entities(user_id_, "", 1 << 30)) entities_[e.id] = e;
  loaded_ = true;
}

void EntityResolver::remember(const std::string& entity_id, const std::string& alias, const std::string& norm) {
  if (norm.empty()) return;
  auto range = by_norm_.equal_range(norm);
  for (auto it = range.first; it != range.second; ++it)
    if (it->second == entity_id) return;
  store_.add_alias(user_id_, entity_id, alias, norm);
  by_norm_.emplace(norm, entity_id);
}

std::optional<std::string> EntityResolver::match(const NormalizedName& n, std::string_view kind) {
  // 1. an alias with the same normal form; the same kind first, then the most mentioned.
  std::vector<std::string> exact;
  auto range = by_norm_.equal_range(n.norm);
  for (auto it = range.first; it != range.second; ++it)
    if (entities_.count(it->second)) exact.push_back(it->second);
  if (!exact.empty()) {
    std::sort(exact.begin(), exact.end(), [&](const std::string& a, const std::string& b) {
      const bool ka = entities_[a].kind == kind, kb = entities_[b].kind == kind;
      if (ka != kb) return ka;
      return entities_[a].mention_count > entities_[b].mention_count;
    });
    return exact.front();
  }
  // 2. people by first name or surname ("Kenji", "Sato-san" for Kenji
  // Sato; "Hana Tanaka" for Hana): exactly one candidate, or none.
  if (kind != entity_kinds::kPerson && !kind.empty()) return std::nullopt;
  const auto space = n.norm.find(' ');
  std::set<std::string> candidates;
  for (const auto& [norm, id] : by_norm_) {
    const auto it = entities_.find(id);
    if (it == entities_.end() || it->second.kind != entity_kinds::kPerson) continue;
    if (space == std::string::npos) {
      if (norm.size() > n.norm.size() && norm.starts_with(n.norm) && norm[n.norm.size()] == ' ') candidates.insert(id);
      if (norm.size() > n.norm.size() && norm.ends_with(n.norm) && norm[norm.size() - n.norm.size() - 1] == ' ')
        candidates.insert(id);
    } else if (norm == n.norm.substr(0, space)) {
      candidates.insert(id);
    }
  }
  if (space != std::string::npos) {
    // "Hana Mori" is not the Hana already known as "Hana Tanaka".
    const std::string first = n.norm.substr(0, space + 1);
    std::erase_if(candidates, [&](const std::string& id) {
      for (const auto& [norm, other] : by_norm_)
        if (other == id && norm.starts_with(first) && norm != n.norm) return true;
      return false;
    });
  }
  if (candidates.size() == 1) return *candidates.begin();
  return std::nullopt;
}

std::optional<Entity> EntityResolver::find(std::string_view surface) {
  load();
  const NormalizedName n = normalize_entity_name(surface);
  if (n.norm.empty()) return std::nullopt;
  if (auto id = match(n, "")) return entities_[*id];
  return std::nullopt;
}

std::optional<Entity> EntityResolver::resolve(std::string_view surface, std::string_view kind, double confidence,
                                              bool* created) {
  load();
  if (created) *created = false;
  const NormalizedName n = normalize_entity_name(surface);
  if (n.norm.empty() || n.norm == "i" || n.norm == "me" || n.norm == "myself") {
    if (n.norm.empty()) return std::nullopt;
    return self();
  }
  std::string id;
  if (auto found = match(n, kind)) {
    id = *found;
  } else {
    Entity e;
    e.user_id = user_id_;
    e.kind = kind.empty() ? std::string(entity_kinds::kThing) : std::string(kind);
    e.name = n.display;
    e.confidence = confidence;
    e = store_.add_entity(e);
    id = e.id;
    entities_[id] = e;
    if (created) *created = true;
  }
  remember(id, n.display, n.norm);
  const std::string written = lower_collapsed(surface);
  if (written != n.norm) remember(id, std::string(surface), written);
  entities_[id].mention_count += 1;
  return entities_[id];
}

void EntityResolver::alias(const std::string& entity_id, std::string_view surface) {
  load();
  const NormalizedName n = normalize_entity_name(surface);
  if (n.norm.empty()) return;
  remember(entity_id, n.display, n.norm);
  const std::string written = lower_collapsed(surface);
  if (written != n.norm) remember(entity_id, std::string(surface), written);
}

Entity EntityResolver::self() {
  load();
  auto range = by_norm_.equal_range(std::string(kSelfEntityName));
  for (auto it = range.first; it != range.second; ++it)
    if (entities_.count(it->second)) return entities_[it->second];
  Entity e;
  e.user_id = user_id_;
  e.kind = std::string(entity_kinds::kPerson);
  e.name = std::string(kSelfEntityName);
  e.summary = "the user";
  e.confidence = 1.0;
  e = store_.add_entity(e);
  entities_[e.id] = e;
  remember(e.id, "me", "me");
  return e;
}

}  // namespace kioku
