// LearningBuffer: the learning signals of many requests (importance-pattern
// counts from searches, opened and used memories; the importance predicted
// for new memories), gathered in memory and written by flush() in one
// transaction per user and kind: the background loop flushes every tick, a
// session on its way out (the end of a CLI command) and anything that reads
// what was learned flush first. A write transaction per search or add held
// full-text search at 64 connections to 485 requests/s (729 without it), and
// adds to 2,000/s (3,100).
// Signals not yet flushed are lost with a crash: they are derived from what
// is stored, never user input. Thread-safe; shared by the sessions of one
// Engine.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "store/profile.h"

namespace kioku {

class LearningBuffer {
 public:
  // Adds counts; deltas for the same (kind, value) are summed.
  void add_counts(const std::string& user_id, const std::vector<ImportancePattern>& deltas);
  void add_prediction(const std::string& user_id, ImportancePrediction prediction);

  // Writes and forgets everything gathered. Counts go before predictions. A
  // prediction whose memory is gone since is dropped; on any other failure
  // what was not written is kept for the next flush and the error rethrown.
  // Returns how many rows were written.
  size_t flush(ProfileStore& store);
  bool empty() const;

 private:
  using PatternKey = std::pair<std::string, std::string>;
  mutable std::mutex mutex_;
  std::map<std::string, std::map<PatternKey, ImportancePattern>> counts_;  // by user
  std::map<std::string, std::vector<ImportancePrediction>> predictions_;   // by user
};

}  // namespace kioku
