#include "cli/cli.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>

#include "app/app_context.h"
#include "cli/commands.h"
#include "core/error.h"

namespace kioku::cli {

std::vector<std::string> split_command_line(const std::string& line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
        cur.push_back(line[++i]);
      } else {
        cur.push_back(c);
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      cur.push_back(line[++i]);
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur.push_back(c);
      in_word = true;
    }
  }
  if (quote) throw invalid_input("unterminated quote in command line");
  if (in_word) words.push_back(std::move(cur));
  return words;
}

namespace {

// Formats a CLI11 parse error as one line.
std::string one_line(std::string msg) {
  std::replace(msg.begin(), msg.end(), '\n', ' ');
  while (!msg.empty() && msg.back() == ' ') msg.pop_back();
  return msg;
}

int run_shell(GlobalOptions& globals, std::ostream& out, std::ostream& err, const EnvLookup& env, std::istream& in);

int run_parsed(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const EnvLookup& env,
               AppContext* shared_context, std::istream* shell_input) {
  CLI::App app{"Kioku: a local-first personal memory engine", "kioku"};
  app.set_help_all_flag("--help-all", "Show help for every command");
  app.require_subcommand(1);
  GlobalOptions globals;
  app.add_option("--data-dir", globals.data_dir, "Data directory (default: $KIOKU_HOME or ~/.local/share/kioku)");
  app.add_option("--user", globals.user, "User id (default: [user] id in config.toml, or 'local')");
  app.add_option("--store", globals.store,
                 "Store URL: postgresql://... (default: [store] url, $KIOKU_STORE_URL, or SQLite in the data directory)");
  app.add_flag("--json", globals.json, "Machine-readable JSON output");
  app.fallthrough();

  CommandTable table;
  register_commands(app, table);
  CLI::App* shell = app.add_subcommand("shell", "Interactive prompt: type commands without 'kioku'");

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    // Subcommand help requested ("kioku add --help") arrives as CallForHelp
    // from the subcommand in some CLI11 versions; success codes are help.
    if (e.get_exit_code() == 0) {
      out << app.help();
      return 0;
    }
    err << "kioku: " << one_line(e.what()) << " (see kioku --help)\n";
    return 2;
  }

  try {
    std::unique_ptr<AppContext> owned;
    AppContext* ctx = shared_context;
    // --store wins over KIOKU_STORE_URL and [store] url (read through the environment).
    const EnvLookup session_env = globals.store.empty() ? env : EnvLookup([env, store = globals.store](const std::string& name) {
      return name == "KIOKU_STORE_URL" ? std::optional<std::string>(store) : env(name);
    });
    if (!ctx) {
      owned = std::make_unique<AppContext>(resolve_data_dir(globals.data_dir, env), globals.user, session_env);
      ctx = owned.get();
    }
    if (shell->parsed()) {
      std::istream& in = shell_input ? *shell_input : std::cin;
      return run_shell(globals, out, err, session_env, in);
    }
    // The deepest parsed subcommand owns the handler ("journal add").
    CLI::App* current = &app;
    while (true) {
      auto subs = current->get_subcommands();
      if (subs.empty()) break;
      current = subs.front();
    }
    auto it = table.find(current);
    if (it == table.end()) {
      err << "kioku: '" << current->get_name() << "' needs a subcommand (see kioku " << current->get_name()
          << " --help)\n";
      return 2;
    }
    CommandIo io{out, err, globals.json};
    return it->second(*ctx, io);
  } catch (const Error& e) {
    if (globals.json) {
      out << nlohmann::json{{"error", e.what()}, {"code", to_string(e.code())}}.dump() << "\n";
    }
    err << "kioku: " << one_line(e.what()) << "\n";
    return exit_code(e.code());
  } catch (const nlohmann::json::exception& e) {
    // A JSON value of the wrong shape is the input's fault, as at the server edge.
    if (globals.json) out << nlohmann::json{{"error", e.what()}, {"code", "invalid_input"}}.dump() << "\n";
    err << "kioku: bad JSON value: " << one_line(e.what()) << "\n";
    return exit_code(ErrorCode::kInvalidInput);
  } catch (const std::exception& e) {
    err << "kioku: internal error: " << one_line(e.what()) << "\n";
    return 70;
  }
}

int run_shell(GlobalOptions& globals, std::ostream& out, std::ostream& err, const EnvLookup& env, std::istream& in) {
  AppContext ctx(resolve_data_dir(globals.data_dir, env), globals.user, env);
  ctx.ensure_initialized();
  const bool interactive = &in == &std::cin;
  if (interactive) {
    out << "Kioku " << ctx.data_dir().string() << " (user " << ctx.user_id() << ")\n"
        << "Type a command (add, search, journal start, ...), 'help', or 'quit'.\n";
  }
  std::string line;
  while (true) {
    if (interactive) out << "kioku> " << std::flush;
    if (!std::getline(in, line)) break;
    std::vector<std::string> words;
    try {
      words = split_command_line(line);
    } catch (const Error& e) {
      err << "kioku: " << e.what() << "\n";
      continue;
    }
    if (words.empty()) continue;
    if (words[0] == "quit" || words[0] == "exit") break;
    if (words[0] == "help") words = {"--help"};
    if (words[0] == "shell") {
      err << "kioku: already in the shell\n";
      continue;
    }
    if (globals.json) words.push_back("--json");
    run_parsed(words, out, err, env, &ctx, nullptr);
  }
  return 0;
}

}  // namespace

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const EnvLookup& env) {
  return run_parsed(args, out, err, env, nullptr, nullptr);
}

}  // namespace kioku::cli
