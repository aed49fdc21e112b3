#include "profile/conversation_cache.h"

namespace kioku {

std::optional<std::vector<Memory>> ConversationCache::recent_if_current(const std::string& user_id,
                                                                        const std::string& newest_id, int64_t total) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(user_id);
  if (it == entries_.end() || it->second.turns.empty() || it->second.turns.back().id != newest_id ||
      it->second.total != total) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  return it->second.turns;
}

void ConversationCache::replace(const std::string& user_id, std::vector<Memory> turns, int64_t total) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (turns.size() > capacity_) turns.erase(turns.begin(), turns.end() - static_cast<std::ptrdiff_t>(capacity_));
  entries_[user_id] = {std::move(turns), total};
}

void ConversationCache::append(const std::string& user_id, const Memory& turn) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(user_id);
  if (it == entries_.end()) return;
  auto& v = it->second.turns;
  for (const auto& m : v)
    if (m.id == turn.id) return;  // already there (a corroborated duplicate)
  v.push_back(turn);
  ++it->second.total;
  if (v.size() > capacity_) v.erase(v.begin());
}

void ConversationCache::forget(const std::string& user_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.erase(user_id);
}

ConversationCache::Stats ConversationCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {hits_, misses_, entries_.size()};
}

}  // namespace kioku
