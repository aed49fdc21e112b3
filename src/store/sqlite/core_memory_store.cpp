#include "store/sqlite/core_memory_store.h"

#include "core/error.h"

namespace kioku::sqlite {

namespace {

constexpr const char* kBlockColumns = "label, value, description, char_limit, read_only, version, updated_at";
constexpr const char* kVersionColumns =
    "label, value, description, char_limit, read_only, version, created_at, author, tool_call_id, tool_name, "
    "turn_id, note";

CoreBlock read_block(const Statement& st) {
  CoreBlock b;
  b.label = st.text(0);
  b.value = st.text(1);
  b.description = st.text(2);
  b.limit = static_cast<int>(st.integer(3));
  b.read_only = st.integer(4) != 0;
  b.version = static_cast<int>(st.integer(5));
  b.updated_at = from_millis(st.integer(6));
  return b;
}

CoreBlockVersion read_version(const Statement& st) {
  CoreBlockVersion v;
  v.block = read_block(st);
  v.created_at = v.block.updated_at;
  v.author.kind = st.text(7);
  v.author.tool_call_id = st.text(8);
  v.author.tool_name = st.text(9);
  v.author.turn_id = st.text(10);
  v.author.note = st.text(11);
  return v;
}

}  // namespace

std::vector<CoreBlock> SqliteCoreMemoryStore::list_blocks(const std::string& user_id) {
  auto st = db_.prepare(std::string("SELECT ") + kBlockColumns + " FROM core_blocks WHERE user_id = ? ORDER BY label");
  st.bind(1, user_id);
  std::vector<CoreBlock> out;
  while (st.step()) out.push_back(read_block(st));
  st.reset();
  return out;
}

std::optional<CoreBlock> SqliteCoreMemoryStore::get_block(const std::string& user_id, const std::string& label) {
  auto st = db_.prepare(std::string("SELECT ") + kBlockColumns + " FROM core_blocks WHERE user_id = ? AND label = ?");
  st.bind(1, user_id).bind(2, label);
  std::optional<CoreBlock> out;
  if (st.step()) out = read_block(st);
  st.reset();
  return out;
}

CoreBlock SqliteCoreMemoryStore::put_block(const std::string& user_id, const CoreBlock& block,
                                           const CoreBlockAuthor& author, std::optional<int> expected_version) {
  if (block.label.empty()) throw invalid_input("a core memory block needs a label");
  CoreBlock out = block;
  db_.transaction([&] {
    const auto current = get_block(user_id, block.label);
    const int current_version = current ? current->version : 0;
    if (expected_version && *expected_version != current_version)
      throw conflict("core memory block '" + block.label + "' is at version " + std::to_string(current_version) +
                     ", not " + std::to_string(*expected_version) + ": it changed meanwhile");
    out.version = current_version + 1;
    out.updated_at = clock_.now();
    if (current && out.updated_at < current->updated_at) out.updated_at = current->updated_at;
    auto up = db_.prepare(
        "INSERT INTO core_blocks(user_id, label, value, description, char_limit, read_only, version, updated_at) "
        "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(user_id, label) DO UPDATE SET value = excluded.value, "
        "description = excluded.description, char_limit = excluded.char_limit, read_only = excluded.read_only, "
        "version = excluded.version, updated_at = excluded.updated_at");
    up.bind(1, user_id).bind(2, out.label).bind(3, out.value).bind(4, out.description).bind(5, out.limit);
    up.bind(6, out.read_only ? 1 : 0).bind(7, out.version).bind(8, to_millis(out.updated_at)).run();
    auto ver = db_.prepare(
        "INSERT INTO core_block_versions(user_id, label, version, value, description, char_limit, read_only, "
        "created_at, author, tool_call_id, tool_name, turn_id, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
    ver.bind(1, user_id).bind(2, out.label).bind(3, out.version).bind(4, out.value).bind(5, out.description);
    ver.bind(6, out.limit).bind(7, out.read_only ? 1 : 0).bind(8, to_millis(out.updated_at)).bind(9, author.kind);
    ver.bind(10, author.tool_call_id).bind(11, author.tool_name).bind(12, author.turn_id).bind(13, author.note).run();
  });
  return out;
}

std::vector<CoreBlockVersion> SqliteCoreMemoryStore::block_history(const std::string& user_id,
                                                                   const std::string& label) {
  auto st = db_.prepare(std::string("SELECT ") + kVersionColumns +
                        " FROM core_block_versions WHERE user_id = ? AND label = ? ORDER BY version");
  st.bind(1, user_id).bind(2, label);
  std::vector<CoreBlockVersion> out;
  while (st.step()) out.push_back(read_version(st));
  st.reset();
  return out;
}

std::optional<CoreBlockVersion> SqliteCoreMemoryStore::block_version(const std::string& user_id,
                                                                     const std::string& label, int version) {
  auto st = db_.prepare(std::string("SELECT ") + kVersionColumns +
                        " FROM core_block_versions WHERE user_id = ? AND label = ? AND version = ?");
  st.bind(1, user_id).bind(2, label).bind(3, version);
  std::optional<CoreBlockVersion> out;
  if (st.step()) out = read_version(st);
  st.reset();
  return out;
}

bool SqliteCoreMemoryStore::remove_block(const std::string& user_id, const std::string& label) {
  bool removed = false;
  db_.transaction([&] {
    db_.prepare("DELETE FROM core_blocks WHERE user_id = ? AND label = ?").bind(1, user_id).bind(2, label).run();
    removed = db_.changes() > 0;
    db_.prepare("DELETE FROM core_block_versions WHERE user_id = ? AND label = ?").bind(1, user_id).bind(2, label).run();
  });
  return removed;
}

std::optional<TimePoint> SqliteCoreMemoryStore::blocks_changed_at(const std::string& user_id) {
  auto st = db_.prepare("SELECT max(updated_at) FROM core_blocks WHERE user_id = ?");
  st.bind(1, user_id);
  std::optional<TimePoint> out;
  if (st.step() && !st.is_null(0)) out = from_millis(st.integer(0));
  st.reset();
  return out;
}

}  // namespace kioku::sqlite
