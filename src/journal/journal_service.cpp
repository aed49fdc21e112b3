#include "journal/journal_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/text.h"

namespace kioku {

namespace {

std::string date_of(TimePoint t) { return format_iso8601(t).substr(0, 10); }
std::string clock_time_of(TimePoint t) { return format_iso8601(t).substr(11, 5); }

nlohmann::json entries_json(const std::vector<JournalEntry>& entries) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& e : entries) {
    a.push_back({{"id", e.id},
                 {"timestamp", format_iso8601(e.timestamp)},
                 {"type", e.type},
                 {"content", e.content},
                 {"media_path", e.media_path},
                 {"image_description", e.image_description}});
  }
  return a;
}

std::vector<JournalEntry> entries_from_json(const std::string& text) {
  std::vector<JournalEntry> out;
  auto a = parse_json_or_discarded(text);
  if (!a.is_array()) return out;
  for (const auto& j : a) {
    JournalEntry e;
    e.id = j.value("id", "");
    e.timestamp = parse_iso8601(j.value("timestamp", "")).value_or(TimePoint{});
    e.type = j.value("type", "text");
    e.content = j.value("content", "");
    e.media_path = j.value("media_path", "");
    e.image_description = j.value("image_description", "");
    out.push_back(std::move(e));
  }
  return out;
}


}  // namespace

std::string sniff_image_type(std::string_view b) {
  auto starts = [&](std::string_view magic, size_t at = 0) { return b.size() >= at + magic.size() && b.substr(at, magic.size()) == magic; };
  if (starts("\xFF\xD8\xFF")) return "jpg";
  if (starts("\x89PNG\r\n\x1A\n")) return "png";
  if (starts("GIF87a") || starts("GIF89a")) return "gif";
  if (starts("RIFF") && starts("WEBP", 8)) return "webp";
  return "";
}

void write_file_atomically(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  std::filesystem::create_directories(path.parent_path());
  const std::filesystem::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw io_error("cannot write " + tmp.string());
  ::fchmod(fd, mode);  // a leftover .tmp keeps its old mode through O_CREAT
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      ::close(fd);
      throw io_error("cannot write " + tmp.string());
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) throw io_error("cannot sync " + tmp.string());
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw io_error("cannot move " + tmp.string() + " to " + path.string() + ": " + ec.message());
}

CompiledJournal PlainJournalCompiler::compile(const std::vector<JournalEntry>& entries, TimePoint started_at) {
  CompiledJournal out;
  out.needs_recompile = true;
  std::map<std::string, int> word_counts;
  std::string first_text;
  std::ostringstream body;
  std::string last_date;
  for (const auto& e : entries) {
    const std::string date = date_of(e.timestamp);
    if (date != last_date) {
      body << (last_date.empty() ? "" : "\n") << "## " << date << "\n\n";
      last_date = date;
    }
    body << "**" << clock_time_of(e.timestamp) << "** ";
    if (e.type == "image") {
      const std::string alt = !e.image_description.empty() ? e.image_description : e.content;
      body << "![" << (alt.empty() ? "photo" : alt) << "](" << e.media_path << ")";
      if (!e.content.empty() && e.content != alt) body << "\n\n" << e.content;
      body << "\n\n";
    } else {
      body << e.content << "\n\n";
    }
    const std::string text = e.content + " " + e.image_description;
    if (first_text.empty() && !e.content.empty()) first_text = e.content;
    for (const auto& w : word_tokens(text))
      if (!is_stopword(w) && w.size() > 3) ++word_counts[w];
  }
  std::string snippet = first_text.substr(0, std::min<size_t>(first_text.find('\n'), first_text.size()));
  snippet = truncate_utf8(snippet, 60);
  out.title = "Journal, " + date_of(started_at) + (snippet.empty() ? "" : ": " + snippet);
  out.body = body.str();
  while (!out.body.empty() && out.body.back() == '\n') out.body.pop_back();
  out.body += "\n";
  std::vector<std::pair<std::string, int>> words(word_counts.begin(), word_counts.end());
  std::stable_sort(words.begin(), words.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  out.tags.push_back("journal");
  for (size_t i = 0; i < words.size() && out.tags.size() < 6; ++i) out.tags.push_back(words[i].first);
  return out;
}

JournalService::JournalService(MemoryStore& memories, JournalDraftStore& drafts, JournalCompiler& compiler,
                               std::filesystem::path journals_dir, std::filesystem::path media_dir,
                               const TimeSource& clock)
    : memories_(memories),
      drafts_(drafts),
      compiler_(compiler),
      journals_dir_(std::move(journals_dir)),
      media_dir_(std::move(media_dir)),
      clock_(clock) {}

void JournalService::step(std::string_view name) {
  if (hook_) hook_(name);
}

JournalSession JournalService::start(const std::string& user_id) { return drafts_.start_session(user_id, clock_.now()); }

std::optional<JournalSession> JournalService::session_for_new_entries(const std::string& user_id) {
  auto session = drafts_.open_session(user_id);
  if (!session) return std::nullopt;
  // The session's journal is already stored (a `done` stopped before
  // clearing): what is added now belongs to the next journal.
  if (auto stored = memories_.get_journal(user_id, session->id)) {
    return drafts_.continue_session(session->id, stored->source_entry_ids, clock_.now());
  }
  return session;
}

JournalEntry JournalService::add_text(const std::string& user_id, const std::string& text) {
  if (text.empty()) throw invalid_input("a journal entry needs text");
  auto session = session_for_new_entries(user_id);
  if (!session) throw conflict("no open journal session: start one with `kioku journal start`");
  JournalEntry e;
  e.type = "text";
  e.content = text;
  return drafts_.add_entry(session->id, e);
}

JournalEntry JournalService::add_image(const std::string& user_id, const std::filesystem::path& image,
                                       const std::string& caption) {
  auto session = session_for_new_entries(user_id);
  if (!session) throw conflict("no open journal session: start one with `kioku journal start`");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(image, ec)) throw not_found("no image file at " + image.string());
  std::ifstream in(image, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string kind = sniff_image_type(bytes.substr(0, 16));
  if (prepare_image_) {
    try {
      bytes = prepare_image_(bytes);
    } catch (const Error& e) {
      throw invalid_input(image.string() + ": " + e.what());
    }
    kind = "jpg";
  } else if (kind.empty()) {
    throw invalid_input(image.string() + " is not a JPEG, PNG, GIF or WebP image");
  }
  // Content-addressed: adding the same photo twice keeps one file.
  const std::filesystem::path stored = media_dir_ / (sha256_hex(bytes) + "." + kind);
  if (!std::filesystem::exists(stored)) write_file_atomically(stored, bytes);
  JournalEntry e;
  e.type = "image";
  e.content = caption;
  e.media_path = stored.string();
  return drafts_.add_entry(session->id, e);
}

std::optional<JournalStatus> JournalService::status(const std::string& user_id) {
  auto session = drafts_.open_session(user_id);
  if (!session) return std::nullopt;
  return JournalStatus{*session, drafts_.entries(session->id)};
}

std::filesystem::path JournalService::export_markdown(const JournalSession& session, const CompiledJournal& c) {
  const auto path = journals_dir_ / (date_of(session.started_at) + "_" + session.id + ".md");
  std::ostringstream md;
  md << "# " << c.title << "\n\n";
  if (!c.tags.empty()) {
    md << "Tags:";
    for (const auto& t : c.tags) md << " #" << t;
    md << "\n\n";
  }
  md << c.body;
  write_file_atomically(path, md.str());
  return path;
}

Journal JournalService::done(const std::string& user_id) {
  auto session = drafts_.open_session(user_id);
  if (!session) throw conflict("no open journal session to finish");
  if (auto existing = memories_.get_journal(user_id, session->id)) {
    // A previous `done` stored the journal and stopped before clearing.
    // Entries added since then are not in it: they move to a new session,
    // which this `done` compiles in turn.
    step("clear");
    const auto& compiled = existing->source_entry_ids;
    const auto pending = drafts_.entries(session->id);
    const bool any_late = std::any_of(pending.begin(), pending.end(), [&](const JournalEntry& e) {
      return std::find(compiled.begin(), compiled.end(), e.id) == compiled.end();
    });
    if (!any_late) {
      drafts_.discard_session(session->id);
      return *existing;
    }
    drafts_.continue_session(session->id, compiled, clock_.now());
    session = drafts_.open_session(user_id);
    if (!session) throw conflict("no open journal session to finish");
  }
  auto entries = drafts_.entries(session->id);
  if (entries.empty()) throw conflict("the journal session has no entries yet (add some, or cancel it)");

  step("compile");
  CompiledJournal compiled = compiler_.compile(entries, session->started_at);

  step("export");
  const auto markdown_path = export_markdown(*session, compiled);

  step("store");
  Journal journal;
  journal.id = session->id;
  journal.user_id = user_id;
  journal.title = compiled.title;
  journal.body = compiled.body;
  journal.tags = compiled.tags;
  journal.markdown_path = markdown_path.string();
  journal.needs_recompile = compiled.needs_recompile;
  journal.created_at = clock_.now();
  for (const auto& e : entries) journal.source_entry_ids.push_back(e.id);
  Memory mirror;
  mirror.user_id = user_id;
  mirror.type = std::string(memory_types::kJournal);
  mirror.content = compiled.title + "\n\n" + compiled.body;
  mirror.raw_content = entries_json(entries).dump();
  mirror.tags = compiled.tags;
  mirror.source = Source::kManual;
  mirror.memory_kind = MemoryKind::kEvent;
  mirror.importance = 0.6;
  mirror.event_time = session->started_at;
  mirror.provenance.kind = "journal";
  mirror.provenance.message_id = session->id;
  mirror.provenance.file = markdown_path.string();
  mirror.metadata = {{"journal_id", session->id}, {"title", compiled.title}};
  memories_.add_journal(journal, mirror);

  step("clear");
  drafts_.discard_session(session->id);
  return memories_.get_journal(user_id, session->id).value_or(journal);
}

void JournalService::cancel(const std::string& user_id, bool confirmed) {
  auto session = drafts_.open_session(user_id);
  if (!session) throw conflict("no open journal session to cancel");
  if (!confirmed) {
    throw invalid_input("cancelling discards " + std::to_string(session->entry_count) +
                        " journal entries; confirm with --yes");
  }
  drafts_.discard_session(session->id);
}

bool JournalService::recompile(const std::string& user_id, const std::string& journal_id, JournalCompiler& compiler) {
  auto journal = memories_.get_journal(user_id, journal_id);
  if (!journal || !journal->needs_recompile) return true;  // gone, or done already
  auto mirror = memories_.get(user_id, journal->memory_id);
  if (!mirror) return true;
  auto entries = entries_from_json(mirror->raw_content);
  if (entries.empty()) return true;
  CompiledJournal c = compiler.compile(entries, mirror->event_time);
  if (c.needs_recompile) return false;  // still no model: nothing gained
  JournalSession session;
  session.id = journal->id;
  session.started_at = mirror->event_time;
  journal->title = c.title;
  journal->body = c.body;
  journal->tags = c.tags;
  journal->needs_recompile = false;
  journal->markdown_path = export_markdown(session, c).string();
  memories_.update_journal(*journal);
  return true;
}

int JournalService::recompile_pending(const std::string& user_id, JournalCompiler& compiler, int limit) {
  int updated = 0;
  for (auto& journal : memories_.list_journals(user_id, 1000)) {
    if (!journal.needs_recompile || updated >= limit) continue;
    if (recompile(user_id, journal.id, compiler)) ++updated;
  }
  return updated;
}

}  // namespace kioku
