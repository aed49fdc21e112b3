#include "core/json.h"

#include <optional>
#include <string>

#include "core/error.h"

namespace kioku {

namespace {

using DomBuilder = nlohmann::detail::json_sax_dom_parser<nlohmann::json>;

// nlohmann's DOM builder with a depth check. sax_parse is a template over the
// handler type, so these members hide (not override) the base's.
class DepthLimitedBuilder : public DomBuilder {
 public:
  DepthLimitedBuilder(nlohmann::json& root, size_t max_depth) : DomBuilder(root, false), max_depth_(max_depth) {}

  bool start_object(std::size_t elements) { return open() && DomBuilder::start_object(elements); }
  bool end_object() {
    --depth_;
    return DomBuilder::end_object();
  }
  bool start_array(std::size_t elements) { return open() && DomBuilder::start_array(elements); }
  bool end_array() {
    --depth_;
    return DomBuilder::end_array();
  }
  bool parse_error(std::size_t position, const std::string& token, const nlohmann::detail::exception& e) {
    error_position_ = position;
    return DomBuilder::parse_error(position, token, e);
  }

  bool too_deep() const { return too_deep_; }
  size_t error_position() const { return error_position_; }

 private:
  bool open() {
    if (++depth_ <= max_depth_) return true;
    too_deep_ = true;
    return false;
  }

  size_t max_depth_;
  size_t depth_ = 0;
  bool too_deep_ = false;
  size_t error_position_ = 0;
};

struct Parsed {
  nlohmann::json value;
  bool ok = false;
  bool too_deep = false;
  size_t error_position = 0;
};

Parsed parse_bounded(std::string_view text, size_t max_depth) {
  Parsed out;
  DepthLimitedBuilder builder(out.value, max_depth);
  out.ok = nlohmann::json::sax_parse(text.begin(), text.end(), &builder) && !builder.is_errored();
  out.too_deep = builder.too_deep();
  out.error_position = builder.error_position();
  if (!out.ok) out.value = nlohmann::json(nlohmann::json::value_t::discarded);
  return out;
}

}  // namespace

nlohmann::json parse_json(std::string_view text, std::string_view what, size_t max_depth) {
  Parsed p = parse_bounded(text, max_depth);
  if (p.ok) return std::move(p.value);
  if (p.too_deep) {
    throw invalid_input(std::string(what) + ": JSON nested deeper than " + std::to_string(max_depth) + " levels");
  }
  throw invalid_input(std::string(what) + ": malformed JSON at byte " + std::to_string(p.error_position));
}

nlohmann::json parse_json_or_discarded(std::string_view text, size_t max_depth) {
  return parse_bounded(text, max_depth).value;
}

namespace {

// A byte that JSON writes as itself inside a string, whatever the encoder's
// options: printable ASCII other than the quote and the backslash.
bool is_plain_json_byte(unsigned char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; }

// The strings of `["a","b",...]` as nlohmann's dump() writes a list of plain
// strings (no spaces, no escapes, ASCII), or nullopt for any other text,
// which the full parser then reads. Read once per search candidate: the
// parser's tree was half of reading a candidate's row.
std::optional<std::vector<std::string>> plain_string_list(std::string_view text) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return std::nullopt;
  std::vector<std::string> out;
  size_t i = 1;
  const size_t end = text.size() - 1;
  if (i == end) return out;
  while (true) {
    if (text[i] != '"') return std::nullopt;
    const size_t from = ++i;
    while (i < end && is_plain_json_byte(static_cast<unsigned char>(text[i]))) ++i;
    if (i >= end || text[i] != '"') return std::nullopt;
    out.emplace_back(text.substr(from, i - from));
    ++i;
    if (i == end) return out;
    if (text[i] != ',') return std::nullopt;
    ++i;
  }
}

}  // namespace

std::vector<std::string> json_string_list(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty() || text == "[]") return out;  // most lists: no parse
  if (auto plain = plain_string_list(text)) return std::move(*plain);
  const auto j = parse_json_or_discarded(text);
  if (!j.is_array()) return out;
  for (const auto& e : j)
    if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

std::string json_string_list_text(const std::vector<std::string>& list) {
  if (list.empty()) return "[]";
  size_t bytes = 1;
  for (const auto& s : list) {
    for (const char c : s)
      if (!is_plain_json_byte(static_cast<unsigned char>(c))) return nlohmann::json(list).dump();
    bytes += s.size() + 3;
  }
  std::string out;
  out.reserve(bytes);
  out += '[';
  for (const auto& s : list) {
    if (out.size() > 1) out += ',';
    out += '"';
    out += s;
    out += '"';
  }
  out += ']';
  return out;
}

}  // namespace kioku
