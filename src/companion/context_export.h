// Context for other LLMs (seed 001, integration layer): the user's profile,
// preferences, facts and the memories relevant to a query, formatted for a
// target: Claude-style XML, an OpenAI system message, Markdown or JSON.
#pragma once

#include <string>
#include <string_view>

#include "search/searcher.h"
#include "store/store.h"

namespace kioku {

enum class ExportFormat { kClaude, kOpenAi, kMarkdown, kJson };
ExportFormat parse_export_format(std::string_view s);

struct ExportOptions {
  ExportFormat format = ExportFormat::kMarkdown;
  int relevant_limit = 10;
  int profile_limit = 20;
};

std::string export_context(MemoryStore& store, Searcher& searcher, const std::string& user_id,
                           const std::string& query, const ExportOptions& options);

// Escapes &, <, > and quotes for XML text.
std::string xml_escape(std::string_view text);

}  // namespace kioku
