#include "server/services.h"

#include <algorithm>
#include <thread>

#include "app/users.h"
#include "core/error.h"
#include "core/time.h"
#include "store/sqlite/sqlite_store.h"

namespace kioku::server {

Services::Services(ServicesOptions options) : options_(std::move(options)) {
  engine_ = options_.engine;
  if (!engine_) {
    EngineOptions eo;
    eo.data_dir = options_.data_dir;
    eo.user = options_.user;
    eo.env = options_.env;
    eo.max_sessions = options_.max_contexts;
    eo.log = options_.log;
    eo.spool_writes = true;  // a server takes writes while PostgreSQL is down
    engine_ = Engine::open(std::move(eo));
  }
  auto s = engine_->session();
  s->ensure_initialized();
  ensure_default_user(*s);
  // The token file's user (--user of kioku serve, or the owner) is an admin.
  s->users().ensure_user(s->default_user_id(), /*admin=*/true);
  engine_->embedder();  // load the model once, before the first request needs it
}

Services::~Services() {
  try {
    flush_access();
  } catch (const std::exception& e) {
    log(std::string("access times not written: ") + e.what());
  }
  try {
    engine_->flush_learning();
  } catch (const std::exception& e) {
    log(std::string("learning signals not written: ") + e.what());
  }
}

void Services::note_access(const std::string& user_id, std::vector<std::string> ids) {
  if (ids.empty()) return;
  size_t pending = 0;
  {
    std::lock_guard<std::mutex> lock(access_mutex_);
    pending_access_.push_back({user_id, std::move(ids), system_time().now()});
    pending = pending_access_.size();
  }
  // Under heavy search load, many small writes spread evenly hold latency
  // down better than one large write per background tick. (Callers hold no
  // context here: flushing leases one.)
  if (pending >= kAccessFlushBatch) flush_access();
}

size_t Services::flush_access() {
  std::vector<PendingAccess> batch;
  {
    std::lock_guard<std::mutex> lock(access_mutex_);
    batch.swap(pending_access_);
  }
  if (batch.empty()) return 0;
  auto ctx = system_context();
  size_t written = 0;
  for (const auto& a : batch) {
    ctx->memories().record_access(a.user_id, a.ids, a.at);
    written += a.ids.size();
  }
  return written;
}

Services::Lease Services::context(const ApiRequest& req) {
  if (req.user_id.empty()) throw Error(ErrorCode::kInternal, "a request without a user reached " + req.path);
  auto lease = engine_->session();
  lease->act_as(req.user_id);
  return lease;
}

void Services::with_search(const ApiRequest& req, const std::function<void(AppContext&)>& fn) {
  auto s = context(req);
  fn(*s);
}

void Services::with_chat(const ApiRequest& req, const std::function<void(AppContext&, Companion&)>& fn) {
  std::lock_guard<std::mutex> lock(chat_mutex_);
  auto s = context(req);
  Companion& companion = options_.companion_factory ? options_.companion_factory(*s)
                                                    : static_cast<Companion&>(s->companion());
  fn(*s, companion);
}

std::vector<std::string> Services::background_tick() {
  // Scripted companions (tests) answer turns themselves: no job runs them.
  auto report = engine_->run_background(std::chrono::seconds(5));
  std::vector<std::string> done = std::move(report.lines);
  try {
    flush_access();
  } catch (const std::exception& e) {
    done.push_back(std::string("access times: ") + e.what());
  }
  return done;
}

}  // namespace kioku::server
