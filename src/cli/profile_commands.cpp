// profile: what the companion learned about the user (seed 004), and the
// corrections: profile emotion | strategy | pattern | forget | history.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/error.h"

namespace kioku::cli {

namespace {

std::string num(double v, const char* format = "%.2f") {
  char buf[32];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

void print_profile(CommandIo& io, const nlohmann::json& doc) {
  const auto& emotions = doc["emotions"];
  if (emotions["current"].is_null()) {
    io.out << "Emotional state: nothing read yet (chat with your companion)\n";
  } else {
    const auto& c = emotions["current"];
    io.out << "Emotional state: " << c["emotion"].get<std::string>() << " (intensity "
           << num(c["intensity"].get<double>()) << ", read by " << c["detector"].get<std::string>() << ") at "
           << c["at"].get<std::string>().substr(0, 16) << "\n";
    io.out << "  last " << emotions["recent"].size() << " messages:";
    for (const auto& [e, n] : emotions["counts"].items()) io.out << " " << e << " " << n.get<int>();
    io.out << "\n";
  }
  io.out << "Support strategies (learned weights; 0.5 = no evidence):\n";
  if (doc["strategies"].empty()) io.out << "  nothing learned yet\n";
  for (const auto& s : doc["strategies"])
    io.out << "  " << s["emotion"].get<std::string>() << ": " << s["label"].get<std::string>() << "  "
           << num(s["weight"].get<double>()) << "  (" << s["uses"].get<int64_t>() << " outcomes, "
           << s["successes"].get<int64_t>() << " good; " << s["history"].size() << " changes)\n";
  io.out << "Memory importance patterns (what matters to you):\n";
  if (doc["importance_patterns"].empty()) io.out << "  nothing learned yet\n";
  int shown = 0;
  for (const auto& p : doc["importance_patterns"]) {
    if (++shown > 15) {
      io.out << "  ... " << doc["importance_patterns"].size() - 15 << " more (kioku profile --json)\n";
      break;
    }
    io.out << "  " << p["kind"].get<std::string>() << " '" << p["value"].get<std::string>() << "'  affinity "
           << num(p["affinity"].get<double>(), "%+.2f") << "  (searched " << p["searched"].get<int64_t>() << "x, used "
           << p["used"].get<int64_t>() << "x, rated " << p["rated"].get<int64_t>() << "x)\n";
  }
  if (doc["conversation"].is_null()) {
    io.out << "Conversation: not started\n";
  } else {
    const auto& c = doc["conversation"];
    io.out << "Conversation: " << c["turns"].get<int64_t>() << " messages, last from "
           << c["channel"].get<std::string>() << " at " << c["updated_at"].get<std::string>().substr(0, 16)
           << (c["last_reply_id"].get<std::string>().empty() ? " (reply pending)" : "") << "\n";
  }
  io.out << "Correct or erase any of it: kioku profile emotion | strategy | pattern | forget (see --help)\n";
}

}  // namespace

void register_profile_commands(CLI::App& app, CommandTable& table) {
  auto* profile = app.add_subcommand("profile", "What your companion learned about you; correct or erase it");
  profile->fallthrough();
  profile->require_subcommand(0, 1);  // `kioku profile` alone shows it
  table[profile] = [](AppContext& ctx, CommandIo& io) {
    ctx.ensure_initialized();
    const auto doc = ctx.profile().document(ctx.user_id());
    if (io.json)
      io.out << doc.dump(2) << "\n";
    else
      print_profile(io, doc);
    return 0;
  };
  {
    auto* cmd = profile->add_subcommand("emotion", "Correct the emotion read in one of your messages");
    auto id = std::make_shared<std::string>();
    auto emotion = std::make_shared<std::string>();
    auto intensity = std::make_shared<double>(0.6);
    cmd->add_option("message", *id, "The chat message's memory id")->required();
    cmd->add_option("emotion", *emotion, "joy, gratitude, sadness, anger, anxiety, loneliness or neutral")->required();
    cmd->add_option("--intensity", *intensity, "0 to 1 (default 0.6)")->check(unit_interval());
    table[cmd] = [id, emotion, intensity](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      ctx.profile().correct_emotion(ctx.user_id(), *id, *emotion, *intensity);
      if (io.json)
        io.out << nlohmann::json{{"message_id", *id}, {"emotion", *emotion}, {"intensity", *intensity}}.dump() << "\n";
      else
        io.out << "Noted: " << *emotion << " for " << *id << "\n";
      return 0;
    };
  }
  {
    auto* cmd = profile->add_subcommand("strategy", "Set how well a support strategy works for you (0 to 1)");
    auto emotion = std::make_shared<std::string>();
    auto strategy = std::make_shared<std::string>();
    auto weight = std::make_shared<double>(0.5);
    cmd->add_option("emotion", *emotion, "When you feel: sadness, anger, anxiety, loneliness, ...")->required();
    cmd->add_option("strategy", *strategy, "listen_reflect, encourage, practical_steps, humour or check_in_later")
        ->required();
    cmd->add_option("weight", *weight, "0 (never) to 1 (always helps)")->required()->check(unit_interval());
    table[cmd] = [emotion, strategy, weight](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      ctx.profile().set_strategy_weight(ctx.user_id(), *emotion, *strategy, *weight);
      if (io.json)
        io.out << nlohmann::json{{"emotion", *emotion}, {"strategy", *strategy}, {"weight", *weight}}.dump() << "\n";
      else
        io.out << "Set " << *strategy << " for " << *emotion << " to " << num(*weight) << "\n";
      return 0;
    };
  }
  {
    auto* cmd = profile->add_subcommand("pattern", "Say how much a kind of memory matters to you (-0.95 to 0.95)");
    auto kind = std::make_shared<std::string>();
    auto value = std::make_shared<std::string>();
    auto affinity = std::make_shared<double>(0);
    cmd->add_option("kind", *kind, "type, tag, entity or topic")->required();
    cmd->add_option("value", *value, "e.g. family")->required();
    cmd->add_option("affinity", *affinity, "-0.95 (does not matter) to 0.95 (matters a lot)")->required();
    table[cmd] = [kind, value, affinity](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      ctx.profile().set_pattern(ctx.user_id(), *kind, *value, *affinity);
      if (io.json)
        io.out << nlohmann::json{{"kind", *kind}, {"value", *value}, {"affinity", *affinity}}.dump() << "\n";
      else
        io.out << "Set " << *kind << " '" << *value << "' to " << num(*affinity, "%+.2f") << "\n";
      return 0;
    };
  }
  {
    auto* cmd = profile->add_subcommand(
        "forget", "Erase what was learned: emotions, strategies, patterns, conversation or all; or one item");
    auto part = std::make_shared<std::string>();
    auto item = std::make_shared<std::vector<std::string>>();
    cmd->add_option("part", *part, "emotions, strategies, patterns, conversation, all; or emotion, strategy, pattern")
        ->required();
    cmd->add_option("item", *item,
                    "for one item: emotion MESSAGE_ID | strategy STRATEGY [EMOTION] | pattern KIND VALUE");
    table[cmd] = [part, item](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      ProfileService& p = ctx.profile();
      bool removed = true;
      if (*part == "emotion") {
        if (item->size() != 1) throw invalid_input("usage: kioku profile forget emotion MESSAGE_ID");
        removed = p.forget_emotion(ctx.user_id(), item->at(0));
      } else if (*part == "strategy") {
        if (item->empty() || item->size() > 2)
          throw invalid_input("usage: kioku profile forget strategy STRATEGY [EMOTION]");
        removed = p.forget_strategy(ctx.user_id(), item->size() == 2 ? item->at(1) : "", item->at(0));
      } else if (*part == "pattern") {
        if (item->size() != 2) throw invalid_input("usage: kioku profile forget pattern KIND VALUE");
        removed = p.forget_pattern(ctx.user_id(), item->at(0), item->at(1));
      } else {
        if (!item->empty()) throw invalid_input("'" + *part + "' takes no item");
        p.erase(ctx.user_id(), *part);
      }
      if (!removed) throw not_found("nothing like that was learned");
      if (io.json)
        io.out << nlohmann::json{{"forgotten", *part}, {"item", *item}}.dump() << "\n";
      else
        io.out << "Forgotten.\n";
      return 0;
    };
  }
  {
    auto* cmd = profile->add_subcommand("history", "How each support strategy's weight changed, newest first");
    auto strategy = std::make_shared<std::string>();
    auto limit = std::make_shared<int>(30);
    cmd->add_option("strategy", *strategy, "Only this strategy");
    cmd->add_option("--limit", *limit, "How many changes (default 30)")->check(CLI::Range(1, 1000));
    table[cmd] = [strategy, limit](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      const auto changes = ctx.profile_store().strategy_history(ctx.user_id(), *strategy, *limit);
      if (io.json) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& c : changes)
          a.push_back({{"emotion", c.emotion},
                       {"strategy", c.strategy},
                       {"before", c.weight_before},
                       {"after", c.weight_after},
                       {"outcome", c.outcome},
                       {"reason", c.reason},
                       {"message_id", c.message_id},
                       {"at", format_iso8601(c.at)}});
        io.out << a.dump(2) << "\n";
        return 0;
      }
      if (changes.empty()) io.out << "No changes yet.\n";
      for (const auto& c : changes)
        io.out << format_iso8601(c.at).substr(0, 16) << "  " << c.emotion << "/" << c.strategy << "  "
               << num(c.weight_before) << " -> " << num(c.weight_after) << "  by " << c.reason << " (outcome "
               << num(c.outcome) << ")\n";
      return 0;
    };
  }
}

}  // namespace kioku::cli
