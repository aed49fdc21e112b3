#include "search/query.h"

#include <algorithm>

#include "core/text.h"

namespace kioku {

std::vector<std::string> query_terms(std::string_view query) {
  const auto words = word_tokens(query);
  std::vector<std::string> terms;
  for (const auto& w : words)
    if (!is_stopword(w) && std::find(terms.begin(), terms.end(), w) == terms.end()) terms.push_back(w);
  if (terms.empty()) {
    for (const auto& w : words)
      if (std::find(terms.begin(), terms.end(), w) == terms.end()) terms.push_back(w);
  }
  return terms;
}

}  // namespace kioku
