// telegram: run the Telegram bot until SIGINT/SIGTERM (docs/TELEGRAM.md).
#include <pthread.h>
#include <signal.h>

#include <ctime>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>

#include "bots/telegram/telegram_bot.h"
#include "cli/commands.h"
#include "cli/format.h"
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
    std::ostream& err = io.err;
    if (!*quiet) {
      auto log_mutex = std::make_shared<std::mutex>();
      o.log = [log_mutex, &err](std::string_view line) {
        std::lock_guard<std::mutex> lock(*log_mutex);
        err << local_clock_time() << " " << line << "\n" << std::flush;
      };
    }
    // Same signal handling as `serve`: threads inherit the blocked mask and
    // one thread waits for SIGINT/SIGTERM (SIGUSR1: the bot stopped by itself).
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    telegram::TelegramBot bot(settings, o);
    if (io.json) io.out << nlohmann::json{{"running", true}, {"allowed_users", settings.allowed_users.size()}}.dump() << "\n" << std::flush;
    else io.out << "Kioku's Telegram bot is running. Press Ctrl-C to stop.\n" << std::flush;
    std::thread waiter([&bot, signals] {
      int sig = 0;
      sigwait(&signals, &sig);
      bot.stop();
    });
    try {
      bot.run();
    } catch (...) {
      pthread_kill(waiter.native_handle(), SIGUSR1);
      waiter.join();
      throw;
    }
    pthread_kill(waiter.native_handle(), SIGUSR1);
    waiter.join();
    if (!io.json) io.out << "Telegram bot stopped.\n";
    return 0;
  };
}

}  // namespace kioku::cli
