// PDF: text per page with poppler-cpp, each page chunked, provenance page.
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <memory>
#include <mutex>

#include "core/error.h"
#include "core/text.h"
#include "ingest/formats.h"

namespace kioku {

namespace {

// poppler prints its parser's complaints on stderr by default, before and
// beside Kioku's one clear error line; a damaged PDF is reported by Kioku.
void silence_poppler() {
  static std::once_flag once;
  std::call_once(once, [] { poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr); });
}

}  // namespace

ImportResult import_pdf(std::string_view bytes, std::string_view name, const ImportOptions& options) {
  if (bytes.size() < 5 || bytes.substr(0, 5) != "%PDF-") throw invalid_input(std::string(name) + ": not a PDF file");
  silence_poppler();
  std::unique_ptr<poppler::document> doc(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!doc) throw invalid_input(std::string(name) + ": damaged PDF (cannot be opened)");
  if (doc->is_locked()) throw invalid_input(std::string(name) + ": the PDF is password-protected");
  ImportResult r;
  r.format = "pdf";
  const int pages = doc->pages();
  for (int p = 0; p < pages; ++p) {
    std::unique_ptr<poppler::page> page(doc->create_page(p));
    if (!page) throw invalid_input(std::string(name) + ": damaged PDF (page " + std::to_string(p + 1) + ")");
    auto utf8 = page->text().to_utf8();
    std::string text(utf8.begin(), utf8.end());
    if (!is_valid_utf8(text)) text = "";
    for (auto& chunk : chunk_text(text, options.max_chunk_chars, false)) {
      Memory m = draft_memory(options, name, std::move(chunk.text));
      m.provenance.page = p + 1;
      r.memories.push_back(std::move(m));
    }
  }
  if (r.memories.empty()) r.warnings.push_back("no text found (a scanned PDF needs OCR, which Kioku does not do yet)");
  return r;
}

}  // namespace kioku
