// import, backup, restore, eval locomo.
#include <unistd.h>

#include <chrono>
#include <memory>
#include <ostream>

#include "cli/commands.h"
#include "core/error.h"
#include "eval/locomo.h"
#include "eval/vector_cache.h"
#include "ingest/importer.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store_copy.h"

namespace kioku::cli {

namespace {

std::vector<int> parse_ks(const std::string& text) {
  std::vector<int> ks;
  for (const auto& part : split_tags(text)) {
    try {
      size_t used = 0;
      int k = std::stoi(part, &used);
      if (used != part.size() || k <= 0) throw std::invalid_argument(part);
      ks.push_back(k);
    } catch (const std::exception&) {
      throw invalid_input("--k expects positive numbers separated by commas, got '" + text + "'");
    }
  }
  if (ks.empty()) throw invalid_input("--k expects positive numbers separated by commas");
  return ks;
}

}  // namespace

void register_admin_commands(CLI::App& app, CommandTable& table) {
  {
    auto* cmd = app.add_subcommand("import", "Import files: .txt .md .json .csv .pdf .xlsx");
    auto files = std::make_shared<std::vector<std::string>>();
    auto tags = std::make_shared<std::string>();
    cmd->add_option("files", *files, "Files to import")->required();
    cmd->add_option("--tags", *tags, "Tags for every imported memory (comma-separated)");
    table[cmd] = [files, tags](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      ImportOptions options;
      options.user_id = ctx.user_id();
      options.tags = split_tags(*tags);
      // Parse every file before storing anything, then store them all in one
      // transaction: a malformed file in the list stops the import with
      // nothing stored, and a crash stores all or none.
      std::vector<ParsedImport> parsed;
      for (const auto& f : *files) parsed.push_back({f, import_file(f, options)});
      const nlohmann::json report = store_imports(ctx, std::move(parsed));
      for (const auto& file : report) {
        for (const auto& w : file["warnings"]) io.err << "kioku: " << file["file"].get<std::string>() << ": " << w.get<std::string>() << "\n";
        if (!io.json) {
          const int added = file["added"], known = file["duplicates"];
          io.out << "Imported " << file["file"].get<std::string>() << " (" << file["format"].get<std::string>()
                 << "): " << added << " new memories";
          if (known > 0) io.out << ", " << known << " already known";
          io.out << "\n";
        }
      }
      if (io.json) io.out << report.dump(2) << "\n";
      return 0;
    };
  }
  {
    auto* cmd = app.add_subcommand("backup", "Consistent copy of the databases (safe while kioku runs)");
    auto path = std::make_shared<std::string>();
    cmd->add_option("path", *path, "Backup folder (default: <data>/backups/<time>)");
    table[cmd] = [path](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      const std::filesystem::path folder =
          path->empty() ? ctx.data_dir() / "backups" / format_for_path(system_time().now()) : std::filesystem::path(*path);
      backup_sqlite_data(ctx.memories(), ctx.drafts(), folder);
      if (io.json) io.out << nlohmann::json{{"backup", folder.string()}}.dump() << "\n";
      else io.out << "Backed up to " << folder.string() << "\nRestore with: kioku restore " << folder.string() << " --yes\n";
      return 0;
    };
  }
  {
    auto* cmd = app.add_subcommand("restore", "Replace the databases with a backup (stop other kioku processes first)");
    auto path = std::make_shared<std::string>();
    auto yes = std::make_shared<bool>(false);
    cmd->add_option("path", *path, "Backup folder made by `kioku backup`")->required();
    cmd->add_flag("--yes,-y", *yes, "Confirm replacing the current data");
    table[cmd] = [path, yes](AppContext& ctx, CommandIo& io) {
      if (!*yes) throw invalid_input("restoring replaces every current memory; confirm with --yes");
      restore_sqlite_data(*path, ctx.data_dir());
      if (io.json) io.out << nlohmann::json{{"restored", *path}}.dump() << "\n";
      else io.out << "Restored " << *path << " into " << ctx.data_dir().string() << "\n";
      return 0;
    };
  }
  {
    auto* cmd = app.add_subcommand(
        "migrate", "Copy everything into another store: a postgresql:// URL, or a folder for SQLite files");
    auto to = std::make_shared<std::string>();
    auto user = std::make_shared<std::string>();
    cmd->add_option("--to", *to, "postgresql://... or a folder (memory.db, journal.db)")->required();
    cmd->add_option("--user", *user, "Copy only this user's data (default: every user)");
    table[cmd] = [to, user](AppContext& ctx, CommandIo& io) {
      const std::string url = ctx.store_url();
      const StoreLocation from = url.empty() ? StoreLocation{ctx.data_dir(), ""} : StoreLocation{{}, url};
      const StoreLocation dest = StoreLocation::parse(*to);
      const CopyReport report = copy_store(from, dest, *user);
      if (io.json) {
        nlohmann::json tables = nlohmann::json::object();
        for (const auto& [name, t] : report.tables)
          tables[name] = {{"rows", t.source_rows}, {"copied", t.copied}, {"sha256", t.checksum}};
        io.out << nlohmann::json{{"from", from.describe()}, {"to", dest.describe()}, {"verified", report.verified},
                                 {"tables", tables}}
                      .dump(2)
               << "\n";
      } else {
        int64_t rows = 0, copied = 0;
        for (const auto& [name, t] : report.tables) {
          rows += t.source_rows;
          copied += t.copied;
        }
        io.out << "Copied " << copied << " new rows (" << rows << " in all, " << report.tables.size()
               << " tables) from " << from.describe() << " to " << dest.describe()
               << "; counts and checksums verified\n";
      }
      return 0;
    };
  }
  {
    auto* eval = app.add_subcommand("eval", "Retrieval evaluations");
    eval->require_subcommand(1);
    eval->fallthrough();
    auto* cmd = eval->add_subcommand("locomo", "Recall@k, NDCG@k and query latency on a LoCoMo file");
    auto file = std::make_shared<std::string>();
    auto ks = std::make_shared<std::string>("5,10");
    auto mode = std::make_shared<std::string>("auto");
    auto fusion = std::make_shared<std::string>();
    auto cache = std::make_shared<std::string>();
    auto no_cache = std::make_shared<bool>(false);
    auto search = std::make_shared<SearchOptions>();
    auto conversations = std::make_shared<int>(0);
    auto context_key = std::make_shared<std::string>();
    auto int8_vectors = std::make_shared<bool>(false);
    cmd->add_option("file", *file, "locomo JSON file")->required();
    cmd->add_option("--k", *ks, "Cut-offs, comma-separated (default 5,10)");
    cmd->add_option("--mode", *mode, "lexical, vector, hybrid, or auto: hybrid with the active model, else lexical");
    cmd->add_option("--fusion", *fusion, "rrf, scores or convex (default: the search default)");
    cmd->add_option("--rrf-k", search->rrf_k, "RRF constant");
    cmd->add_option("--lexical-weight", search->lexical_weight, "RRF weight of the lexical list");
    cmd->add_option("--vector-weight", search->vector_weight, "RRF weight of the vector list");
    cmd->add_option("--vector-share", search->vector_share, "scores/convex: the vectors' share");
    cmd->add_option("--neighbour-weight", search->neighbour_weight, "Share of a neighbouring turn's score lent");
    cmd->add_option("--time-boost", search->time_boost, "Boost of memories inside a period the question names");
    cmd->add_option("--dedup", search->duplicate_similarity, "Drop hits this similar (word Jaccard) to a better one");
    cmd->add_option("--candidates", search->candidates, "Candidates per list before fusion");
    cmd->add_option("--speaker-boost", search->speaker_boost, "Boost of turns said by a speaker the question names");
    cmd->add_option("--drop-speaker-terms", search->drop_speaker_terms, "true: named speakers leave the full-text query");
    cmd->add_option("--coverage", search->coverage_weight, "Boost by the share of the question's words a turn holds");
    cmd->add_option("--session-weight", search->session_weight, "Share of its session's best score a turn gains");
    cmd->add_option("--session-diversity", search->session_diversity, "Factor for each further hit of one session (1 = off)");
    cmd->add_option("--context-key", *context_key, "on or off: embed chat turns with their neighbours (default: the search default)");
    cmd->add_option("--conversations", *conversations, "Only the first N conversations")->check(CLI::NonNegativeNumber);
    cmd->add_option("--vector-cache", *cache,
                    "Folder that keeps the vectors between runs (default: $XDG_CACHE_HOME/kioku/eval-vectors)");
    cmd->add_flag("--no-vector-cache", *no_cache, "Embed everything afresh");
    cmd->add_flag("--int8-vectors", *int8_vectors, "Search int8 vectors rescored with floats ([search] int8_vectors)");
    auto per_question = std::make_shared<bool>(false);
    cmd->add_flag("--per-question", *per_question, "With --json: every question's evidence ranks and top 10");
    table[cmd] = [file, ks, mode, fusion, cache, no_cache, search, conversations, context_key, int8_vectors,
                  per_question](AppContext& ctx, CommandIo& io) {
      LocomoOptions options;
      options.ks = parse_ks(*ks);
      options.search = *search;
      if (!fusion->empty()) options.search.fusion = parse_fusion_method(*fusion);
      options.max_conversations = *conversations;
      options.per_question = *per_question;
      if (*context_key == "on") options.searcher.chat_context_in_key = true;
      else if (*context_key == "off") options.searcher.chat_context_in_key = false;
      else if (!context_key->empty()) throw invalid_input("--context-key expects on or off");
      options.searcher.int8_vectors = *int8_vectors;
      if (*mode == "auto") options.mode = ctx.embedder() ? SearchMode::kHybrid : SearchMode::kLexical;
      else options.mode = parse_search_mode(*mode);
      std::unique_ptr<CachedEmbedder> cached;
      if (options.mode != SearchMode::kLexical) {
        options.embedder = ctx.embedder();
        if (!options.embedder)
          throw invalid_input("--mode " + *mode + " needs an embedder: " +
                              (ctx.embedder_notice().empty() ? "set [embed] provider" : ctx.embedder_notice()));
        if (!*no_cache) {
          std::filesystem::path dir = *cache;
          if (dir.empty()) {
            const auto xdg = ctx.config().env()("XDG_CACHE_HOME");
            const auto home = ctx.config().env()("HOME");
            dir = xdg && !xdg->empty() ? std::filesystem::path(*xdg) / "kioku" / "eval-vectors"
                  : home && !home->empty() ? std::filesystem::path(*home) / ".cache" / "kioku" / "eval-vectors"
                                         : ctx.data_dir() / "cache" / "eval-vectors";
          }
          cached = std::make_unique<CachedEmbedder>(*options.embedder, dir);
          options.embedder = cached.get();
        }
      }
      options.work_dir = std::filesystem::temp_directory_path() /
                         ("kioku-eval-" + std::to_string(::getpid()));
      LocomoReport report = evaluate_locomo(*file, options);
      std::filesystem::remove_all(options.work_dir);
      if (io.json) {
        auto j = report.to_json();
        j["mode"] = to_string(options.mode);
        j["model"] = options.embedder ? options.embedder->model_id() : "";
        j["fusion"] = to_string(options.search.fusion);
        j["settings"] = {{"rrf_k", options.search.rrf_k},
                         {"lexical_weight", options.search.lexical_weight},
                         {"vector_weight", options.search.vector_weight},
                         {"vector_share", options.search.vector_share},
                         {"neighbour_weight", options.search.neighbour_weight},
                         {"time_boost", options.search.time_boost},
                         {"dedup", options.search.duplicate_similarity},
                         {"candidates", options.search.candidates},
                         {"speaker_boost", options.search.speaker_boost},
                         {"drop_speaker_terms", options.search.drop_speaker_terms},
                         {"coverage", options.search.coverage_weight},
                         {"session_weight", options.search.session_weight},
                         {"session_diversity", options.search.session_diversity},
                         {"context_key", options.searcher.chat_context_in_key},
                         {"int8_vectors", options.searcher.int8_vectors}};
        if (cached) j["vector_cache"] = {{"file", cached->file().string()}, {"hits", cached->hits()}, {"misses", cached->misses()}};
        io.out << j.dump(2) << "\n";
      } else {
        io.out << "LoCoMo: " << report.questions << " questions over " << report.conversations << " conversations ("
               << report.turns << " turns), mode " << to_string(options.mode)
               << (options.embedder ? " with " + options.embedder->model_id() : std::string()) << "\n";
        for (const auto& [k, r] : report.recall) io.out << "  recall@" << k << " = " << r << "\n";
        for (const auto& [k, r] : report.ndcg) io.out << "  ndcg@" << k << " = " << r << "\n";
        static const char* names[] = {"", "multi-hop", "temporal", "open-domain", "single-hop"};
        for (const auto& [cat, per_k] : report.by_category) {
          io.out << "  " << (cat >= 1 && cat <= 4 ? names[cat] : "other") << " (" << report.questions_by_category.at(cat)
                 << "):";
          for (const auto& [k, r] : per_k) io.out << " recall@" << k << " " << r;
          io.out << "\n";
        }
        io.out << "  query p50 = " << report.query_p50_ms << " ms, p95 = " << report.query_p95_ms << " ms\n";
      }
      return 0;
    };
  }
}

}  // namespace kioku::cli
