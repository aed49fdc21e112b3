#include "bots/bluesky/rich_text.h"

#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <memory>

#include "bots/bluesky/bluesky.h"
#include "core/error.h"

namespace kioku {

size_t count_graphemes(const std::string& text) {
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::BreakIterator> it(icu::BreakIterator::createCharacterInstance(icu::Locale::getRoot(), status));
  if (U_FAILURE(status)) throw Error(ErrorCode::kInternal, std::string("ICU grapheme iterator: ") + u_errorName(status));
  const icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  it->setText(u);
  size_t count = 0;
  it->first();
  while (it->next() != icu::BreakIterator::DONE) ++count;
  return count;
}

namespace bsky {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Bluesky's own clients only start a link or mention after a space, an
// opening parenthesis or the start of the text, so "a@b.com" stays an address.
bool starts_token(std::string_view text, size_t pos) {
  return pos == 0 || is_space(text[pos - 1]) || text[pos - 1] == '(';
}

bool is_handle_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

}  // namespace

bool is_valid_handle(std::string_view handle) {
  if (handle.empty() || handle.size() > 253) return false;
  size_t segments = 0;
  std::string_view last;
  for (size_t start = 0; start <= handle.size();) {
    size_t dot = handle.find('.', start);
    if (dot == std::string_view::npos) dot = handle.size();
    std::string_view seg = handle.substr(start, dot - start);
    if (seg.empty() || seg.size() > 63 || !is_alnum(seg.front()) || !is_alnum(seg.back())) return false;
    for (char c : seg)
      if (!is_alnum(c) && c != '-') return false;
    ++segments;
    last = seg;
    start = dot + 1;
  }
  return segments >= 2 && !(last.front() >= '0' && last.front() <= '9');
}

std::vector<RichTextSpan> find_rich_text_spans(std::string_view text) {
  std::vector<RichTextSpan> spans;
  for (size_t i = 0; i < text.size();) {
    if (!starts_token(text, i)) {
      ++i;
      continue;
    }
    const std::string_view rest = text.substr(i);
    if (rest.starts_with("https://") || rest.starts_with("http://")) {
      size_t end = i;
      while (end < text.size() && !is_space(text[end])) ++end;
      std::string_view url = text.substr(i, end - i);
      // Sentence punctuation after a link belongs to the sentence.
      while (!url.empty()) {
        const char c = url.back();
        if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == '"' || c == '\'') {
          url.remove_suffix(1);
        } else if (c == ')' && std::count(url.begin(), url.end(), ')') > std::count(url.begin(), url.end(), '(')) {
          url.remove_suffix(1);
        } else {
          break;
        }
      }
      const size_t scheme_len = url.starts_with("https://") ? 8 : 7;
      if (url.size() > scheme_len) spans.push_back({RichTextSpan::Kind::kLink, i, i + url.size(), std::string(url)});
      i = end;
      continue;
    }
    if (text[i] == '@') {
      size_t end = i + 1;
      while (end < text.size() && is_handle_char(text[end])) ++end;
      std::string_view handle = text.substr(i + 1, end - i - 1);
      while (!handle.empty() && (handle.back() == '.' || handle.back() == '-')) handle.remove_suffix(1);
      if (is_valid_handle(handle))
        spans.push_back({RichTextSpan::Kind::kMention, i, i + 1 + handle.size(), std::string(handle)});
      i = end;
      continue;
    }
    ++i;
  }
  return spans;
}

}  // namespace bsky
}  // namespace kioku
