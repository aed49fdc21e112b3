// jobs list | run | retry | cancel: the job system (src/jobs) from the shell.
#include <memory>
#include <ostream>

#include "cli/commands.h"
#include "core/error.h"

namespace kioku::cli {

namespace {

nlohmann::json report_json(const JobRunReport& r) {
  return {{"done", r.done}, {"waiting", r.waiting}, {"retried", r.retried}, {"failed", r.failed}, {"lost", r.lost},
          {"lines", r.lines}};
}

std::string job_line(const Job& j) {
  std::string line = j.id + "  " + std::string(to_string(j.state)) + "  " + j.kind;
  if (j.attempts > 0) line += "  attempts " + std::to_string(j.attempts);
  if (!j.wait_reason.empty() && j.state == JobState::kQueued) line += "  (" + j.wait_reason + ")";
  if (!j.last_error.empty() && j.state != JobState::kDone) line += "  last error: " + j.last_error;
  return line;
}

}  // namespace

void register_job_commands(CLI::App& app, CommandTable& table) {
  auto* jobs = app.add_subcommand("jobs", "Background jobs: queued replies, photo descriptions, backups, upkeep");
  jobs->require_subcommand(1);
  jobs->fallthrough();
  {
    auto* cmd = jobs->add_subcommand("list", "Jobs and recent scheduled runs");
    auto states = std::make_shared<std::vector<std::string>>();
    auto limit = std::make_shared<int>(50);
    cmd->add_option("--state", *states, "Only these states (queued, running, done, failed, cancelled)")->delimiter(',');
    cmd->add_option("--limit", *limit, "At most this many jobs")->check(CLI::Range(1, 10000));
    table[cmd] = [states, limit](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      JobFilter f;
      f.user_id = ctx.user_id();
      f.limit = *limit;
      for (const auto& s : *states) f.states.push_back(parse_job_state(s));
      const auto list = ctx.jobs().list(f);
      const auto runs = ctx.jobs().list_runs("", 10);
      if (io.json) {
        nlohmann::json items = nlohmann::json::array(), run_items = nlohmann::json::array();
        for (const auto& j : list) items.push_back(to_json(j));
        for (const auto& r : runs) run_items.push_back(to_json(r));
        io.out << nlohmann::json{{"jobs", items}, {"by_state", ctx.jobs().count_by_state(ctx.user_id())},
                                 {"scheduled_runs", run_items}}
                      .dump(2)
               << "\n";
        return 0;
      }
      for (const auto& j : list) io.out << job_line(j) << "\n";
      if (list.empty()) io.out << "No jobs.\n";
      if (!runs.empty()) io.out << "\nScheduled runs:\n";
      for (const auto& r : runs)
        io.out << "  " << format_iso8601(r.started_at) << "  " << r.schedule << "  " << r.status
               << (r.error.empty() ? "" : "  " + r.error) << "\n";
      return 0;
    };
  }
  {
    auto* cmd = jobs->add_subcommand("run", "Run due jobs now, waiting ones included");
    auto limit = std::make_shared<int>(1000);
    cmd->add_option("--limit", *limit, "At most this many jobs")->check(CLI::Range(1, 100000));
    table[cmd] = [limit](AppContext& ctx, CommandIo& io) {
      ctx.ensure_initialized();
      const JobRunReport r = ctx.run_jobs(*limit, std::chrono::minutes(30), /*ignore_run_after=*/true);
      if (io.json) {
        io.out << report_json(r).dump(2) << "\n";
      } else {
        for (const auto& line : r.lines) io.out << line << "\n";
        io.out << "Done " << r.done << ", waiting " << r.waiting << ", to retry " << r.retried << ", failed "
               << r.failed << "\n";
      }
      return r.failed > 0 ? exit_code(ErrorCode::kUnavailable) : 0;
    };
  }
  {
    auto* cmd = jobs->add_subcommand("retry", "Queue a failed or cancelled job again");
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "Job id")->required();
    table[cmd] = [id](AppContext& ctx, CommandIo& io) {
      ctx.jobs().retry(ctx.user_id(), *id, system_time().now());
      if (io.json) io.out << to_json(*ctx.jobs().get(*id)).dump(2) << "\n";
      else io.out << "Job " << *id << " is queued again.\n";
      return 0;
    };
  }
  {
    auto* cmd = jobs->add_subcommand("cancel", "Cancel a queued or failed job");
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "Job id")->required();
    table[cmd] = [id](AppContext& ctx, CommandIo& io) {
      ctx.jobs().cancel(ctx.user_id(), *id, system_time().now());
      if (io.json) io.out << to_json(*ctx.jobs().get(*id)).dump(2) << "\n";
      else io.out << "Job " << *id << " is cancelled.\n";
      return 0;
    };
  }
}

}  // namespace kioku::cli
