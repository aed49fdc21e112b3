#include "tools/memory_tools.h"

#include <algorithm>

#include "core/error.h"
#include "core/text.h"
#include "tools/core_memory.h"

namespace kioku {

using nlohmann::json;

json tool_memory_json(const Memory& m) {
  json j = {{"id", m.id},           {"type", m.type}, {"content", m.content}, {"tags", m.tags},
            {"time", format_iso8601(m.event_time)}, {"importance", m.importance}};
  if (!m.approved) j["pending_approval"] = true;
  if (m.type == memory_types::kChat) j["role"] = m.metadata.value("role", "user");
  return j;
}

namespace {

json str(const char* description) { return {{"type", "string"}, {"description", description}}; }
json integer(const char* description) { return {{"type", "integer"}, {"description", description}}; }
json strings(const char* description) {
  return {{"type", "array"}, {"items", {{"type", "string"}}}, {"description", description}};
}
json object_schema(json properties, std::vector<std::string> required) {
  return {{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)}};
}

const char* kLabel = "The block's label, e.g. 'human' or 'persona'.";

CoreBlockAuthor author_of(const ToolContext& ctx, const std::string& tool) {
  CoreBlockAuthor a;
  a.kind = "agent";
  a.tool_call_id = ctx.tool_call_id;
  a.tool_name = tool;
  a.turn_id = ctx.turn_id;
  if (ctx.caller != "agent") a.note = "via " + ctx.caller;
  return a;
}

ToolResult block_result(const CoreBlock& b, const std::string& what) {
  ToolResult r;
  const size_t chars = char_count(b.value);
  r.text = what + " core memory block '" + b.label + "' (now version " + std::to_string(b.version) + ", " +
           std::to_string(chars) + "/" + std::to_string(b.limit) + " characters). Its new value:\n" + b.value;
  r.data = {{"label", b.label}, {"version", b.version}, {"chars", chars}, {"limit", b.limit}, {"value", b.value}};
  r.core_label = b.label;
  r.core_version = b.version;
  return r;
}

std::optional<TimePoint> time_arg(const json& args, const char* name) {
  auto s = optional_string(args, name);
  if (!s || s->empty()) return std::nullopt;
  auto t = parse_iso8601(*s);
  if (!t) throw invalid_input(std::string("'") + name + "' is not a date or time like 2024-05-08 or 2024-05-08T13:56");
  return t;
}

// An end date without a time means the whole day.
std::optional<TimePoint> end_arg(const json& args, const char* name) {
  auto t = time_arg(args, name);
  auto s = optional_string(args, name);
  if (t && s && s->size() == 10) *t += std::chrono::hours(24);
  return t;
}

int bounded(std::optional<int64_t> v, int fallback, int max) {
  if (!v) return fallback;
  if (*v < 1) throw invalid_input("a result count is at least 1");
  return static_cast<int>(std::min<int64_t>(*v, max));
}

ToolResult list_result(const std::vector<Memory>& found, const std::string& empty_text) {
  ToolResult r;
  json items = json::array();
  for (const auto& m : found) items.push_back(tool_memory_json(m));
  r.data = {{"results", items}, {"count", items.size()}};
  r.text = found.empty() ? empty_text : items.dump();
  return r;
}

std::vector<Memory> search(Searcher& searcher, const std::string& query, SearchOptions o) {
  o.record_access = false;
  std::vector<SearchResult> results;
  try {
    results = searcher.search(query, o);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnavailable) throw;
    o.mode = SearchMode::kLexical;  // the embedder is down: words only
    results = searcher.search(query, o);
  }
  std::vector<Memory> out;
  for (auto& r : results) out.push_back(std::move(r.memory));
  return out;
}

}  // namespace

void register_memory_tools(ToolRegistry& registry, MemoryStore& store, Searcher& searcher,
                           const MemoryToolOptions& options, const TimeSource& clock) {
  CoreMemoryStore& core_store = store.core_memory();
  auto core = [&core_store](const ToolContext& ctx) { return CoreMemory(core_store, ctx.user_id); };

  // ------------------------------------------------------------ core memory
  registry.add({"core_memory_append", "Append to core memory",
                "Append text to the end of a core memory block (always in your context). Use it for lasting facts "
                "about the user (block 'human') or yourself ('persona'). Fails when the block would pass its "
                "character limit.",
                object_schema({{"label", str(kLabel)}, {"content", str("Text to append, on a new line.")}},
                              {"label", "content"}),
                false, false, ToolAudience::kAll, [core](const json& args, const ToolContext& ctx) {
                  auto cm = core(ctx);
                  return block_result(cm.append(required_string(args, "label"), required_string(args, "content"),
                                                author_of(ctx, "core_memory_append")),
                                      "Appended to");
                }});
  registry.add({"core_memory_replace", "Replace text in core memory",
                "Replace exact text in a core memory block with new text (an empty new_content deletes it). The "
                "old text must appear in the block exactly as written.",
                object_schema({{"label", str(kLabel)},
                               {"old_content", str("The exact text to replace.")},
                               {"new_content", str("The text to put in its place.")}},
                              {"label", "old_content", "new_content"}),
                false, false, ToolAudience::kAll, [core](const json& args, const ToolContext& ctx) {
                  auto cm = core(ctx);
                  return block_result(cm.replace(required_string(args, "label"), required_string(args, "old_content"),
                                                 required_string(args, "new_content"),
                                                 author_of(ctx, "core_memory_replace")),
                                      "Replaced text in");
                }});
  registry.add({"memory_insert", "Insert lines into core memory",
                "Insert text into a core memory block at a line number (0 = before the first line, -1 = at the end).",
                object_schema({{"label", str(kLabel)},
                               {"new_str", str("The text to insert.")},
                               {"insert_line", integer("Line number to insert at; -1 (the default) appends.")}},
                              {"label", "new_str"}),
                false, false, ToolAudience::kAll, [core](const json& args, const ToolContext& ctx) {
                  auto cm = core(ctx);
                  const int line = static_cast<int>(optional_integer(args, "insert_line").value_or(-1));
                  return block_result(cm.insert(required_string(args, "label"), required_string(args, "new_str"), line,
                                                author_of(ctx, "memory_insert")),
                                      "Inserted into");
                }});
  registry.add({"memory_rethink", "Rewrite a core memory block",
                "Replace the whole value of a core memory block with a new, reorganised version: to condense it when "
                "it nears its limit, or to fold in many changes at once.",
                object_schema({{"label", str(kLabel)}, {"new_memory", str("The complete new value of the block.")}},
                              {"label", "new_memory"}),
                false, false, ToolAudience::kAll, [core](const json& args, const ToolContext& ctx) {
                  auto cm = core(ctx);
                  return block_result(cm.rethink(required_string(args, "label"), required_string(args, "new_memory"),
                                                 author_of(ctx, "memory_rethink")),
                                      "Rewrote");
                }});

  // --------------------------------------------------------------- archival
  auto insert = [&store, &clock, options](const json& args, const ToolContext& ctx, const std::string& tool) {
    const std::string content = required_string(args, "content");
    if (content.find_first_not_of(" \t\r\n") == std::string::npos) throw invalid_input("'content' is empty");
    Memory m;
    m.user_id = ctx.user_id;
    m.type = optional_string(args, "type").value_or(std::string(memory_types::kFact));
    m.content = content;
    m.tags = optional_strings(args, "tags");
    if (args.contains("importance") && args["importance"].is_number())
      m.importance = std::clamp(args["importance"].get<double>(), 0.0, 1.0);
    if (auto at = time_arg(args, "event_time")) m.event_time = *at;
    m.source = Source::kAiSuggested;
    m.truth_category = TruthCategory::kInferred;
    m.approved = !options.inserts_need_approval;
    m.provenance.kind = ctx.caller == "agent" ? "agent" : ctx.caller;
    m.metadata = {{"tool", tool}};
    if (!ctx.turn_id.empty()) m.metadata["turn_id"] = ctx.turn_id;
    if (!ctx.tool_call_id.empty()) m.metadata["tool_call_id"] = ctx.tool_call_id;
    (void)clock;
    const AddOutcome added = store.add(m);
    auto stored = store.get(ctx.user_id, added.id);
    ToolResult r;
    r.data = {{"id", added.id}, {"created", added.created}, {"pending_approval", !m.approved}};
    if (stored) r.data["memory"] = tool_memory_json(*stored);
    r.text = std::string(added.created ? "Stored" : "Already stored; counted once more:") + " memory " + added.id +
             (m.approved ? "." : " as a suggestion waiting for the user's approval.");
    return r;
  };
  registry.add({"archival_memory_insert", "Store a long-term memory",
                "Store a fact, event or detail in archival memory (long-term, searchable, not always in context). "
                "Write it as a standalone sentence.",
                object_schema({{"content", str("The memory, as a standalone sentence.")},
                               {"tags", strings("Optional topic tags.")}},
                              {"content"}),
                false, false, ToolAudience::kAll,
                [insert](const json& args, const ToolContext& ctx) { return insert(args, ctx, "archival_memory_insert"); }});
  registry.add({"archival_memory_search", "Search long-term memory",
                "Search archival memory (notes, facts, journals, documents: everything but the chat itself) by "
                "meaning and words, optionally by tags and a time range.",
                object_schema({{"query", str("What to look for.")},
                               {"tags", strings("Only memories with any of these tags.")},
                               {"top_k", integer("How many results (default 5).")},
                               {"start_datetime", str("Only memories from this date/time on (ISO 8601).")},
                               {"end_datetime", str("Only memories up to this date/time (ISO 8601).")}},
                              {"query"}),
                true, false, ToolAudience::kAll, [&searcher, options](const json& args, const ToolContext& ctx) {
                  SearchOptions o;
                  o.filter.user_id = ctx.user_id;
                  o.filter.tags = optional_strings(args, "tags");
                  o.filter.since = time_arg(args, "start_datetime");
                  o.filter.until = end_arg(args, "end_datetime");
                  const int k = bounded(optional_integer(args, "top_k"), 5, options.max_results);
                  o.limit = k * 3 + 10;  // chat turns are dropped below
                  auto found = search(searcher, required_string(args, "query"), o);
                  found.erase(std::remove_if(found.begin(), found.end(),
                                             [](const Memory& m) { return m.type == memory_types::kChat; }),
                              found.end());
                  if (static_cast<int>(found.size()) > k) found.resize(static_cast<size_t>(k));
                  return list_result(found, "No archival memories match.");
                }});

  // ----------------------------------------------------------------- recall
  registry.add({"conversation_search", "Search the conversation history",
                "Search earlier messages between you and the user (recall memory) by text, role and date range. "
                "With an empty query, lists the latest messages in the range.",
                object_schema({{"query", str("Words to look for (empty: any message).")},
                               {"roles", strings("Only these roles: 'user', 'assistant'.")},
                               {"limit", integer("How many messages (default 10).")},
                               {"start_date", str("From this date (ISO 8601, e.g. 2024-05-01).")},
                               {"end_date", str("Up to and including this date.")}},
                              {}),
                true, false, ToolAudience::kAll, [&store, options](const json& args, const ToolContext& ctx) {
                  MemoryFilter f;
                  f.user_id = ctx.user_id;
                  f.types = {std::string(memory_types::kChat)};
                  f.since = time_arg(args, "start_date");
                  f.until = end_arg(args, "end_date");
                  const auto roles = optional_strings(args, "roles");
                  for (const auto& role : roles)
                    if (role != "user" && role != "assistant")
                      throw invalid_input("role '" + role + "' is not 'user' or 'assistant'");
                  const int limit = bounded(optional_integer(args, "limit"), 10, options.max_results);
                  const std::string query = optional_string(args, "query").value_or("");
                  std::vector<std::string> terms;
                  for (auto& w : word_tokens(query))
                    if (!is_stopword(w)) terms.push_back(w);
                  if (terms.empty()) terms = word_tokens(query);
                  std::vector<Memory> candidates;
                  if (terms.empty()) {
                    candidates = store.list(f, ListOrder::kNewestFirst, roles.empty() ? limit : limit * 4, 0);
                  } else {
                    std::vector<std::string> ids;
                    for (const auto& hit : store.search_text(terms, f, limit * 4)) ids.push_back(hit.id);
                    candidates = store.get_many(ctx.user_id, ids);
                  }
                  std::vector<Memory> found;
                  for (auto& m : candidates) {
                    const std::string role = m.metadata.value("role", "user");
                    if (!roles.empty() && std::find(roles.begin(), roles.end(), role) == roles.end()) continue;
                    if (static_cast<int>(found.size()) < limit) found.push_back(std::move(m));
                  }
                  return list_result(found, "No messages match.");
                }});

  // --------------------------------------------------------------- MCP only
  registry.add({"add_memory", "Add a memory",
                "Store a memory for the user (a note, fact, preference or event) in Kioku.",
                object_schema({{"content", str("The memory text.")},
                               {"type", str("Kind of memory: note, fact, ... (default fact).")},
                               {"tags", strings("Topic tags.")},
                               {"importance", {{"type", "number"}, {"description", "0 to 1 (default 0.5)."}}},
                               {"event_time", str("When it happened (ISO 8601); default now.")}},
                              {"content"}),
                false, false, ToolAudience::kMcpOnly,
                [insert](const json& args, const ToolContext& ctx) { return insert(args, ctx, "add_memory"); }});
  registry.add({"search_memory", "Search memories",
                "Hybrid search (full text and meaning) over all of the user's memories, chat included.",
                object_schema({{"query", str("What to look for.")},
                               {"limit", integer("How many results (default 10).")},
                               {"type", str("Only this memory type (note, fact, chat, journal, ...).")},
                               {"tags", strings("Only memories with any of these tags.")},
                               {"since", str("From this date/time (ISO 8601).")},
                               {"until", str("Up to this date/time (ISO 8601).")}},
                              {"query"}),
                true, false, ToolAudience::kMcpOnly, [&searcher, options](const json& args, const ToolContext& ctx) {
                  SearchOptions o;
                  o.filter.user_id = ctx.user_id;
                  if (auto type = optional_string(args, "type"); type && !type->empty()) o.filter.types = {*type};
                  o.filter.tags = optional_strings(args, "tags");
                  o.filter.since = time_arg(args, "since");
                  o.filter.until = end_arg(args, "until");
                  o.limit = bounded(optional_integer(args, "limit"), 10, options.max_results);
                  return list_result(search(searcher, required_string(args, "query"), o), "No memories match.");
                }});
  registry.add({"get_memory", "Get a memory", "One memory by its id, with all its fields.",
                object_schema({{"id", str("The memory id.")}}, {"id"}), true, false, ToolAudience::kMcpOnly,
                [&store](const json& args, const ToolContext& ctx) {
                  const std::string id = required_string(args, "id");
                  auto m = store.get(ctx.user_id, id);
                  if (!m) throw not_found("no memory with id " + id);
                  ToolResult r;
                  r.data = to_json(*m);
                  r.text = r.data.dump();
                  return r;
                }});
  registry.add({"update_memory", "Update a memory", "Change a memory's content, tags, importance or type.",
                object_schema({{"id", str("The memory id.")},
                               {"content", str("New content.")},
                               {"tags", strings("New tags (replace the old ones).")},
                               {"importance", {{"type", "number"}, {"description", "0 to 1."}}},
                               {"type", str("New type.")}},
                              {"id"}),
                false, false, ToolAudience::kMcpOnly, [&store](const json& args, const ToolContext& ctx) {
                  const std::string id = required_string(args, "id");
                  auto m = store.get(ctx.user_id, id);
                  if (!m) throw not_found("no memory with id " + id);
                  if (auto c = optional_string(args, "content")) {
                    if (c->find_first_not_of(" \t\r\n") == std::string::npos) throw invalid_input("'content' is empty");
                    m->content = *c;
                  }
                  if (args.contains("tags")) m->tags = optional_strings(args, "tags");
                  if (args.contains("importance") && args["importance"].is_number())
                    m->importance = std::clamp(args["importance"].get<double>(), 0.0, 1.0);
                  if (auto t = optional_string(args, "type"); t && !t->empty()) m->type = *t;
                  store.update(*m);
                  ToolResult r;
                  r.data = tool_memory_json(*store.get(ctx.user_id, id));
                  r.text = "Updated memory " + id + ": " + r.data.dump();
                  return r;
                }});
  registry.add({"delete_memory", "Delete a memory", "Delete one memory by id (cannot be undone).",
                object_schema({{"id", str("The memory id.")}}, {"id"}), false, true, ToolAudience::kMcpOnly,
                [&store, &searcher](const json& args, const ToolContext& ctx) {
                  const std::string id = required_string(args, "id");
                  if (!store.remove(ctx.user_id, id)) throw not_found("no memory with id " + id);
                  searcher.forget(ctx.user_id, id);
                  ToolResult r;
                  r.data = {{"id", id}, {"deleted", true}};
                  r.text = "Deleted memory " + id + ".";
                  return r;
                }});
  registry.add({"list_journals", "List journals", "The user's compiled journal articles, newest first.",
                object_schema({{"limit", integer("How many (default 10).")}}, {}), true, false, ToolAudience::kMcpOnly,
                [&store, options](const json& args, const ToolContext& ctx) {
                  const int limit = bounded(optional_integer(args, "limit"), 10, options.max_results);
                  json items = json::array();
                  for (const auto& j : store.list_journals(ctx.user_id, limit))
                    items.push_back({{"id", j.id},
                                     {"title", j.title},
                                     {"created_at", format_iso8601(j.created_at)},
                                     {"tags", j.tags},
                                     {"body", j.body}});
                  ToolResult r;
                  r.data = {{"journals", items}, {"count", items.size()}};
                  r.text = items.empty() ? "No journals yet." : items.dump();
                  return r;
                }});
}

}  // namespace kioku
