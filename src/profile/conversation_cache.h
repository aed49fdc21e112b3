// ConversationCache: the recent turns of each user's conversation in
// process memory (seed 004's "recent -> cache" of the hybrid conversation
// context; history stays in the database as chat memories, and semantic
// recall goes through the vector index like any memory).
//
// Write-through: every turn is stored first and then appended here. A read
// is served from the cache only while the cache's newest turn is the
// database's newest turn and its count of turns is the database's (the
// caller checks both with two indexed queries), so a turn written by another
// process or device (the Telegram bot, a CLI on the same data directory) is
// never missed, even when this process appended its own turn after it: the
// cache reloads. Ephemeral: a
// restart starts empty and the first read fills it from the database.
// Thread safety: all methods lock; one cache per Engine, shared by sessions.
#pragma once

#include <cstddef>
#include <cstdint>
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
  // newest_id and the user has total turns in all, as cached (counts a hit);
  // nullopt otherwise (counts a miss).
  std::optional<std::vector<Memory>> recent_if_current(const std::string& user_id, const std::string& newest_id,
                                                       int64_t total);
  // Replaces the user's turns (oldest first; the last `capacity` of `total`)
  // after a read from the database.
  void replace(const std::string& user_id, std::vector<Memory> turns, int64_t total);
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
  struct Entry {
    std::vector<Memory> turns;
    int64_t total = 0;  // the user's turns in the database, as this cache knows them
  };
  std::map<std::string, Entry> entries_;
  size_t hits_ = 0;
  size_t misses_ = 0;
};

}  // namespace kioku
