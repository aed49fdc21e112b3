#include "search/vector_index.h"

#include <algorithm>
#include <Eigen/Core>

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

const float* ExactVectorIndex::find(const std::string& id) const {
  auto it = row_of_.find(id);
  return it == row_of_.end() ? nullptr : data_.data() + it->second * static_cast<size_t>(dimension_);
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
  if (ids_.empty() || k == 0) return {};
  // One matrix-vector product (Eigen vectorises it), then a partial
  // selection: far faster than a scalar loop feeding a heap.
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const RowMajor> matrix(data_.data(), static_cast<Eigen::Index>(ids_.size()), dimension_);
  Eigen::Map<const Eigen::VectorXf> q(query.data(), dimension_);
  const Eigen::VectorXf scores = matrix * q;
  std::vector<size_t> rows;
  rows.reserve(ids_.size());
  for (size_t row = 0; row < ids_.size(); ++row)
    if (!accept || accept(ids_[row])) rows.push_back(row);
  const size_t keep = std::min(k, rows.size());
  auto better = [&](size_t a, size_t b) { return scores[static_cast<Eigen::Index>(a)] > scores[static_cast<Eigen::Index>(b)]; };
  std::partial_sort(rows.begin(), rows.begin() + static_cast<long>(keep), rows.end(), better);
  std::vector<VectorHit> out;
  out.reserve(keep);
  for (size_t i = 0; i < keep; ++i) out.push_back({ids_[rows[i]], scores[static_cast<Eigen::Index>(rows[i])]});
  return out;
}

}  // namespace kioku
