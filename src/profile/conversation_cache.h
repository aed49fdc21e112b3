// ConversationCache: the recent turns of each user's conversation in
// process memory (seed 004's "recent -> cache" of the hybrid conversation
// context; history stays in the database as chat memories, and semantic
// recall goes through the vector index like any memory).
//
// Write-through: every turn is stored first and then appended here. A read
// is served from the cache only while the cache's newest turn is the
// database's newest turn (the caller checks that with one indexed query), so
// a turn written by another process or device (the Telegram bot, a CLI on the
// same data directory) is never missed: the cache reloads. Ephemeral: a
// restart starts empty and the first read fills it from the database.
// Thread safety: all methods lock; one cache per Engine, shared by sessions.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/memory.h"

namespace kioku {

class ConversationCache {
 public:
  explicit ConversationCache(size_t turns_per_user = 40) : capacity_(turns_per_user) {}

  // The cached turns of user, oldest first, when the newest of them is
  // newest_id (counts a hit); nullopt otherwise (counts a miss).
  std::optional<std::vector<Memory>> recent_if_current(const std::string& user_id, const std::string& newest_id);
  // Replaces the user's turns (oldest first) after a read from the database.
  void replace(const std::string& user_id, std::vector<Memory> turns);
  // Write-through of a turn just stored. Ignored when the user has no cached
  // turns yet (the next read loads them all).
  void append(const std::string& user_id, const Memory& turn);
  void forget(const std::string& user_id);
  size_t capacity() const { return capacity_; }

  struct Stats {
    size_t hits = 0;
    size_t misses = 0;
    size_t users = 0;
  };
  Stats stats() const;

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<Memory>> turns_;
  size_t hits_ = 0;
  size_t misses_ = 0;
};

}  // namespace kioku
