// Journal mode (seed 000): entries go silently to journal.db; `done` compiles
// them into an article stored in memory.db.
//
// NOTES ON THE DESIGN OF `done` (crash safety across two databases)
// A journal's id is its session's id. `done` runs these steps, each of which
// is safe to repeat, so a crash anywhere is repaired by running `done` again:
//   1. compile   read the session's entries and compile title/body/tags.
//                Touches nothing on disk.
//   2. export    write <journals>/<date>_<session>.md via a temporary file and
//                rename(): the file is either the old one or the new one.
//   3. store     in ONE memory.db transaction, insert the journal row and its
//                memory mirror, unless a journal with this id already exists.
//   4. clear     in ONE journal.db transaction, delete the session and entries.
// Invariants: entries leave journal.db only after step 3 committed (nothing is
// lost); step 3 is keyed by the session id (nothing is duplicated). Because
// SQLite in WAL mode cannot commit two files atomically, 3 and 4 are separate
// commits: a crash between them leaves a stored journal and a stale session,
// and the next `done` skips 3 and finishes 4. Entries added to such a stale
// session (`journal add` after the crash) are not in the stored journal: add
// and `done` first move them to a new session (one journal.db transaction),
// so they go into the next journal instead of being cleared with the old one.
// The entries are also kept, as JSON, in the journal memory's raw_content so
// that a journal compiled without an LLM can be re-compiled later.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/memory.h"
#include "core/time.h"
#include "store/store.h"

namespace kioku {

struct CompiledJournal {
  std::string title;
  std::string body;  // markdown
  std::vector<std::string> tags;
  bool needs_recompile = false;  // true when compiled without an LLM
};

// Turns a session's entries into an article. The LLM compiler comes with the
// companion layer; PlainJournalCompiler works offline.
class JournalCompiler {
 public:
  virtual ~JournalCompiler() = default;
  virtual CompiledJournal compile(const std::vector<JournalEntry>& entries, TimePoint started_at) = 0;
};

// A deterministic compile without an LLM: a dated title, each entry under its
// time, images as markdown images, and the most frequent topic words as tags.
// Marks its result needs_recompile.
class PlainJournalCompiler final : public JournalCompiler {
 public:
  CompiledJournal compile(const std::vector<JournalEntry>& entries, TimePoint started_at) override;
};

struct JournalStatus {
  JournalSession session;
  std::vector<JournalEntry> entries;
};

class JournalService {
 public:
  // Called with the name of each step of done() ("compile", "export",
  // "store", "clear") just before it runs; tests throw from it to simulate a
  // crash at that point.
  using StepHook = std::function<void(std::string_view step)>;

  JournalService(MemoryStore& memories, JournalDraftStore& drafts, JournalCompiler& compiler,
                 std::filesystem::path journals_dir, std::filesystem::path media_dir,
                 const TimeSource& clock = system_time());

  void set_step_hook(StepHook hook) { hook_ = std::move(hook); }
  // Turns a photo's bytes into what is kept (e.g. shrunk JPEG). Throws
  // invalid_input for non-images. Without one, photos are kept as they are.
  using ImagePreparer = std::function<std::string(std::string_view bytes)>;
  void set_image_preparer(ImagePreparer preparer) { prepare_image_ = std::move(preparer); }

  // Throws kConflict when a session is already open.
  JournalSession start(const std::string& user_id);
  // Persists the entry before returning. Throws kConflict without a session.
  JournalEntry add_text(const std::string& user_id, const std::string& text);
  // Copies the image into the media folder (content-addressed), then persists
  // the entry. Throws kNotFound / kInvalidInput for missing or non-image files.
  JournalEntry add_image(const std::string& user_id, const std::filesystem::path& image, const std::string& caption);
  std::optional<JournalStatus> status(const std::string& user_id);
  // Compiles, exports, stores and clears (see the notes above).
  Journal done(const std::string& user_id);
  // Discards the open session's drafts. Refuses (kInvalidInput) unless confirmed.
  void cancel(const std::string& user_id, bool confirmed);

  // Re-compiles one journal marked needs_recompile (the `recompile_journal`
  // job). Returns false when the compiler still could not do better (no
  // model answered), true when it is done or nothing is left to do.
  bool recompile(const std::string& user_id, const std::string& journal_id, JournalCompiler& compiler);
  // Re-compiles journals marked needs_recompile with `compiler` (e.g. once an
  // LLM is configured). Returns how many were updated.
  int recompile_pending(const std::string& user_id, JournalCompiler& compiler, int limit = 20);

 private:
  void step(std::string_view name);
  // The open session, moved on to a new one first when its journal is
  // already stored (see continue_session in store.h).
  std::optional<JournalSession> session_for_new_entries(const std::string& user_id);
  std::filesystem::path export_markdown(const JournalSession& session, const CompiledJournal& compiled);

  MemoryStore& memories_;
  JournalDraftStore& drafts_;
  JournalCompiler& compiler_;
  std::filesystem::path journals_dir_;
  std::filesystem::path media_dir_;
  const TimeSource& clock_;
  StepHook hook_;
  ImagePreparer prepare_image_;
};

// The image formats journal mode accepts, recognised by their first bytes.
// Returns the file extension ("jpg", "png", "gif", "webp") or "" if not an image.
std::string sniff_image_type(std::string_view first_bytes);

// Writes data to path atomically (temporary file in the same folder, fsync,
// rename); the file gets `mode` (0600 for secrets such as config.toml).
void write_file_atomically(const std::filesystem::path& path, std::string_view data, mode_t mode = 0644);

}  // namespace kioku
