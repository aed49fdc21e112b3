#include "profile/learning_buffer.h"

#include "core/error.h"

namespace kioku {

namespace {

void add_to(ImportancePattern& sum, const ImportancePattern& d) {
  sum.searched += d.searched;
  sum.used += d.used;
  sum.rated += d.rated;
  sum.rating_sum += d.rating_sum;
}

}  // namespace

void LearningBuffer::add_counts(const std::string& user_id, const std::vector<ImportancePattern>& deltas) {
  if (deltas.empty()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto& mine = counts_[user_id];
  for (const auto& d : deltas) {
    auto [it, fresh] = mine.try_emplace({d.kind, d.value}, d);
    if (!fresh) add_to(it->second, d);
  }
}

void LearningBuffer::add_prediction(const std::string& user_id, ImportancePrediction prediction) {
  std::lock_guard<std::mutex> lock(mutex_);
  predictions_[user_id].push_back(std::move(prediction));
}

bool LearningBuffer::empty() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_.empty() && predictions_.empty();
}

size_t LearningBuffer::flush(ProfileStore& store) {
  decltype(counts_) counts;
  decltype(predictions_) predictions;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    counts.swap(counts_);
    predictions.swap(predictions_);
  }
  size_t written = 0;
  // Puts back what was not written (newer signals may have arrived meanwhile).
  const auto keep = [&] {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [user, mine] : counts)
      for (auto& [key, d] : mine) {
        auto [it, fresh] = counts_[user].try_emplace(key, d);
        if (!fresh) add_to(it->second, d);
      }
    for (auto& [user, list] : predictions) {
      auto& into = predictions_[user];
      into.insert(into.begin(), list.begin(), list.end());
    }
  };
  try {
    while (!counts.empty()) {
      auto node = counts.begin();
      std::vector<ImportancePattern> list;
      list.reserve(node->second.size());
      for (const auto& [key, d] : node->second) list.push_back(d);
      store.add_pattern_counts(node->first, list);
      written += list.size();
      counts.erase(node);
    }
    while (!predictions.empty()) {
      auto node = predictions.begin();
      written += store.put_predictions(node->first, node->second);
      predictions.erase(node);
    }
  } catch (...) {
    keep();
    throw;
  }
  return written;
}

}  // namespace kioku
