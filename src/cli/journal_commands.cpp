// journal start | add TEXT | add --image PATH | status | done | cancel --yes | list | show ID
#include <memory>
#include <ostream>

#include "cli/commands.h"
#include "core/error.h"

namespace kioku::cli {

namespace {

nlohmann::json entry_json(const JournalEntry& e) {
  return {{"id", e.id},
          {"timestamp", format_iso8601(e.timestamp)},
          {"type", e.type},
          {"content", e.content},
          {"media_path", e.media_path},
          {"image_description", e.image_description}};
}

}  // namespace

void register_journal_commands(CLI::App& app, CommandTable& table) {
  auto* journal = app.add_subcommand("journal", "Journal mode: capture entries silently, then compile an article");
  journal->require_subcommand(1);
  journal->fallthrough();
  {
    auto* cmd = journal->add_subcommand("start", "Open a journal session");
    table[cmd] = [](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      JournalSession s = ctx.journal().start(ctx.user_id());
      if (io.json) io.out << nlohmann::json{{"session_id", s.id}, {"started_at", format_iso8601(s.started_at)}}.dump() << "\n";
      else io.out << "Journal session started. Add entries with `kioku journal add`, finish with `kioku journal done`.\n";
      return 0;
    };
  }
  {
    auto* cmd = journal->add_subcommand("add", "Add a text entry, or a photo with --image");
    auto text = std::make_shared<std::string>();
    auto image = std::make_shared<std::string>();
    cmd->add_option("text", *text, "The entry (with --image: a caption)");
    cmd->add_option("--image", *image, "A photo to add (JPEG, PNG, GIF, WebP)");
    table[cmd] = [text, image](AppContext& ctx, CommandIo& io) {
      JournalEntry e = image->empty() ? ctx.journal().add_text(ctx.user_id(), *text)
                                      : ctx.journal().add_image(ctx.user_id(), *image, *text);
      if (!image->empty()) {
        // The photo is stored; its description comes now or later (queued).
        e.image_description = ctx.companion().describe_or_queue(ctx.user_id(), e);
      }
      if (io.json) io.out << entry_json(e).dump() << "\n";
      else io.out << "\u2713\n";
      return 0;
    };
  }
  {
    auto* cmd = journal->add_subcommand("status", "Show the open session");
    table[cmd] = [](AppContext& ctx, CommandIo& io) {
      auto status = ctx.journal().status(ctx.user_id());
      if (io.json) {
        if (!status) {
          io.out << nlohmann::json{{"open", false}}.dump() << "\n";
          return 0;
        }
        nlohmann::json entries = nlohmann::json::array();
        for (const auto& e : status->entries) entries.push_back(entry_json(e));
        io.out << nlohmann::json{{"open", true},
                                 {"session_id", status->session.id},
                                 {"started_at", format_iso8601(status->session.started_at)},
                                 {"last_activity", format_iso8601(status->session.last_activity)},
                                 {"entries", entries}}
                      .dump(2)
               << "\n";
        return 0;
      }
      if (!status) {
        io.out << "No open journal session.\n";
        return 0;
      }
      io.out << "Journal session since " << format_iso8601(status->session.started_at) << ": "
             << status->entries.size() << " entries\n";
      for (const auto& e : status->entries) {
        io.out << "  " << format_iso8601(e.timestamp).substr(11, 5) << "  "
               << (e.type == "image" ? "[photo] " + e.media_path + (e.content.empty() ? "" : " " + e.content)
                                     : e.content)
               << "\n";
      }
      return 0;
    };
  }
  {
    auto* cmd = journal->add_subcommand("done", "Compile the session into a journal article");
    table[cmd] = [](AppContext& ctx, CommandIo& io) {
      Journal j = ctx.journal().done(ctx.user_id());
      if (io.json) {
        io.out << to_json(j).dump(2) << "\n";
      } else {
        io.out << "Compiled \"" << j.title << "\" (" << j.source_entry_ids.size() << " entries)\n"
               << "Saved to " << j.markdown_path << "\n";
        if (j.needs_recompile)
          io.out << "Compiled without an LLM; it will be rewritten once one is configured.\n";
      }
      return 0;
    };
  }
  {
    auto* cmd = journal->add_subcommand("cancel", "Discard the open session's entries");
    auto yes = std::make_shared<bool>(false);
    cmd->add_flag("--yes,-y", *yes, "Confirm discarding the entries");
    table[cmd] = [yes](AppContext& ctx, CommandIo& io) {
      ctx.journal().cancel(ctx.user_id(), *yes);
      if (io.json) io.out << nlohmann::json{{"cancelled", true}}.dump() << "\n";
      else io.out << "Journal session discarded.\n";
      return 0;
    };
  }
  {
    auto* cmd = journal->add_subcommand("list", "List compiled journals, newest first");
    auto limit = std::make_shared<int>(20);
    cmd->add_option("--limit", *limit, "How many")->check(CLI::Range(1, 10000));
    table[cmd] = [limit](AppContext& ctx, CommandIo& io) {
      auto journals = ctx.memories().list_journals(ctx.user_id(), *limit);
      if (io.json) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& j : journals) a.push_back(to_json(j));
        io.out << a.dump(2) << "\n";
      } else {
        for (const auto& j : journals)
          io.out << j.id << "  " << format_iso8601(j.created_at).substr(0, 10) << "  " << j.title << "\n";
        if (journals.empty()) io.out << "No journals yet.\n";
      }
      return 0;
    };
  }
  {
    auto* cmd = journal->add_subcommand("show", "Print a compiled journal");
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "Journal id")->required();
    table[cmd] = [id](AppContext& ctx, CommandIo& io) {
      auto j = ctx.memories().get_journal(ctx.user_id(), *id);
      if (!j) throw not_found("no journal with id " + *id);
      if (io.json) io.out << to_json(*j).dump(2) << "\n";
      else io.out << "# " << j->title << "\n\n" << j->body;
      return 0;
    };
  }
}

}  // namespace kioku::cli
