// JSON: arrays of objects or strings, {"messages": [...]} chat exports,
// ChatGPT's conversations.json, and lists of {role, content} messages.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <unordered_set>
#include <vector>

#include "core/error.h"
#include "core/json.h"
#include "core/text.h"
#include "ingest/formats.h"

namespace kioku {

namespace {

const char* kContentFields[] = {"content", "text", "body", "message", "note"};

// Text of a message "content": a string, a list of parts, or {"parts": [...]},
// nested in any way: the non-empty strings in document order, one per line.
// A walk with its own stack, not recursion (see core/json.h).
std::string text_of(const nlohmann::json& root) {
  std::string out;
  std::vector<const nlohmann::json*> unread{&root};
  while (!unread.empty()) {
    const nlohmann::json& v = *unread.back();
    unread.pop_back();
    if (v.is_string()) {
      const auto& s = v.get_ref<const std::string&>();
      if (s.empty()) continue;
      if (!out.empty()) out += '\n';
      out += s;
    } else if (v.is_array()) {
      for (auto it = v.rbegin(); it != v.rend(); ++it) {
        if (!it->is_object()) {
          unread.push_back(&*it);
        } else if (auto t = it->find("text"); t != it->end()) {
          unread.push_back(&*t);
        }
      }
    } else if (v.is_object()) {
      if (auto p = v.find("parts"); p != v.end()) unread.push_back(&*p);
      else if (auto t = v.find("text"); t != v.end()) unread.push_back(&*t);
    }
  }
  return out;
}

std::optional<TimePoint> time_of(const nlohmann::json& o, const std::string& where) {
  for (const char* f : {"timestamp", "event_time", "created_at", "create_time", "date", "time"}) {
    if (!o.contains(f) || o[f].is_null()) continue;
    const auto& v = o[f];
    if (v.is_number()) {
      double secs = v.get<double>();
      if (secs > 1e12) secs /= 1000;  // milliseconds
      // Years 0000-9999 only: a cast of anything larger to an integer is undefined.
      if (!(secs >= -62167219200.0 && secs <= 253402300799.0)) {
        throw invalid_input(where + ": '" + f + "' is out of range (a Unix time in seconds or milliseconds)");
      }
      return from_millis(static_cast<int64_t>(secs * 1000));
    }
    if (v.is_string()) {
      if (auto t = parse_iso8601(v.get<std::string>())) return t;
    }
  }
  return std::nullopt;
}

std::string role_of(const nlohmann::json& m) {
  for (const char* f : {"role", "author", "sender", "from", "speaker", "name"}) {
    if (!m.contains(f)) continue;
    if (m[f].is_string()) return m[f].get<std::string>();
    if (m[f].is_object() && m[f].contains("role") && m[f]["role"].is_string()) return m[f]["role"].get<std::string>();
  }
  return "";
}

bool looks_like_message(const nlohmann::json& o) {
  return o.is_object() && (o.contains("role") || o.contains("author") || o.contains("sender") || o.contains("from")) &&
         (o.contains("content") || o.contains("text"));
}

void add_chat_message(ImportResult& r, const ImportOptions& options, std::string_view name, const nlohmann::json& msg,
                      const std::string& conversation, size_t index) {
  auto body = msg.find("content");
  if (body == msg.end()) body = msg.find("text");
  if (body == msg.end()) return;
  std::string text = text_of(*body);
  if (text.find_first_not_of(" \t\n\r") == std::string::npos) return;
  const std::string role = role_of(msg);
  if (role == "system" || role == "tool") return;
  Memory m = draft_memory(options, name, role.empty() ? text : role + ": " + text);
  m.type = std::string(memory_types::kChat);
  m.raw_content = text;
  m.memory_kind = MemoryKind::kEvent;
  m.provenance.message_id = msg.contains("id") && msg["id"].is_string()
                                ? msg["id"].get<std::string>()
                                : conversation + "#" + std::to_string(index);
  if (auto t = time_of(msg, std::string(name) + ": message " + std::to_string(index + 1))) m.event_time = *t;
  m.metadata["role"] = role;
  if (!conversation.empty()) m.metadata["conversation"] = conversation;
  r.memories.push_back(std::move(m));
}

// ChatGPT export: conversations with a "mapping" of nodes. Messages are
// ordered by create_time (the mapping is a tree keyed by node id).
void import_chatgpt(ImportResult& r, const ImportOptions& options, std::string_view name, const nlohmann::json& convs) {
  for (size_t c = 0; c < convs.size(); ++c) {
    const auto& conv = convs[c];
    const auto mapping = conv.is_object() ? conv.find("mapping") : conv.end();
    if (!conv.is_object() || mapping == conv.end() || !mapping->is_object()) {
      throw invalid_input(std::string(name) + ": conversation " + std::to_string(c + 1) + " has no \"mapping\" object");
    }
    const std::string title = conv.contains("title") && conv["title"].is_string() ? conv["title"].get<std::string>() : "";
    const std::string conv_id = conv.contains("id") && conv["id"].is_string() ? conv["id"].get<std::string>() : title;
    std::vector<nlohmann::json> messages;
    for (const auto& [node_id, node] : mapping->items()) {
      if (!node.is_object() || !node.contains("message") || !node["message"].is_object()) continue;
      nlohmann::json msg = node["message"];
      if (!msg.contains("id")) msg["id"] = node_id;
      messages.push_back(msg);
    }
    std::stable_sort(messages.begin(), messages.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
      const double ta = a.contains("create_time") && a["create_time"].is_number() ? a["create_time"].get<double>() : 0;
      const double tb = b.contains("create_time") && b["create_time"].is_number() ? b["create_time"].get<double>() : 0;
      return ta < tb;
    });
    for (size_t i = 0; i < messages.size(); ++i) {
      add_chat_message(r, options, name, messages[i], conv_id, i);
      if (!r.memories.empty() && !title.empty()) r.memories.back().metadata["title"] = title;
    }
  }
}

}  // namespace

ImportResult import_json(std::string_view bytes, std::string_view name, const ImportOptions& options) {
  nlohmann::json doc = parse_json(bytes, name);
  ImportResult r;
  r.format = "json";
  if (doc.is_object() && doc.contains("messages") && doc["messages"].is_array()) {
    r.format = "chat";
    std::string conv(name);
    if (doc.contains("id") && doc["id"].is_string()) conv = doc["id"].get<std::string>();
    if (doc.contains("title") && doc["title"].is_string()) conv = doc["title"].get<std::string>();
    const auto& messages = doc["messages"];
    for (size_t i = 0; i < messages.size(); ++i) {
      if (!messages[i].is_object()) {
        throw invalid_input(std::string(name) + ": message " + std::to_string(i + 1) + " is not an object");
      }
      add_chat_message(r, options, name, messages[i], conv, i);
    }
    return r;
  }
  if (!doc.is_array()) {
    if (doc.is_object()) doc = nlohmann::json::array({doc});
    else throw invalid_input(std::string(name) + ": expected a JSON array or object");
  }
  if (!doc.empty() && doc[0].is_object() && doc[0].contains("mapping")) {
    r.format = "chat";
    import_chatgpt(r, options, name, doc);
    return r;
  }
  if (!doc.empty() && looks_like_message(doc[0])) {
    r.format = "chat";
    for (size_t i = 0; i < doc.size(); ++i) {
      if (!doc[i].is_object()) throw invalid_input(std::string(name) + ": item " + std::to_string(i + 1) + " is not an object");
      add_chat_message(r, options, name, doc[i], std::string(name), i);
    }
    return r;
  }
  for (size_t i = 0; i < doc.size(); ++i) {
    const auto& item = doc[i];
    const std::string where = std::string(name) + ": item " + std::to_string(i + 1);
    if (item.is_string()) {
      if (item.get<std::string>().empty()) continue;
      Memory m = draft_memory(options, name, item.get<std::string>());
      m.type = std::string(memory_types::kNote);
      m.provenance.row = static_cast<int>(i + 1);
      r.memories.push_back(std::move(m));
      continue;
    }
    if (!item.is_object()) throw invalid_input(where + " is neither an object nor a string");
    std::string content;
    for (const char* f : kContentFields) {
      if (item.contains(f)) {
        content = text_of(item[f]);
        if (!content.empty()) break;
      }
    }
    if (content.empty()) throw invalid_input(where + " has no content, text, body or message field");
    Memory m;
    try {
      nlohmann::json fields = item;
      fields["content"] = content;
      fields.erase("id");  // ids are the store's to assign
      fields.erase("user_id");
      m = memory_from_json(fields);
    } catch (const Error& e) {
      throw invalid_input(where + ": " + e.what());
    }
    m.user_id = options.user_id;
    if (!item.contains("type")) m.type = std::string(memory_types::kNote);
    if (!item.contains("source")) m.source = Source::kImported;
    if (auto t = time_of(item, where); t && to_millis(m.event_time) == 0) m.event_time = *t;
    std::unordered_set<std::string> have(m.tags.begin(), m.tags.end());
    for (const auto& t : options.tags)
      if (have.insert(t).second) m.tags.push_back(t);
    m.provenance.kind = "file";
    m.provenance.file = std::string(name);
    m.provenance.row = static_cast<int>(i + 1);
    r.memories.push_back(std::move(m));
  }
  if (r.memories.empty()) r.warnings.push_back("the file holds no memories");
  return r;
}

}  // namespace kioku
