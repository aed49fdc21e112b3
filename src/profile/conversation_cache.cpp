#include "profile/conversation_cache.h"

namespace kioku {

std::optional<std::vector<Memory>> ConversationCache::recent_if_current(const std::string& user_id,
                                                                         const std::string& newest_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = turns_.find(user_id);
  if (it == turns_.end() || it->second.empty() || it->second.back().id != newest_id) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  return it->second;
}

void ConversationCache::replace(const std::string& user_id, std::vector<Memory> turns) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (turns.size() > capacity_) turns.erase(turns.begin(), turns.end() - static_cast<std::ptrdiff_t>(capacity_));
  turns_[user_id] = std::move(turns);
}

void ConversationCache::append(const std::string& user_id, const Memory& turn) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = turns_.find(user_id);
  if (it == turns_.end()) return;
  auto& v = it->second;
  for (const auto& m : v)
    if (m.id == turn.id) return;  // already there (a corroborated duplicate)
  v.push_back(turn);
  if (v.size() > capacity_) v.erase(v.begin());
}

void ConversationCache::forget(const std::string& user_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  turns_.erase(user_id);
}

ConversationCache::Stats ConversationCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {hits_, misses_, turns_.size()};
}

}  // namespace kioku
