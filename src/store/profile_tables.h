// The tables behind each part of ProfileStore::erase (src/store/profile.h),
// children before parents, shared by the SQLite and PostgreSQL profile stores.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"

namespace kioku {

// Throws kInvalidInput for a part that is not emotions, strategies,
// patterns, conversation or all.
inline std::vector<const char*> profile_tables_of(const std::string& part) {
  const bool all = part == "all";
  if (!all && part != "emotions" && part != "strategies" && part != "patterns" && part != "conversation")
    throw invalid_input("unknown profile part '" + part + "' (emotions, strategies, patterns, conversation or all)");
  std::vector<const char*> tables;
  if (all || part == "emotions") tables.push_back("profile_emotions");
  if (all || part == "strategies") tables.insert(tables.end(), {"profile_strategy_history", "profile_strategies"});
  if (all || part == "patterns")
    tables.insert(tables.end(), {"profile_importance_predictions", "profile_importance_patterns"});
  if (all || part == "conversation") tables.push_back("profile_conversations");
  return tables;
}

}  // namespace kioku
