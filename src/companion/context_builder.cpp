#include "companion/context_builder.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/text.h"
#include "lifecycle/graph_builder.h"

namespace kioku {

int estimate_tokens(std::string_view text) { return static_cast<int>((text.size() + 3) / 4); }

std::vector<std::string> BuiltContext::used_memory_ids() const {
  std::vector<std::string> ids;
  for (const auto* section : {&profile, &entities, &relevant, &recent, &journals})
    for (const auto& item : *section)
      if (!item.memory_id.empty() && std::find(ids.begin(), ids.end(), item.memory_id) == ids.end())
        ids.push_back(item.memory_id);
  return ids;
}

std::string BuiltContext::render() const {
  std::string out;
  auto section = [&](const char* title, const std::vector<ContextItem>& items) {
    if (items.empty()) return;
    out += std::string("## ") + title + "\n";
    for (const auto& i : items) out += "- " + i.text + "\n";
    out += "\n";
  };
  if (!feelings.empty()) out += "## How the user feels\n" + feelings + "\n";
  section("What you know about the user", profile);
  section("People, places and things in this message", entities);
  section("Memories related to this message", relevant);
  section("The last 24 hours", recent);
  section("Recent journal entries", journals);
  return out;
}

ContextBuilder::ContextBuilder(MemoryStore& store, Searcher& searcher, const TimeSource& clock)
    : store_(store), searcher_(searcher), clock_(clock) {}

namespace {

std::string one_line(const Memory& m, size_t max_bytes) {
  std::string text = m.type == "journal" && !m.metadata.value("title", "").empty()
                         ? m.metadata.value("title", "") + ": " + m.content.substr(m.content.find("\n\n") == std::string::npos ? 0 : m.content.find("\n\n") + 2)
                         : m.content;
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  const std::string date = format_iso8601(m.event_time).substr(0, 10);
  return "[" + date + ", " + m.type + "] " + truncate_utf8(text, max_bytes);
}

}  // namespace

BuiltContext ContextBuilder::build(const std::string& user_id, const std::string& query, const ContextOptions& o,
                                   const std::vector<std::string>& exclude_ids) {
  BuiltContext ctx;
  std::set<std::string> placed(exclude_ids.begin(), exclude_ids.end());
  int used = 0;
  auto place = [&](std::vector<ContextItem>& section, const Memory& m, size_t max_bytes) {
    if (placed.count(m.id)) return;
    std::string text = one_line(m, max_bytes);
    const int cost = estimate_tokens(text) + 2;
    if (used + cost > o.token_budget) return;  // does not fit: dropped
    used += cost;
    placed.insert(m.id);
    section.push_back({m.id, std::move(text)});
  };

  // Profile: what lasts (persistent tier) and what the user likes.
  MemoryFilter profile_filter;
  profile_filter.user_id = user_id;
  profile_filter.tier = Tier::kPersistent;
  auto profile = store_.list(profile_filter, ListOrder::kMostImportant, o.profile_limit, 0);
  MemoryFilter pref;
  pref.user_id = user_id;
  pref.kinds = {MemoryKind::kPreference};
  for (auto& m : store_.list(pref, ListOrder::kMostImportant, o.profile_limit, 0))
    if (static_cast<int>(profile.size()) < o.profile_limit) profile.push_back(m);
  for (const auto& m : profile) place(ctx.profile, m, 300);

  // Entities the message names: their current facts from the graph.
  SearchOptions so;
  if (knowledge_ && o.entity_limit > 0) {
    for (const auto& k : knowledge_in_text(*knowledge_, user_id, query, clock_.now(), o.entity_limit)) {
      std::string text = k.entity.name + " (" + k.entity.kind;
      std::vector<std::string> other;
      for (const auto& a : k.entity.aliases)
        if (a != k.entity.name && other.size() < 3) other.push_back(a);
      for (size_t i = 0; i < other.size(); ++i) text += (i ? ", " : "; also ") + other[i];
      text += ")";
      if (!k.entity.summary.empty()) text += ": " + k.entity.summary;
      for (size_t i = 0; i < k.facts.size() && i < 6; ++i) text += (i || k.entity.summary.empty() ? "; " : ". ") + describe_fact(k.facts[i]);
      text = truncate_utf8(text, 500);
      const int cost = estimate_tokens(text) + 2;
      if (used + cost > o.token_budget) break;
      used += cost;
      ctx.entities.push_back({k.facts.empty() ? std::string() : k.facts.front().memory_id, std::move(text)});
    }
    so.expansion_terms = alias_expansion(*knowledge_, user_id, query);
  }

  // Relevant: hybrid search on the message; reading them counts as access.
  so.filter.user_id = user_id;
  so.limit = o.relevant_limit + static_cast<int>(exclude_ids.size());
  so.record_access = false;  // the companion marks what it actually used
  try {
    for (const auto& r : searcher_.search(query, so)) place(ctx.relevant, r.memory, 400);
  } catch (const Error&) {
    // An unreachable embedder must not stop a chat: lexical only.
    so.mode = SearchMode::kLexical;
    for (const auto& r : searcher_.search(query, so)) place(ctx.relevant, r.memory, 400);
  }

  // Recent: the last day, newest first, chat turns included.
  MemoryFilter recent;
  recent.user_id = user_id;
  recent.since = clock_.now() - std::chrono::hours(o.recent_hours);
  for (const auto& m : store_.list(recent, ListOrder::kNewestFirst, o.recent_limit, 0))
    if (m.type != "journal") place(ctx.recent, m, 300);
  std::reverse(ctx.recent.begin(), ctx.recent.end());  // oldest first reads like a conversation

  // Journals the companion compiled lately: their first paragraph.
  MemoryFilter journals;
  journals.user_id = user_id;
  journals.types = {std::string(memory_types::kJournal)};
  for (const auto& m : store_.list(journals, ListOrder::kNewestFirst, o.journal_limit, 0)) place(ctx.journals, m, 500);

  ctx.estimated_tokens = used;
  return ctx;
}

}  // namespace kioku
