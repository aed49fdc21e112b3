// status_document: the one status of `kioku status` and GET /api/status.
#include "app/app_context.h"
#include "app/engine.h"
#include "app/write_spool.h"
#include "core/error.h"

#ifndef KIOKU_VERSION
#define KIOKU_VERSION "0.0.0"
#endif

namespace kioku {

namespace {

using nlohmann::json;

// Everything the database knows (below); throws kUnavailable when it is down.
json full_status(AppContext& ctx, bool probe_provider);

json provider_status(AppContext& ctx, bool probe_provider) {
  json provider = {{"configured", false}, {"reachable", false}};
  LlmConfig probe = ctx.llm_config();
  if (!probe.provider.empty() && probe.provider != "none") {
    provider = {{"configured", true},
                {"provider", probe.provider},
                {"model", probe.model},
                {"url", probe.url},
                {"reachable", nullptr}};
    if (probe_provider) {
      probe.max_retries = 0;
      probe.timeout_s = 5;
      probe.connect_timeout_s = 2;
      try {
        if (auto client = make_llm_client(probe)) {
          provider["models"] = client->list_models().size();
          provider["reachable"] = true;
        }
      } catch (const Error& e) {
        provider["reachable"] = false;
        provider["error"] = e.what();
      }
    }
  }
  return provider;
}

// The write spool of a PostgreSQL store (null on SQLite): what waits for the
// database, and whether writes go to the spool now.
json spool_status(AppContext& ctx) {
  WriteSpool* spool = ctx.engine().spool();
  if (!spool) return nullptr;
  const SpoolCounts c = spool->counts();
  return {{"pending", c.pending},
          {"given_up", c.given_up},
          {"oldest_pending", c.oldest_pending ? json(format_iso8601(*c.oldest_pending)) : json()},
          {"active", spool->active()}};
}

}  // namespace

nlohmann::json status_document(AppContext& ctx, bool probe_provider) {
  const bool on_postgres = !ctx.store_url().empty();
  json database = {{"backend", on_postgres ? "postgresql" : "sqlite"}, {"reachable", true}};
  try {
    json doc = full_status(ctx, probe_provider);
    doc["database"] = database;
    if (on_postgres) doc["spool"] = spool_status(ctx);
    return doc;
  } catch (const Error& e) {
    if (!on_postgres || e.code() != ErrorCode::kUnavailable) throw;
    // What can be said without the database: that it is down, and what
    // waits for it.
    database["reachable"] = false;
    database["error"] = e.what();
    const auto uptime =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - ctx.engine().started());
    Embedder* embedder = ctx.embedder();
    return {{"version", KIOKU_VERSION},
            {"user_id", ctx.user_id()},
            {"uptime_s", uptime.count()},
            {"database", database},
            {"spool", spool_status(ctx)},
            {"embedder", {{"model", embedder ? embedder->model_id() : ""}, {"notice", ctx.embedder_notice()}}},
            {"provider", provider_status(ctx, probe_provider)}};
  }
}

namespace {

json full_status(AppContext& ctx, bool probe_provider) {
  ctx.ensure_initialized();
  const std::string& user = ctx.user_id();
  const StoreStats st = ctx.memories().stats(user);
  const auto session = ctx.drafts().open_session(user);
  Embedder* embedder = ctx.embedder();
  MemoryFilter pending;
  pending.user_id = user;
  pending.approved = false;

  JobFilter attention;
  attention.user_id = user;
  attention.states = {JobState::kFailed, JobState::kQueued, JobState::kRunning};
  attention.limit = 20;
  json jobs_open = json::array();
  int64_t journals_to_recompile = 0;
  for (const auto& j : ctx.jobs().list(attention)) {
    if (j.kind == "recompile_journal") ++journals_to_recompile;
    if (!j.payload.contains("schedule")) jobs_open.push_back(to_json(j));
  }
  json runs = json::array();
  for (const auto& r : ctx.jobs().list_runs("", 10)) runs.push_back(to_json(r));

  const json provider = provider_status(ctx, probe_provider);
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - ctx.engine().started());
  return {{"version", KIOKU_VERSION},
          {"user_id", user},
          {"uptime_s", uptime.count()},
          {"memories", st.memories},
          {"journals", st.journals},
          {"embeddings", st.embeddings},
          {"by_type", st.by_type},
          {"by_tier", st.by_tier},
          {"database_bytes", st.database_bytes},
          {"journal_session", session ? json{{"id", session->id},
                                             {"started_at", format_iso8601(session->started_at)},
                                             {"entries", session->entry_count}}
                                      : json()},
          {"queues",
           {{"embeddings_pending", embedder ? ctx.memories().count_missing_embeddings(embedder->model_id()) : 0},
            {"jobs_open", ctx.jobs().count_open(user)},
            {"journals_to_recompile", journals_to_recompile},
            {"suggestions_pending", ctx.memories().count(pending)}}},
          {"jobs", {{"by_state", ctx.jobs().count_by_state(user)}, {"attention", jobs_open}}},
          {"scheduled_runs", runs},
          {"embedder", {{"model", embedder ? embedder->model_id() : ""}, {"notice", ctx.embedder_notice()}}},
          {"provider", provider}};
}

}  // namespace

}  // namespace kioku
