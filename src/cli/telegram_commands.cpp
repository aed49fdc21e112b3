// telegram: run the Telegram bot until SIGINT/SIGTERM (docs/TELEGRAM.md).
#include <memory>
#include <ostream>

#include "bots/telegram/telegram_bot.h"
#include "cli/commands.h"
#include "cli/long_running.h"
#include "core/error.h"

namespace kioku::cli {

void register_telegram_commands(CLI::App& app, CommandTable& table) {
  auto* cmd = app.add_subcommand("telegram", "Run the Telegram companion bot (TELEGRAM_BOT_TOKEN) until Ctrl-C");
  auto quiet = std::make_shared<bool>(false);
  cmd->add_flag("--quiet", *quiet, "No event log on stderr");
  table[cmd] = [quiet](AppContext& ctx, CommandIo& io) {
    const telegram::TelegramSettings settings = telegram::load_telegram_settings(ctx.config());
    if (!settings.configured())
      throw invalid_input("set TELEGRAM_BOT_TOKEN (from @BotFather) or telegram.token in config.toml");
    if (settings.allowed_users.empty())
      throw invalid_input(
          "no allowed Telegram users: set KIOKU_TELEGRAM_ALLOWED_USERS=ID[,ID...] or telegram.allowed_users "
          "(your numeric user id, e.g. from @userinfobot)");
    ctx.ensure_initialized();

    telegram::TelegramBotOptions o;
    o.data_dir = ctx.data_dir();
    o.user = ctx.user_id();
    o.env = ctx.config().env();
    if (!*quiet) o.log = timestamped_log(io.err);
    StopSignals stop_signals;  // before the bot starts its threads

    telegram::TelegramBot bot(settings, o);
    if (io.json) io.out << nlohmann::json{{"running", true}, {"allowed_users", settings.allowed_users.size()}}.dump() << "\n" << std::flush;
    else io.out << "Kioku's Telegram bot is running. Press Ctrl-C to stop.\n" << std::flush;
    stop_signals.on_stop([&bot] { bot.stop(); });
    try {
      bot.run();
    } catch (...) {
      stop_signals.finish();  // its waiter must be gone before bot is
      throw;
    }
    stop_signals.finish();
    if (!io.json) io.out << "Telegram bot stopped.\n";
    return 0;
  };
}

}  // namespace kioku::cli
