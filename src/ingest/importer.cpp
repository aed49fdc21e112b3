#include "ingest/importer.h"

#include <algorithm>
#include <cctype>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/text.h"
#include "ingest/formats.h"

namespace kioku {

namespace {

std::string lower_extension(std::string_view name) {
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return "";
  std::string ext(name.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

}  // namespace

Memory draft_memory(const ImportOptions& options, std::string_view display_name, std::string content) {
  Memory m;
  m.user_id = options.user_id;
  m.type = std::string(memory_types::kDocument);
  m.content = std::move(content);
  m.source = Source::kImported;
  m.tags = options.tags;
  m.provenance.kind = "file";
  m.provenance.file = std::string(display_name);
  return m;
}

ImportResult import_text(std::string_view bytes, std::string_view name, const ImportOptions& options, bool markdown) {
  if (!is_valid_utf8(bytes)) throw invalid_input(std::string(name) + ": not valid UTF-8 text");
  if (bytes.size() >= 3 && bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  ImportResult result;
  result.format = markdown ? "markdown" : "text";
  for (auto& chunk : chunk_text(bytes, options.max_chunk_chars, markdown)) {
    Memory m = draft_memory(options, name, std::move(chunk.text));
    m.provenance.line = chunk.first_line;
    if (!chunk.section.empty()) m.metadata["section"] = chunk.section;
    result.memories.push_back(std::move(m));
  }
  if (result.memories.empty()) result.warnings.push_back("the file has no text");
  return result;
}

ImportResult import_bytes(std::string_view bytes, std::string_view file_name, const ImportOptions& options) {
  if (bytes.size() > options.max_file_bytes) {
    throw too_large(std::string(file_name) + " is " + std::to_string(bytes.size() >> 20) + " MiB, over the limit of " +
                    std::to_string(options.max_file_bytes >> 20) + " MiB");
  }
  const std::string name = options.display_name.empty() ? std::string(file_name) : options.display_name;
  const std::string ext = lower_extension(file_name);
  auto checked = [&](ImportResult r) {
    for (const auto& m : r.memories) {
      if (m.content.size() > options.max_memory_bytes) {
        throw too_large(name + ": one item would be a memory of " + std::to_string(m.content.size() >> 10) +
                        " KiB, over the limit of " + std::to_string(options.max_memory_bytes >> 10) + " KiB");
      }
    }
    return r;
  };
  if (ext == "txt" || ext == "text" || ext == "log") return checked(import_text(bytes, name, options, false));
  if (ext == "md" || ext == "markdown") return checked(import_text(bytes, name, options, true));
  if (ext == "json") return checked(import_json(bytes, name, options));
  if (ext == "csv") return checked(import_csv(bytes, name, options));
  if (ext == "pdf") return checked(import_pdf(bytes, name, options));
  if (ext == "xlsx") return checked(import_xlsx(bytes, name, options));
  throw invalid_input(std::string(file_name) + ": unsupported file type '" + (ext.empty() ? "" : "." + ext) +
                      "' (supported: .txt .md .json .csv .pdf .xlsx)");
}

ImportResult import_file(const std::filesystem::path& path, const ImportOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw not_found("no such file: " + path.string());
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > options.max_file_bytes) {
    throw too_large(path.string() + " is " + std::to_string(size >> 20) + " MiB, over the limit of " +
                    std::to_string(options.max_file_bytes >> 20) + " MiB");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error("cannot read " + path.string());
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ImportOptions named = options;
  if (named.display_name.empty()) named.display_name = path.string();
  return import_bytes(bytes, path.filename().string(), named);
}

}  // namespace kioku
