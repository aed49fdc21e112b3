// serve, token.
#include <chrono>
#include <ctime>
#include <iostream>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>

#include "bots/bluesky/bluesky.h"
#include "bots/telegram/telegram_bot.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/long_running.h"
#include "core/error.h"
#include "app/engine.h"
#include "app/users.h"
#include "server/server.h"

namespace kioku::cli {


void register_server_commands(CLI::App& app, CommandTable& table) {
  {
    auto* cmd = app.add_subcommand("serve", "Serve the web app and HTTP API (with background indexing and backups)");
    auto host = std::make_shared<std::string>("127.0.0.1");
    auto port = std::make_shared<int>(8765);
    auto threads = std::make_shared<int>(64);
    auto max_upload_mb = std::make_shared<int>(25);
    auto quiet = std::make_shared<bool>(false);
    cmd->add_option("--host", *host, "Address to listen on (loopback by default)");
    cmd->add_option("--port", *port, "Port (0 = any free port)")->check(CLI::Range(0, 65535));
    cmd->add_option("--threads", *threads, "Worker threads (concurrent connections)")->check(CLI::Range(2, 1024));
    cmd->add_option("--max-upload-mb", *max_upload_mb, "Upload size limit in MiB")->check(CLI::Range(1, 4096));
    cmd->add_flag("--quiet", *quiet, "No request log on stderr");
    auto allowed_hosts = std::make_shared<std::vector<std::string>>();
    cmd->add_option("--allow-host", *allowed_hosts,
                    "A host name browsers may use to reach this server (repeatable; loopback names and IP "
                    "addresses always work)");
    table[cmd] = [=](AppContext& ctx, CommandIo& io) {
      ServerOptions o;
      o.data_dir = ctx.data_dir();
      o.user = ctx.user_id();
      o.env = ctx.config().env();
      o.host = *host;
      o.port = *port;
      o.threads = *threads;
      o.allowed_hosts = *allowed_hosts;
      o.max_upload_bytes = static_cast<size_t>(*max_upload_mb) << 20;
      // The request log only without --quiet; the bot's fatal errors always.
      const auto log = timestamped_log(io.err);
      if (!*quiet) o.log = log;
      // SIGINT/SIGTERM stop the server cleanly (before any thread starts).
      StopSignals stop_signals;

      // One engine for the server and the Telegram bot: one model in memory,
      // one set of vector indexes, one job runner (the server's loop).
      EngineOptions eo;
      eo.data_dir = o.data_dir;
      eo.user = o.user;
      eo.env = o.env;
      eo.log = o.log;
      eo.spool_writes = true;  // writes wait in <data>/spool.db while PostgreSQL is down
      o.engine = Engine::open(std::move(eo));

      // Bluesky posts that could not be sent wait as "pending sync"; the
      // Telegram bot retries them when it runs, otherwise a scheduled job
      // does, every few minutes (docs/BLUESKY.md).
      const telegram::TelegramSettings telegram_settings = telegram::load_telegram_settings(ctx.config());
      const bool bot_wanted = telegram_settings.configured() && !telegram_settings.allowed_users.empty();
      if (!bot_wanted) {
        o.engine->add_job_kind("bluesky_sync", [](AppContext& session, const Job&) {
          BlueskyService bsky(session);
          if (!bsky.configured()) return JobOutcome::finished({{"skipped", "Bluesky is not configured"}});
          const int sent = bsky.retry_pending();
          if (sent > 0) session.engine().log("sent " + std::to_string(sent) + " pending Bluesky post(s)");
          return JobOutcome::finished({{"sent", sent}, {"pending", bsky.pending_count()}});
        });
        Schedule sync;
        sync.name = "bluesky-sync";
        sync.kind = "bluesky_sync";
        sync.period = std::chrono::minutes(5);
        sync.user_id = o.user.empty() ? ctx.user_id() : o.user;
        o.engine->add_schedule(sync);
      }

      Server server(o);
      const int bound = server.bind();
      const std::string shown_host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
      const std::string url = "http://" + shown_host + ":" + std::to_string(bound) + "/";
      if (io.json) {
        io.out << nlohmann::json{{"url", url}, {"port", bound}}.dump() << "\n" << std::flush;
      } else {
        // The token travels in the fragment, which browsers never send to
        // servers; the web app moves it to localStorage and clears it.
        io.out << "Kioku is running. Open this address in your browser:\n\n  " << url << "#token=" << ctx.api_token()
               << "\n\nPress Ctrl-C to stop.\n"
               << std::flush;
      }
      // The Telegram bot runs beside the server when a token is configured
      // (docs/TELEGRAM.md); it stops with it.
      std::unique_ptr<telegram::TelegramBot> bot;
      std::thread bot_thread;
      if (telegram_settings.configured() && telegram_settings.allowed_users.empty()) {
        io.err << "kioku: Telegram bot not started: no allowed users (KIOKU_TELEGRAM_ALLOWED_USERS)\n";
      } else if (telegram_settings.configured()) {
        telegram::TelegramBotOptions bot_options;
        bot_options.data_dir = o.data_dir;
        bot_options.user = o.user;
        bot_options.env = o.env;
        bot_options.log = o.log;
        bot_options.engine = o.engine;
        bot_options.run_background = false;  // the server's loop runs the jobs
        bot = std::make_unique<telegram::TelegramBot>(telegram_settings, bot_options);
        bot_thread = std::thread([&bot, log] {
          try {
            bot->run();
          } catch (const std::exception& e) {
            log(std::string("kioku: the Telegram bot stopped: ") + e.what());
          }
        });
      }
      stop_signals.on_stop([&server, &bot] {
        server.stop();
        if (bot) bot->stop();
      });
      try {
        server.run();
      } catch (...) {
        stop_signals.finish();  // its waiter must be gone before server and bot are
        if (bot) bot->stop();
        if (bot_thread.joinable()) bot_thread.join();
        throw;
      }
      stop_signals.finish();
      if (bot) {
        bot->stop();
        bot_thread.join();
      }
      if (!io.json) io.out << "Kioku stopped.\n";
      return 0;
    };
  }
  {
    auto* cmd = app.add_subcommand(
        "token", "Print the API token (for Authorization: Bearer); with --user NAME, make a new token for NAME");
    table[cmd] = [](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();  // creates the token if missing
      // --user NAME: a new token of that user, shown only now (only its hash is kept).
      const std::string& user = ctx.engine().options().user;
      if (!user.empty()) ensure_default_user(ctx);
      const std::string token = user.empty() ? ctx.api_token() : issue_token(ctx.users(), user, "kioku token");
      if (io.json) io.out << nlohmann::json{{"token", token}}.dump() << "\n";
      else io.out << token << "\n";
      return 0;
    };
  }
}

}  // namespace kioku::cli
