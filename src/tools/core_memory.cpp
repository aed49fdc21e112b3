#include "tools/core_memory.h"

#include <algorithm>
#include <sstream>

#include "core/error.h"

namespace kioku {

const std::vector<CoreBlockDefault>& default_core_blocks() {
  static const std::vector<CoreBlockDefault> defaults = {
      {"persona", 2048, false,
       "Who you are: your character, voice and the things you have decided about yourself. Keep it in your own words."},
      {"human", 2048, false,
       "What you know about the user that matters in every conversation: name, people, preferences, ongoing plans."},
      {"system", 1024, true, "Standing instructions from the user. Read-only for you: only the user edits it."},
  };
  return defaults;
}

size_t char_count(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

namespace {

bool is_default_label(const std::string& label) {
  for (const auto& d : default_core_blocks())
    if (d.label == label) return true;
  return false;
}

void check_label(const std::string& label) {
  if (label.empty() || label.size() > 64) throw invalid_input("a block label is 1 to 64 characters");
  for (char c : label)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      throw invalid_input("block label '" + label + "': use lower-case letters, digits, '_' and '-'");
}

void check_limit(int limit) {
  if (limit < 1 || limit > 100000) throw invalid_input("a block limit is 1 to 100000 characters");
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string cur;
  std::istringstream in(text);
  while (std::getline(in, cur)) lines.push_back(cur);
  if (!text.empty() && text.back() == '\n') lines.push_back("");
  return lines;
}

// Cuts at most max_chars code points.
std::string cut_chars(const std::string& text, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (chars == max_chars) return text.substr(0, i);
      ++chars;
    }
  }
  return text;
}

}  // namespace

std::string diff_lines(const std::string& before, const std::string& after) {
  const auto a = split_lines(before), b = split_lines(after);
  // Longest common subsequence table; blocks are at most a few thousand
  // characters, so a few hundred lines at worst.
  std::vector<std::vector<int>> lcs(a.size() + 1, std::vector<int>(b.size() + 1, 0));
  for (size_t i = a.size(); i-- > 0;)
    for (size_t j = b.size(); j-- > 0;)
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  std::string out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      out += "  " + a[i++] + "\n";
      ++j;
    } else if (j < b.size() && (i == a.size() || lcs[i][j + 1] >= lcs[i + 1][j])) {
      out += "+ " + b[j++] + "\n";
    } else {
      out += "- " + a[i++] + "\n";
    }
  }
  return out;
}

void CoreMemory::ensure_defaults() {
  if (defaults_checked_) return;
  for (const auto& d : default_core_blocks()) {
    if (store_.get_block(user_id_, d.label)) continue;
    CoreBlock b;
    b.label = d.label;
    b.limit = d.limit;
    b.read_only = d.read_only;
    b.description = d.description;
    CoreBlockAuthor author;
    author.note = "default block";
    try {
      store_.put_block(user_id_, b, author, 0);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kConflict) throw;  // another process created it first
    }
  }
  defaults_checked_ = true;
}

std::vector<CoreBlock> CoreMemory::blocks() {
  ensure_defaults();
  auto all = store_.list_blocks(user_id_);
  std::vector<CoreBlock> out;
  for (const auto& d : default_core_blocks())
    for (const auto& b : all)
      if (b.label == d.label) out.push_back(b);
  for (const auto& b : all)
    if (!is_default_label(b.label)) out.push_back(b);
  return out;
}

CoreBlock CoreMemory::get(const std::string& label) {
  ensure_defaults();
  if (auto b = store_.get_block(user_id_, label)) return *b;
  std::string labels;
  for (const auto& b : blocks()) labels += (labels.empty() ? "" : ", ") + b.label;
  throw not_found("no core memory block '" + label + "' (blocks: " + labels + ")");
}

CoreBlock CoreMemory::agent_write(CoreBlock block, std::string new_value, const CoreBlockAuthor& author,
                                  const char* what) {
  if (block.read_only && author.kind == "agent")
    throw conflict("core memory block '" + block.label + "' is read-only: only the user can change it");
  const size_t size = char_count(new_value);
  if (size > static_cast<size_t>(block.limit)) {
    throw too_large("cannot " + std::string(what) + " core memory block '" + block.label + "': it would hold " +
                    std::to_string(size) + " characters, over its limit of " + std::to_string(block.limit) +
                    " (it holds " + std::to_string(char_count(block.value)) +
                    " now). Nothing was changed. Make the text shorter, or condense the block with memory_rethink, "
                    "or move details to archival memory with archival_memory_insert.");
  }
  const int expected = block.version;
  block.value = std::move(new_value);
  return store_.put_block(user_id_, block, author, expected);
}

CoreBlock CoreMemory::append(const std::string& label, const std::string& content, const CoreBlockAuthor& author) {
  if (content.empty()) throw invalid_input("content is empty: nothing to append");
  CoreBlock b = get(label);
  std::string value = b.value.empty() ? content : b.value + "\n" + content;
  return agent_write(b, std::move(value), author, "append to");
}

CoreBlock CoreMemory::replace(const std::string& label, const std::string& old_content, const std::string& new_content,
                              const CoreBlockAuthor& author) {
  if (old_content.empty()) throw invalid_input("old_content is empty: say which text to replace");
  CoreBlock b = get(label);
  if (b.value.find(old_content) == std::string::npos)
    throw invalid_input("the text '" + old_content + "' is not in core memory block '" + label +
                        "': nothing was changed. Copy the exact text from the block.");
  std::string value = b.value;
  for (size_t pos = 0; (pos = value.find(old_content, pos)) != std::string::npos; pos += new_content.size())
    value.replace(pos, old_content.size(), new_content);
  return agent_write(b, std::move(value), author, "replace text in");
}

CoreBlock CoreMemory::insert(const std::string& label, const std::string& new_str, int insert_line,
                             const CoreBlockAuthor& author) {
  if (new_str.empty()) throw invalid_input("new_str is empty: nothing to insert");
  CoreBlock b = get(label);
  auto lines = b.value.empty() ? std::vector<std::string>{} : split_lines(b.value);
  if (insert_line < -1 || insert_line > static_cast<int>(lines.size()))
    throw invalid_input("insert_line " + std::to_string(insert_line) + " is outside block '" + label + "' (0 to " +
                        std::to_string(lines.size()) + ", or -1 for the end)");
  const size_t at = insert_line == -1 ? lines.size() : static_cast<size_t>(insert_line);
  const auto add = split_lines(new_str);
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at), add.begin(), add.end());
  std::string value;
  for (size_t i = 0; i < lines.size(); ++i) value += (i ? "\n" : "") + lines[i];
  return agent_write(b, std::move(value), author, "insert into");
}

CoreBlock CoreMemory::rethink(const std::string& label, const std::string& new_memory, const CoreBlockAuthor& author) {
  CoreBlock b = get(label);
  return agent_write(b, new_memory, author, "rewrite");
}

CoreBlock CoreMemory::create(const CoreBlock& block) {
  ensure_defaults();
  check_label(block.label);
  check_limit(block.limit);
  if (store_.get_block(user_id_, block.label)) throw conflict("core memory block '" + block.label + "' already exists");
  CoreBlock b = block;
  return store_.put_block(user_id_, b, CoreBlockAuthor{}, 0);
}

CoreBlock CoreMemory::edit(const std::string& label, const CoreBlockEdit& e) {
  CoreBlock b = get(label);
  if (e.value) b.value = *e.value;
  if (e.description) b.description = *e.description;
  if (e.limit) {
    check_limit(*e.limit);
    b.limit = *e.limit;
  }
  if (e.read_only) b.read_only = *e.read_only;
  return store_.put_block(user_id_, b, CoreBlockAuthor{}, e.expected_version ? e.expected_version : b.version);
}

CoreBlock CoreMemory::rollback(const std::string& label, int version) {
  CoreBlock current = get(label);
  CoreBlockVersion old = this->version(label, version);
  CoreBlock b = old.block;
  CoreBlockAuthor author;
  author.note = "rollback to version " + std::to_string(version);
  return store_.put_block(user_id_, b, author, current.version);
}

void CoreMemory::remove(const std::string& label) {
  get(label);
  if (is_default_label(label)) throw conflict("'" + label + "' is a default core memory block and cannot be removed");
  store_.remove_block(user_id_, label);
}

std::vector<CoreBlockVersion> CoreMemory::history(const std::string& label) {
  get(label);
  return store_.block_history(user_id_, label);
}

CoreBlockVersion CoreMemory::version(const std::string& label, int version) {
  get(label);
  if (auto v = store_.block_version(user_id_, label, version)) return *v;
  throw not_found("core memory block '" + label + "' has no version " + std::to_string(version));
}

std::string CoreMemory::diff(const std::string& label, int from, int to) {
  const std::string before = version(label, from).block.value;
  const std::string after = to == 0 ? get(label).value : version(label, to).block.value;
  return diff_lines(before, after);
}

nlohmann::json to_json(const CoreBlock& b) {
  const size_t chars = char_count(b.value);
  return {{"label", b.label},
          {"value", b.value},
          {"description", b.description},
          {"limit", b.limit},
          {"chars", chars},
          {"over_limit", chars > static_cast<size_t>(b.limit)},
          {"read_only", b.read_only},
          {"version", b.version},
          {"updated_at", format_iso8601(b.updated_at)}};
}

nlohmann::json to_json(const CoreBlockVersion& v) {
  nlohmann::json j = to_json(v.block);
  j.erase("updated_at");
  j["created_at"] = format_iso8601(v.created_at);
  j["author"] = v.author.kind;
  j["tool_call_id"] = v.author.tool_call_id;
  j["tool_name"] = v.author.tool_name;
  j["turn_id"] = v.author.turn_id;
  j["note"] = v.author.note;
  return j;
}

std::string render_core_blocks(const std::vector<CoreBlock>& blocks, size_t max_bytes) {
  // Shown sizes are the real ones; cutting only changes what is shown.
  std::vector<std::string> shown;
  for (const auto& b : blocks) shown.push_back(b.value);
  auto render = [&] {
    std::string out = "<memory_blocks>\n";
    for (size_t i = 0; i < blocks.size(); ++i) {
      const auto& b = blocks[i];
      const size_t chars = char_count(b.value);
      out += "<" + b.label + ">\n<description>" + b.description + "</description>\n<metadata>chars_current=" +
             std::to_string(chars) + " chars_limit=" + std::to_string(b.limit) + (b.read_only ? " read_only=true" : "") +
             (chars > static_cast<size_t>(b.limit) ? " over_limit=true" : "") + "</metadata>\n<value>\n" + shown[i];
      if (shown[i].size() < b.value.size())
        out += "\n[... " + std::to_string(chars - char_count(shown[i])) + " more characters not shown]";
      out += "\n</value>\n</" + b.label + ">\n";
    }
    return out + "</memory_blocks>\n";
  };
  std::string out = render();
  for (int round = 0; out.size() > max_bytes && round < 64; ++round) {
    // Cut the longest shown block by the overflow (at least a quarter of it).
    size_t longest = 0;
    for (size_t i = 1; i < shown.size(); ++i)
      if (shown[i].size() > shown[longest].size()) longest = i;
    if (shown.empty() || shown[longest].empty()) break;
    const size_t over = out.size() - max_bytes;
    const size_t keep_bytes = shown[longest].size() > over + shown[longest].size() / 4
                                  ? shown[longest].size() - std::max(over, shown[longest].size() / 4)
                                  : 0;
    shown[longest] = cut_chars(shown[longest], char_count(shown[longest].substr(0, keep_bytes)));
    out = render();
  }
  return out;
}

}  // namespace kioku
