// SpoolStore: the writes `kioku serve` took while its database (PostgreSQL)
// was unreachable, kept in a local file until they are replayed there
// (docs/POSTGRES.md, "When the database is down"; src/app/write_spool.h
// decides what goes in and replays it).
//
// Contract:
//  - append() returns only once the row is durable (committed and synced);
//    seq numbers grow with every append, across processes sharing the file;
//  - pending() lists rows in seq order, skipping those given up on;
//  - the replay lease is held by at most one holder at a time (across
//    processes); an expired lease can be taken by anyone;
//  - failures throw kioku::Error (kIo, kUnavailable when the file is locked
//    for longer than the busy timeout).
// Thread safety: one object per thread; several processes may share a file.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"

namespace kioku {

struct SpooledWrite {
  int64_t seq = 0;   // assigned by append()
  std::string kind;  // what to replay, e.g. "memory", "chat_message"
  std::string user_id;
  std::string id;       // the id the client was given (the replayed row's id)
  std::string request;  // JSON: everything the replay needs
  TimePoint spooled_at{};
  int attempts = 0;  // replays that failed
  std::string last_error;
  bool given_up = false;  // failed for good: kept, never replayed again
};

struct SpoolCounts {
  int64_t pending = 0;   // waiting for the replay
  int64_t given_up = 0;  // failed for good, kept for a person to look at
  std::optional<TimePoint> oldest_pending;
};

class SpoolStore {
 public:
  virtual ~SpoolStore() = default;
  // Stores w durably; returns its seq.
  virtual int64_t append(const SpooledWrite& w) = 0;
  // The oldest rows still to replay, in seq order.
  virtual std::vector<SpooledWrite> pending(int limit) = 0;
  // The replayed row goes; false when it was not there (already removed).
  virtual bool remove(int64_t seq) = 0;
  // The replayed rows go, in one transaction; returns how many were there.
  virtual int64_t remove(const std::vector<int64_t>& seqs) = 0;
  // A replay of seq failed: attempts + 1 and the error kept; give_up takes it
  // out of pending() for good.
  virtual void note_failure(int64_t seq, const std::string& error, bool give_up) = 0;
  virtual SpoolCounts counts() = 0;
  // Rows given up on, oldest first (for `kioku status` and a person).
  virtual std::vector<SpooledWrite> given_up(int limit) = 0;
  // Takes or renews the replay lease until now + ttl; false while another
  // holder's lease runs.
  virtual bool acquire_lease(const std::string& holder, TimePoint now, std::chrono::milliseconds ttl) = 0;
  // Gives the lease back (only holder's).
  virtual void release_lease(const std::string& holder) = 0;
};

}  // namespace kioku
