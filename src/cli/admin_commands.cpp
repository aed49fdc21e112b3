// import, backup, restore, eval locomo.
#include <unistd.h>

#include <chrono>
#include <memory>
#include <ostream>

#include "cli/commands.h"
#include "core/error.h"
#include "eval/locomo.h"
#include "ingest/importer.h"
#include "store/sqlite/sqlite_store.h"

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
      // Parse every file before storing anything, then store all of them in
      // one transaction: the command is atomic, a malformed file or a crash
      // leaves nothing stored half-way.
      std::vector<std::pair<std::string, ImportResult>> parsed;
      for (const auto& f : *files) parsed.emplace_back(f, import_file(f, options));
      std::vector<Memory> all;
      std::vector<size_t> counts;
      for (auto& [file, result] : parsed) {
        counts.push_back(result.memories.size());
        for (auto& m : result.memories) all.push_back(std::move(m));
      }
      const auto outcomes = ctx.memories().add_batch(std::move(all));
      nlohmann::json report = nlohmann::json::array();
      size_t next = 0;
      for (size_t i = 0; i < parsed.size(); ++i) {
        auto& [file, result] = parsed[i];
        const size_t chunks = counts[i];
        size_t created = 0;
        for (size_t k = 0; k < chunks && next < outcomes.size(); ++k, ++next) created += outcomes[next].created ? 1 : 0;
        for (const auto& w : result.warnings) io.err << "kioku: " << file << ": " << w << "\n";
        report.push_back({{"file", file}, {"format", result.format}, {"memories", chunks}, {"created", created},
                          {"duplicates", chunks - created}, {"warnings", result.warnings}});
        if (!io.json) {
          io.out << "Imported " << file << " (" << result.format << "): " << created << " new memories";
          if (chunks > created) io.out << ", " << chunks - created << " already known";
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
    auto* eval = app.add_subcommand("eval", "Retrieval evaluations");
    eval->require_subcommand(1);
    eval->fallthrough();
    auto* cmd = eval->add_subcommand("locomo", "Recall@k on a LoCoMo file");
    auto file = std::make_shared<std::string>();
    auto ks = std::make_shared<std::string>("5,10");
    auto mode = std::make_shared<std::string>("lexical");
    cmd->add_option("file", *file, "locomo JSON file")->required();
    cmd->add_option("--k", *ks, "Cut-offs, comma-separated (default 5,10)");
    cmd->add_option("--mode", *mode, "lexical, vector or hybrid (default lexical)");
    table[cmd] = [file, ks, mode](AppContext& ctx, CommandIo& io) {
      LocomoOptions options;
      options.ks = parse_ks(*ks);
      options.mode = parse_search_mode(*mode);
      if (options.mode != SearchMode::kLexical) {
        options.embedder = ctx.embedder();
        if (!options.embedder)
          throw invalid_input("--mode " + *mode + " needs an embedder: " +
                              (ctx.embedder_notice().empty() ? "set [embed] provider" : ctx.embedder_notice()));
      }
      options.work_dir = std::filesystem::temp_directory_path() /
                         ("kioku-eval-" + std::to_string(::getpid()));
      LocomoReport report = evaluate_locomo(*file, options);
      std::filesystem::remove_all(options.work_dir);
      if (io.json) {
        io.out << report.to_json().dump(2) << "\n";
      } else {
        io.out << "LoCoMo: " << report.questions << " questions over " << report.conversations << " conversations ("
               << report.turns << " turns), mode " << to_string(options.mode) << "\n";
        for (const auto& [k, r] : report.recall) io.out << "  recall@" << k << " = " << r << "\n";
      }
      return 0;
    };
  }
}

}  // namespace kioku::cli
