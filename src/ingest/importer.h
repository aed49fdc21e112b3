// Document import: files and uploads become draft memories with provenance.
//
// Every importer parses the whole input before returning, so a malformed file
// yields an error (kInvalidInput naming the file and where it went wrong) and
// no memories at all: callers store a result in one transaction or not at all.
// Thread safety: stateless functions, safe from any thread.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/memory.h"

namespace kioku {

struct ImportOptions {
  std::string user_id = "local";
  std::vector<std::string> tags;
  size_t max_chunk_chars = 1200;
  size_t max_file_bytes = 50u << 20;
  // Archives (.xlsx): at most this many bytes unpacked from one file, and at
  // most this much cell text made from it, a shared string counted once per
  // cell that uses it. A small zip can otherwise expand a thousandfold.
  size_t max_unpacked_bytes = 64u << 20;
  // No single memory made by an import is larger (kTooLarge otherwise).
  size_t max_memory_bytes = 4u << 20;
  // The name used in provenance (e.g. an upload's original name); default: the path.
  std::string display_name;
};

struct ImportResult {
  std::vector<Memory> memories;
  std::vector<std::string> warnings;
  std::string format;  // "text", "markdown", "json", "chat", "csv", "pdf", "xlsx"
};

// Dispatches on the extension (case-insensitive). kNotFound for a missing
// file, kTooLarge over max_file_bytes, max_unpacked_bytes or max_memory_bytes, kInvalidInput for unsupported or
// malformed files.
ImportResult import_file(const std::filesystem::path& path, const ImportOptions& options);
// The same for bytes already in memory (uploads); file_name picks the format.
ImportResult import_bytes(std::string_view bytes, std::string_view file_name, const ImportOptions& options);

// The pieces, exposed for tests and for other layers.
struct TextChunk {
  std::string text;
  int first_line = 0;   // 1-based
  std::string section;  // markdown heading path, "Intro > Setup"
};
// Splits text into chunks of at most max_chars at paragraph, heading and
// sentence boundaries (never inside a UTF-8 sequence); markdown headings start
// a new chunk and code fences stay whole when they fit.
std::vector<TextChunk> chunk_text(std::string_view text, size_t max_chars, bool markdown);

// RFC 4180 CSV: quoted fields, doubled quotes, embedded commas and newlines,
// CRLF, a UTF-8 BOM. Throws kInvalidInput with the row number on an
// unterminated quote.
std::vector<std::vector<std::string>> parse_csv(std::string_view text, std::string_view name);

}  // namespace kioku
