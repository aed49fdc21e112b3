#include "search/vector_index.h"

#include <algorithm>
#include <queue>

#include "core/error.h"

namespace kioku {

void ExactVectorIndex::upsert(const std::string& id, const std::vector<float>& vector) {
  if (static_cast<int>(vector.size()) != dimension_) {
    throw invalid_input("vector of dimension " + std::to_string(vector.size()) + " does not fit an index of " +
                        std::to_string(dimension_));
  }
  auto it = row_of_.find(id);
  if (it != row_of_.end()) {
    std::copy(vector.begin(), vector.end(), data_.begin() + static_cast<long>(it->second * dimension_));
    return;
  }
  row_of_.emplace(id, ids_.size());
  ids_.push_back(id);
  data_.insert(data_.end(), vector.begin(), vector.end());
}

void ExactVectorIndex::remove(const std::string& id) {
  auto it = row_of_.find(id);
  if (it == row_of_.end()) return;
  // Swap the last row into the hole so the matrix stays dense.
  const size_t row = it->second;
  const size_t last = ids_.size() - 1;
  if (row != last) {
    std::copy(data_.begin() + static_cast<long>(last * dimension_), data_.begin() + static_cast<long>((last + 1) * dimension_),
              data_.begin() + static_cast<long>(row * dimension_));
    ids_[row] = ids_[last];
    row_of_[ids_[row]] = row;
  }
  ids_.pop_back();
  data_.resize(ids_.size() * dimension_);
  row_of_.erase(it);
}

std::vector<VectorHit> ExactVectorIndex::search(const std::vector<float>& query, size_t k,
                                                const std::function<bool(const std::string&)>& accept) const {
  if (static_cast<int>(query.size()) != dimension_) {
    throw invalid_input("query vector of dimension " + std::to_string(query.size()) + " does not fit an index of " +
                        std::to_string(dimension_));
  }
  using Entry = std::pair<float, size_t>;
  // Min-heap of the best k seen so far.
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> best;
  const float* q = query.data();
  for (size_t row = 0; row < ids_.size(); ++row) {
    const float* v = data_.data() + row * dimension_;
    float dot = 0;
    for (int d = 0; d < dimension_; ++d) dot += q[d] * v[d];
    if (best.size() == k && dot <= best.top().first) continue;
    if (accept && !accept(ids_[row])) continue;
    best.emplace(dot, row);
    if (best.size() > k) best.pop();
  }
  std::vector<VectorHit> out(best.size());
  for (size_t i = out.size(); i-- > 0;) {
    out[i] = {ids_[best.top().second], best.top().first};
    best.pop();
  }
  return out;
}

}  // namespace kioku
