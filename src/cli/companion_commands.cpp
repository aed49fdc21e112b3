// chat, rate, suggestions, context.
#include <iostream>
#include <memory>
#include <ostream>

#include "cli/commands.h"
#include "cli/format.h"
#include "companion/context_export.h"
#include "core/error.h"
#include "core/text.h"

namespace kioku::cli {

namespace {

nlohmann::json turn_json(AppContext& ctx, const ChatTurnResult& r) {
  nlohmann::json used = nlohmann::json::array();
  for (const auto& m : ctx.memories().get_many(ctx.user_id(), r.used_memory_ids))
    used.push_back({{"id", m.id}, {"type", m.type}, {"content", m.content}});
  nlohmann::json calls = nlohmann::json::array();
  for (const auto& t : r.tool_calls) {
    auto args = nlohmann::json::parse(t.arguments_json, nullptr, false);
    nlohmann::json c = {{"id", t.id},         {"name", t.name},
                        {"arguments", args.is_discarded() ? nlohmann::json(t.arguments_json) : args},
                        {"result", t.result}, {"is_error", t.is_error}, {"step", t.step}};
    if (!t.core_label.empty()) c["core_memory"] = {{"label", t.core_label}, {"version", t.core_version}};
    calls.push_back(c);
  }
  return {{"reply", r.reply},
          {"queued", r.queued},
          {"notice", r.notice},
          {"user_memory_id", r.user_memory_id},
          {"reply_memory_id", r.reply_memory_id},
          {"used_memories", used},
          {"tool_calls", calls},
          {"prompt",
           {{"estimated_tokens", r.prompt.estimated_tokens},
            {"core_memory_tokens", r.prompt.core_memory_tokens},
            {"provider_prompt_tokens", r.prompt.provider_prompt_tokens},
            {"steps", r.prompt.steps}}}};
}

// One line per memory the turn changed, and the prompt size (stderr).
void report_turn(CommandIo& io, const ChatTurnResult& r) {
  for (const auto& t : r.tool_calls) {
    if (!t.core_label.empty())
      io.err << "kioku: memory edited: " << t.core_label << " is now version " << t.core_version
             << " (kioku core history " << t.core_label << ")\n";
    else if (t.is_error)
      io.err << "kioku: tool " << t.name << " failed: " << t.result.substr(0, 200) << "\n";
  }
  if (!r.tool_calls.empty() || r.prompt.steps > 1)
    io.err << "kioku: prompt ~" << r.prompt.estimated_tokens << " tokens (core memory ~" << r.prompt.core_memory_tokens
           << "), " << r.prompt.steps << " model call(s), " << r.tool_calls.size() << " tool call(s)\n";
}

// Runs queued AI work first, so a provider that came back answers old turns.
void catch_up(AppContext& ctx, CommandIo& io) {
  if (!ctx.llm()) return;
  JobRunner runner(ctx.jobs(), ctx.job_registry());
  runner.set_ignore_run_after(true);
  const auto r = runner.run_due_of({"chat_reply", "recompile_journal"}, 20, std::chrono::seconds(60));
  if (r.done > 0 && !io.json) io.err << "kioku: caught up on " << r.done << " queued job(s) (see kioku jobs list)\n";
}

Memory require_suggestion(AppContext& ctx, const std::string& id) {
  auto m = ctx.memories().get(ctx.user_id(), id);
  if (!m || m->approved) throw not_found("no pending suggestion with id " + id);
  return *m;
}

}  // namespace

void register_companion_commands(CLI::App& app, CommandTable& table) {
  {
    auto* cmd = app.add_subcommand("chat", "Talk with your companion (interactive, or one turn with --message)");
    auto message = std::make_shared<std::string>();
    cmd->add_option("--message,-m", *message, "Send one message and print the reply");
    table[cmd] = [message](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      catch_up(ctx, io);
      ctx.profile().set_channel("cli");
      auto turn = [&](const std::string& text) {
        std::function<void(std::string_view)> print = [&](std::string_view d) { io.out << d << std::flush; };
        ChatTurnResult r = ctx.companion().chat(ctx.user_id(), text, io.json ? nullptr : &print);
        if (io.json) {
          io.out << turn_json(ctx, r).dump(2) << "\n";
        } else if (r.queued) {
          report_turn(io, r);
          io.err << "kioku: " << r.notice << "\n";
        } else {
          io.out << "\n";
          report_turn(io, r);
          if (!r.notice.empty()) io.err << "kioku: " << r.notice << "\n";
        }
        return r;
      };
      if (!message->empty()) {
        turn(*message);
        return 0;
      }
      const bool tty = &io.out == &std::cout;
      if (tty && !io.json) io.out << "Chatting with your companion. Empty line or Ctrl-D to leave.\n";
      if (!io.json) {
        // Resume where the conversation stands, whichever device it was on.
        if (auto state = ctx.profile_store().conversation(ctx.user_id()); state && !state->last_message_id.empty()) {
          io.out << "(continuing: " << state->turns << " messages so far, the last from " << state->channel << " at "
                 << format_iso8601(state->updated_at).substr(0, 16) << " UTC";
          if (auto last = ctx.memories().get(ctx.user_id(), state->last_reply_id.empty() ? state->last_message_id
                                                                                          : state->last_reply_id))
            io.out << "; last: \"" << truncate_utf8(last->content, 120) << "\"";
          io.out << ")\n";
        }
      }
      std::string line;
      while (true) {
        if (!io.json) io.out << "you> " << std::flush;
        if (!std::getline(std::cin, line) || line.empty()) break;
        try {
          if (!io.json) io.out << "\n";
          turn(line);
          if (!io.json) io.out << "\n";
        } catch (const Error& e) {
          io.err << "kioku: " << e.what() << "\n";
        }
      }
      return 0;
    };
  }
  {
    auto* cmd = app.add_subcommand("rate", "Rate the companion's last reply from 1 to 5");
    auto rating = std::make_shared<int>(0);
    cmd->add_option("rating", *rating, "1 (bad) to 5 (great)")->required();
    table[cmd] = [rating](AppContext& ctx, CommandIo& io) {
      const std::string id = ctx.companion().rate_last_reply(ctx.user_id(), *rating);
      if (io.json) io.out << nlohmann::json{{"reply_memory_id", id}, {"rating", *rating}}.dump() << "\n";
      else io.out << "Thanks! Rated " << *rating << "/5.\n";
      return 0;
    };
  }
  {
    auto* sug = app.add_subcommand("suggestions", "Memories the companion suggested: review them");
    sug->require_subcommand(1);
    sug->fallthrough();
    auto* list = sug->add_subcommand("list", "Pending suggestions");
    table[list] = [](AppContext& ctx, CommandIo& io) {
      MemoryFilter f;
      f.user_id = ctx.user_id();
      f.approved = false;
      auto pending = ctx.memories().list(f, ListOrder::kNewestFirst, 200, 0);
      if (io.json) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& m : pending) a.push_back(to_json(m));
        io.out << a.dump(2) << "\n";
      } else {
        for (const auto& m : pending) io.out << memory_line(m) << "  (importance " << m.importance << ")\n";
        if (pending.empty()) io.out << "No pending suggestions.\n";
      }
      return 0;
    };
    auto* approve = sug->add_subcommand("approve", "Keep a suggestion as a memory");
    auto approve_id = std::make_shared<std::string>();
    approve->add_option("id", *approve_id, "Suggestion id")->required();
    table[approve] = [approve_id](AppContext& ctx, CommandIo& io) {
      Memory m = require_suggestion(ctx, *approve_id);
      m.approved = true;
      ctx.memories().update(m);
      if (io.json) io.out << nlohmann::json{{"id", m.id}, {"approved", true}}.dump() << "\n";
      else io.out << "Approved " << m.id << "\n";
      return 0;
    };
    auto* reject = sug->add_subcommand("reject", "Discard a suggestion");
    auto reject_id = std::make_shared<std::string>();
    reject->add_option("id", *reject_id, "Suggestion id")->required();
    table[reject] = [reject_id](AppContext& ctx, CommandIo& io) {
      Memory m = require_suggestion(ctx, *reject_id);
      ctx.memories().remove(ctx.user_id(), m.id);
      if (io.json) io.out << nlohmann::json{{"id", m.id}, {"rejected", true}}.dump() << "\n";
      else io.out << "Rejected " << m.id << "\n";
      return 0;
    };
    auto* edit = sug->add_subcommand("edit", "Change a suggestion before approving it");
    auto edit_id = std::make_shared<std::string>();
    auto content = std::make_shared<std::string>();
    auto tags = std::make_shared<std::string>();
    auto importance = std::make_shared<double>(-1);
    edit->add_option("id", *edit_id, "Suggestion id")->required();
    edit->add_option("--content", *content, "New content");
    edit->add_option("--tags", *tags, "New tags (comma-separated)");
    edit->add_option("--importance", *importance, "0 to 1")->check(unit_interval());
    table[edit] = [edit_id, content, tags, importance](AppContext& ctx, CommandIo& io) {
      Memory m = require_suggestion(ctx, *edit_id);
      if (!content->empty()) m.content = *content;
      if (!tags->empty()) m.tags = split_tags(*tags);
      if (*importance >= 0) m.importance = *importance;
      ctx.memories().update(m);
      if (io.json) io.out << to_json(*ctx.memories().get(ctx.user_id(), m.id)).dump(2) << "\n";
      else io.out << "Updated suggestion " << m.id << "\n";
      return 0;
    };
  }
  {
    auto* cmd = app.add_subcommand("context", "Your relevant profile and memories, formatted for another LLM");
    auto query = std::make_shared<std::string>();
    auto format = std::make_shared<std::string>("markdown");
    auto limit = std::make_shared<int>(10);
    cmd->add_option("query", *query, "What the other LLM will be asked about");
    cmd->add_option("--format", *format, "claude, openai, markdown or json");
    cmd->add_option("--limit", *limit, "Relevant memories to include")->check(CLI::Range(1, 100));
    table[cmd] = [query, format, limit](AppContext& ctx, CommandIo& io) {
      ExportOptions o;
      o.format = io.json ? ExportFormat::kJson : parse_export_format(*format);
      o.relevant_limit = *limit;
      io.out << export_context(ctx.memories(), ctx.searcher(), ctx.user_id(), *query, o);
      return 0;
    };
  }
}

}  // namespace kioku::cli
