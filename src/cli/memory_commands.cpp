// init, add, get, edit, delete, list, search, status.
#include <memory>
#include <ostream>

#include "cli/commands.h"
#include "cli/format.h"
#include "core/error.h"
#include "lifecycle/graph_builder.h"
#include "search/searcher.h"

namespace kioku::cli {

namespace {

struct FilterFlags {
  std::vector<std::string> types;
  std::string tags;
  std::string tier;
  std::string since;
  std::string until;

  void add_to(CLI::App* cmd) {
    cmd->add_option("--type", types, "Only these memory types (repeatable)");
    cmd->add_option("--tags", tags, "Only memories with any of these tags (comma-separated)");
    cmd->add_option("--tier", tier, "Only this tier: short_term, long_term or persistent");
    cmd->add_option("--since", since, "Only memories that happened at or after this ISO-8601 time");
    cmd->add_option("--until", until, "Only memories that happened before this ISO-8601 time");
  }

  MemoryFilter to_filter(const std::string& user_id) const {
    MemoryFilter f;
    f.user_id = user_id;
    f.types = types;
    f.tags = split_tags(tags);
    if (!tier.empty()) f.tier = parse_tier(tier);
    if (!since.empty()) f.since = parse_iso8601_or_throw(since, "--since");
    if (!until.empty()) f.until = parse_iso8601_or_throw(until, "--until");
    return f;
  }
};

struct RecordFlags {
  std::string type;
  std::string tags;
  std::string at;
  double importance = -1;
  std::string tier;
  std::string truth;
  std::string memory_type;
  std::string summary;

  void add_to(CLI::App* cmd) {
    cmd->add_option("--type", type, "Memory type: note, fact, chat, journal, image, document, ...");
    cmd->add_option("--tags", tags, "Comma-separated tags");
    cmd->add_option("--at", at, "When it happened (ISO-8601, default: now)");
    cmd->add_option("--importance", importance, "Importance from 0 to 1")->check(unit_interval());
    cmd->add_option("--tier", tier, "short_term, long_term or persistent");
    cmd->add_option("--truth", truth, "absolute, contextual, opinion or inferred");
    cmd->add_option("--memory-type", memory_type, "fact, belief, preference, skill, event or context");
    cmd->add_option("--summary", summary, "A short summary");
  }

  void apply(Memory& m) const {
    if (!type.empty()) m.type = type;
    if (!tags.empty()) m.tags = split_tags(tags);
    if (!at.empty()) m.event_time = parse_iso8601_or_throw(at, "--at");
    if (importance >= 0) m.importance = importance;
    if (!tier.empty()) m.tier = parse_tier(tier);
    if (!truth.empty()) m.truth_category = parse_truth_category(truth);
    if (!memory_type.empty()) m.memory_kind = parse_memory_kind(memory_type);
    if (!summary.empty()) m.summary = summary;
  }
};

Memory require_memory(AppContext& ctx, const std::string& id) {
  auto m = ctx.memories().get(ctx.user_id(), id);
  if (!m) throw not_found("no memory with id " + id);
  return *m;
}

}  // namespace

void register_memory_commands(CLI::App& app, CommandTable& table) {
  {
    auto* cmd = app.add_subcommand("init", "Create the data directory, databases and config.toml");
    table[cmd] = [](AppContext& ctx, CommandIo& io) {
      const bool created = ctx.ensure_initialized();
      if (io.json) {
        io.out << nlohmann::json{{"data_dir", ctx.data_dir().string()}, {"created", created}}.dump() << "\n";
      } else {
        io.out << (created ? "Initialised " : "Already initialised: ") << ctx.data_dir().string() << "\n";
      }
      return 0;
    };
  }
  {
    auto* cmd = app.add_subcommand("add", "Add a memory");
    auto text = std::make_shared<std::string>();
    auto flags = std::make_shared<RecordFlags>();
    cmd->add_option("text", *text, "The memory's content")->required();
    flags->add_to(cmd);
    table[cmd] = [text, flags](AppContext& ctx, CommandIo& io) {
      if (text->find_first_not_of(" \t\r\n") == std::string::npos) throw invalid_input("the memory text is empty");
      Memory m;
      m.user_id = ctx.user_id();
      m.content = *text;
      m.source = Source::kManual;
      m.provenance.kind = "manual";
      flags->apply(m);
      ctx.ensure_initialized();
      const AddOutcome outcome = add_memory(ctx, std::move(m), flags->importance < 0);
      if (io.json) {
        io.out << nlohmann::json{{"id", outcome.id}, {"created", outcome.created}}.dump() << "\n";
      } else if (outcome.created) {
        io.out << "Added " << outcome.id << "\n";
      } else {
        io.out << "Already remembered as " << outcome.id << " (counted as a corroboration)\n";
      }
      return 0;
    };
  }
  {
    auto* cmd = app.add_subcommand("get", "Show one memory");
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "Memory id")->required();
    table[cmd] = [id](AppContext& ctx, CommandIo& io) {
      Memory m = require_memory(ctx, *id);
      ctx.profile().note_opened(ctx.user_id(), m);  // opening a memory says it matters
      if (io.json) {
        nlohmann::json j = to_json(m);
        j["lifecycle"] = lifecycle_json(ctx, m);
        io.out << j.dump(2) << "\n";
        return 0;
      }
      print_memory_detail(io.out, m);
      return 0;
    };
  }
  {
    auto* cmd = app.add_subcommand("edit", "Change a memory's content or fields");
    auto id = std::make_shared<std::string>();
    auto content = std::make_shared<std::string>();
    auto add_tags = std::make_shared<std::string>();
    auto approve = std::make_shared<bool>(false);
    auto relate = std::make_shared<std::vector<std::string>>();
    auto flags = std::make_shared<RecordFlags>();
    cmd->add_option("id", *id, "Memory id")->required();
    cmd->add_option("--relate", *relate, "Link to another memory: ID[:related|supports|contradicts|supersedes] (repeatable)");
    cmd->add_option("--content", *content, "New content");
    cmd->add_option("--add-tags", *add_tags, "Tags to add (comma-separated)");
    cmd->add_flag("--approve", *approve, "Mark a pending suggestion as approved");
    flags->add_to(cmd);
    table[cmd] = [id, content, add_tags, approve, relate, flags](AppContext& ctx, CommandIo& io) {
      Memory m = require_memory(ctx, *id);
      for (const auto& spec : *relate) {
        const auto colon = spec.find(':');
        Relation r;
        r.target_id = spec.substr(0, colon);
        r.kind = colon == std::string::npos ? RelationKind::kRelated : parse_relation_kind(spec.substr(colon + 1));
        require_memory(ctx, r.target_id);
        if (r.target_id == m.id) throw invalid_input("a memory cannot be related to itself");
        m.relations.push_back(r);
      }
      if (!content->empty()) m.content = *content;
      flags->apply(m);
      for (const auto& t : split_tags(*add_tags))
        if (std::find(m.tags.begin(), m.tags.end(), t) == m.tags.end()) m.tags.push_back(t);
      if (*approve) m.approved = true;
      ctx.memories().update(m);
      Memory updated = require_memory(ctx, *id);
      if (io.json) io.out << to_json(updated).dump(2) << "\n";
      else io.out << "Updated " << updated.id << "\n";
      return 0;
    };
  }
  {
    auto* cmd = app.add_subcommand("delete", "Delete a memory");
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "Memory id")->required();
    table[cmd] = [id](AppContext& ctx, CommandIo& io) {
      if (!ctx.memories().remove(ctx.user_id(), *id)) throw not_found("no memory with id " + *id);
      ctx.searcher().forget(ctx.user_id(), *id);
      if (io.json) io.out << nlohmann::json{{"id", *id}, {"deleted", true}}.dump() << "\n";
      else io.out << "Deleted " << *id << "\n";
      return 0;
    };
  }
  {
    auto* cmd = app.add_subcommand("list", "List memories, newest first");
    auto filter = std::make_shared<FilterFlags>();
    auto limit = std::make_shared<int>(20);
    auto offset = std::make_shared<int>(0);
    filter->add_to(cmd);
    cmd->add_option("--limit", *limit, "How many")->check(CLI::Range(1, 100000));
    cmd->add_option("--offset", *offset, "Skip this many")->check(CLI::NonNegativeNumber);
    table[cmd] = [filter, limit, offset](AppContext& ctx, CommandIo& io) {
      auto f = filter->to_filter(ctx.user_id());
      auto memories = ctx.memories().list(f, ListOrder::kNewestFirst, *limit, *offset);
      if (io.json) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& m : memories) a.push_back(to_json(m));
        io.out << a.dump(2) << "\n";
      } else {
        for (const auto& m : memories) io.out << memory_line(m) << "\n";
        if (memories.empty()) io.out << "No memories.\n";
      }
      return 0;
    };
  }
  {
    auto* cmd = app.add_subcommand("search", "Search memories (full text + vectors)");
    auto query = std::make_shared<std::string>();
    auto filter = std::make_shared<FilterFlags>();
    auto limit = std::make_shared<int>(0);
    auto mode = std::make_shared<std::string>();
    cmd->add_option("query", *query, "What to look for")->required();
    filter->add_to(cmd);
    cmd->add_option("--limit", *limit, "How many results (default 10)")->check(CLI::Range(1, 1000));
    cmd->add_option("--mode", *mode, "lexical, vector or hybrid (default: [search] mode, else hybrid)");
    table[cmd] = [query, filter, limit, mode](AppContext& ctx, CommandIo& io) {
      SearchOptions options;
      options.filter = filter->to_filter(ctx.user_id());
      options.limit = *limit > 0 ? *limit : static_cast<int>(ctx.config().get_number("search.limit").value_or(10));
      options.mode = parse_search_mode(!mode->empty() ? *mode : ctx.config().get_string_or("search.mode", "hybrid"));
      // "Hana-chan" also finds what says "Hana Tanaka" (the knowledge graph's aliases).
      options.expansion_terms = alias_expansion(ctx.knowledge(), ctx.user_id(), *query);
      Searcher& searcher = ctx.searcher();
      if (options.mode != SearchMode::kLexical && !searcher.embedder()) {
        if (!ctx.embedder_notice().empty()) {
          io.err << "kioku: " << ctx.embedder_notice() << "\n";
        } else if (options.mode == SearchMode::kVector || !mode->empty()) {
          io.err << "kioku: no embedder is configured ([embed] provider); searching full text only\n";
        }
        options.mode = SearchMode::kLexical;
      }
      std::vector<SearchResult> results;
      try {
        // Search uses what is embedded so far and never embeds the backlog
        // itself (`kioku index` or the server's background round does): it
        // says how much is not searchable by meaning yet.
        if (options.mode != SearchMode::kLexical) {
          const int64_t pending = ctx.memories().count_missing_embeddings(searcher.embedder()->model_id());
          if (pending > 0)
            io.err << "kioku: " << pending << " memor" << (pending == 1 ? "y is" : "ies are")
                   << " not embedded yet (run `kioku index`); they are found by full text only\n";
        }
        results = searcher.search(*query, options);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kUnavailable || options.mode == SearchMode::kLexical) throw;
        // The embedder is down: full text still works.
        io.err << "kioku: embedder unavailable (" << e.what() << "); searching full text only\n";
        options.mode = SearchMode::kLexical;
        results = searcher.search(*query, options);
      }
      {
        std::vector<Memory> found;
        for (const auto& r : results) found.push_back(r.memory);
        ctx.profile().note_search(ctx.user_id(), *query, found);
      }
      if (io.json) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& r : results) {
          a.push_back({{"id", r.memory.id},
                       {"content", r.memory.content},
                       {"score", r.score},
                       {"type", r.memory.type},
                       {"tags", r.memory.tags},
                       {"event_time", format_iso8601(r.memory.event_time)},
                       {"lexical_rank", r.lexical_rank},
                       {"vector_rank", r.vector_rank}});
        }
        io.out << a.dump(2) << "\n";
      } else {
        for (const auto& r : results) io.out << memory_line(r.memory) << "\n";
        if (results.empty()) io.out << "Nothing found.\n";
      }
      return 0;
    };
  }
  {
    auto* cmd = app.add_subcommand("status", "Counts, journal session, data directory");
    table[cmd] = [](AppContext& ctx, CommandIo& io) {
      // The same document as GET /api/status (app/engine.h).
      const nlohmann::json s = status_document(ctx);
      if (io.json) {
        io.out << s.dump(2) << "\n";
        return 0;
      }
      io.out << "Data:      " << ctx.data_dir().string() << " (user " << ctx.user_id() << ")\n"
             << "Memories:  " << s["memories"].get<int64_t>();
      std::string sep = " (";
      for (const auto& [type, n] : s["by_type"].items()) {
        io.out << sep << type << " " << n.get<int64_t>();
        sep = ", ";
      }
      io.out << (s["by_type"].empty() ? "" : ")") << "\n";
      io.out << "Tiers:    ";
      for (const auto& [tier, n] : s["by_tier"].items()) io.out << " " << tier << " " << n.get<int64_t>();
      const auto& q = s["queues"];
      const std::string model = s["embedder"]["model"];
      const std::string notice = s["embedder"]["notice"];
      io.out << "\nJournals:  " << s["journals"].get<int64_t>() << "\n"
             << "Vectors:   " << s["embeddings"].get<int64_t>()
             << (!model.empty() ? " (" + model + ", " + std::to_string(q["embeddings_pending"].get<int64_t>()) + " waiting)"
                                : " (" + (notice.empty() ? std::string("no embedder") : notice) + ")")
             << "\n"
             << "Jobs:      " << q["jobs_open"].get<int64_t>() << " open, "
             << s["jobs"]["by_state"]["failed"].get<int64_t>() << " failed (kioku jobs list)\n"
             << "Database:  " << s["database_bytes"].get<int64_t>() / 1024 << " KiB\n"
             << "Mode:      ";
      const auto& session = s["journal_session"];
      if (session.is_null())
        io.out << "normal\n";
      else
        io.out << "journal (session " << session["id"].get<std::string>() << ", " << session["entries"].get<int64_t>()
               << " entries since " << session["started_at"].get<std::string>() << ")\n";
      const auto& provider = s["provider"];
      if (provider["configured"].get<bool>())
        io.out << "Provider:  " << provider["provider"].get<std::string>() << " "
               << provider.value("model", std::string()) << " ("
               << (provider["reachable"] == true ? "reachable" : "unreachable") << ")\n";
      return 0;
    };
  }
}

}  // namespace kioku::cli
