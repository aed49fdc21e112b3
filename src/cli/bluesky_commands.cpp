// bsky post, bsky import, bsky sync.
#include <memory>
#include <ostream>

#include "bots/bluesky/bluesky.h"
#include "cli/commands.h"
#include "core/error.h"

namespace kioku::cli {

namespace {

// Older pending posts go out first, so posts appear in the order written.
int send_backlog(BlueskyService& bsky, CommandIo& io) {
  if (!bsky.configured()) return 0;
  const int sent = bsky.retry_pending();
  if (sent > 0 && !io.json) io.err << "kioku: sent " << sent << " pending Bluesky post(s)\n";
  return sent;
}

}  // namespace

void register_bluesky_commands(CLI::App& app, CommandTable& table) {
  auto* bsky = app.add_subcommand("bsky", "Bluesky: post, import your posts, send pending posts");
  bsky->require_subcommand(1);
  bsky->fallthrough();
  {
    auto* cmd = bsky->add_subcommand("post", "Post to Bluesky (kept as a memory; sent later if it cannot go now)");
    auto text = std::make_shared<std::string>();
    cmd->add_option("text", *text, "The post (at most 300 characters)")->required();
    table[cmd] = [text](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      BlueskyService service(ctx);
      const int backlog = send_backlog(service, io);
      BskyPostResult r = service.post(*text);
      if (io.json) {
        io.out << nlohmann::json{{"memory_id", r.memory_id}, {"sent", r.sent},      {"uri", r.uri},
                                 {"pending", !r.sent},       {"error", r.error},    {"backlog_sent", backlog}}
                      .dump(2)
               << "\n";
      } else if (r.sent) {
        io.out << "Posted " << r.uri << " (memory " << r.memory_id << ")\n";
      } else {
        io.out << "Saved as memory " << r.memory_id << ", pending sync: `kioku bsky sync` sends it later.\n";
        io.err << "kioku: not sent: " << r.error << "\n";
      }
      return 0;
    };
  }
  {
    auto* cmd = bsky->add_subcommand("import", "Import your Bluesky posts (only new ones after the first time)");
    auto timeline = std::make_shared<bool>(false);
    auto limit = std::make_shared<int>(1000);
    cmd->add_flag("--timeline", *timeline, "Also import posts from your home timeline (tagged timeline)");
    cmd->add_option("--limit", *limit, "At most this many posts per feed in one run (default 1000)")
        ->check(CLI::Range(1, 1000000));
    table[cmd] = [timeline, limit](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      BlueskyService service(ctx);
      if (!service.configured()) throw invalid_input(BlueskyService::not_configured_notice());
      BskyImportResult r = service.import_posts(*timeline, *limit);
      if (io.json) {
        io.out << nlohmann::json{{"imported", r.imported},
                                 {"from_timeline", r.from_timeline},
                                 {"seen", r.seen},
                                 {"complete", r.complete}}
                      .dump(2)
               << "\n";
      } else {
        io.out << "Imported " << r.imported << " new post(s)";
        if (*timeline) io.out << " (" << r.from_timeline << " from the timeline)";
        io.out << "; read " << r.seen << ".\n";
        if (!r.complete) io.out << "Stopped at --limit; run it again to continue with older posts.\n";
      }
      return 0;
    };
  }
  {
    auto* cmd = bsky->add_subcommand("sync", "Send the posts that are pending sync");
    table[cmd] = [](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      BlueskyService service(ctx);
      if (!service.configured()) throw invalid_input(BlueskyService::not_configured_notice());
      const int sent = service.retry_pending();
      const int64_t pending = service.pending_count();
      if (io.json) {
        io.out << nlohmann::json{{"sent", sent}, {"pending", pending}}.dump(2) << "\n";
      } else {
        io.out << "Sent " << sent << " post(s); " << pending << " still pending.\n";
      }
      if (pending == 0) return 0;
      // Posts still waiting after a sync: the exit code tells scripts and
      // timers, as an unreachable service does everywhere else.
      if (!io.json) io.err << "kioku: " << pending << " Bluesky post(s) still pending (see kioku list --type bsky_post)\n";
      return exit_code(ErrorCode::kUnavailable);
    };
  }
}

}  // namespace kioku::cli
