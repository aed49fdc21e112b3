// Per-format importers, internal to src/ingest (the public API is importer.h).
#pragma once

#include <string_view>

#include "ingest/importer.h"

namespace kioku {

Memory draft_memory(const ImportOptions& options, std::string_view display_name, std::string content);
ImportResult import_text(std::string_view bytes, std::string_view name, const ImportOptions& options, bool markdown);
ImportResult import_json(std::string_view bytes, std::string_view name, const ImportOptions& options);
ImportResult import_csv(std::string_view bytes, std::string_view name, const ImportOptions& options);
ImportResult import_pdf(std::string_view bytes, std::string_view name, const ImportOptions& options);
ImportResult import_xlsx(std::string_view bytes, std::string_view name, const ImportOptions& options);

}  // namespace kioku
