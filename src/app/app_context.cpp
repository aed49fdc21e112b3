#include "app/app_context.h"

#include <fcntl.h>
#include <cerrno>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "core/error.h"
#include "embed/bert_embedder.h"
#include "embed/hashing_embedder.h"
#include "embed/model_registry.h"
#include "media/image.h"
#include "embed/remote_embedder.h"
#include "store/sqlite/sqlite_store.h"

namespace kioku {

AppContext::AppContext(std::filesystem::path data_dir, std::string user_override, EnvLookup env)
    : data_dir_(std::move(data_dir)), user_override_(std::move(user_override)), env_(std::move(env)) {}

const Config& AppContext::config() {
  if (!config_) config_ = std::make_unique<Config>(Config::load(data_dir_ / "config.toml", env_));
  return *config_;
}

const std::string& AppContext::user_id() {
  if (user_id_.empty()) {
    user_id_ = !user_override_.empty() ? user_override_ : config().get_string_or("user.id", "local", "KIOKU_USER");
  }
  return user_id_;
}

bool AppContext::ensure_initialized() {
  bool created = false;
  std::error_code ec;
  if (!std::filesystem::exists(data_dir_, ec)) {
    std::filesystem::create_directories(data_dir_, ec);
    if (ec) throw io_error("cannot create data directory " + data_dir_.string() + ": " + ec.message());
    created = true;
  }
  const auto config_path = data_dir_ / "config.toml";
  if (!std::filesystem::exists(config_path)) {
    write_file_atomically(config_path, default_config_toml());
    created = true;
  }
  for (const char* sub : {"journals", "media", "backups"}) std::filesystem::create_directories(data_dir_ / sub, ec);
  if (api_token().empty()) {
    ensure_api_token();
    created = true;
  }
  if (!std::filesystem::exists(memory_db_path()) || !std::filesystem::exists(journal_db_path())) created = true;
  memories();
  drafts();
  return created;
}

MemoryStore& AppContext::memories() {
  if (!memories_) {
    std::filesystem::create_directories(data_dir_);
    memories_ = open_sqlite_memory_store(memory_db_path());
  }
  return *memories_;
}

KnowledgeStore& AppContext::knowledge() {
  if (!knowledge_) {
    memories();  // creates the data directory and migrates memory.db first
    knowledge_ = open_sqlite_knowledge_store(memory_db_path());
  }
  return *knowledge_;
}

JournalDraftStore& AppContext::drafts() {
  if (!drafts_) {
    std::filesystem::create_directories(data_dir_);
    drafts_ = open_sqlite_journal_store(journal_db_path());
  }
  return *drafts_;
}

JournalService& AppContext::journal() {
  if (!journal_) {
    if (llm()) compiler_ = std::make_unique<LlmJournalCompiler>(*llm());
    else compiler_ = std::make_unique<PlainJournalCompiler>();
    journal_ = std::make_unique<JournalService>(memories(), drafts(), *compiler_, data_dir_ / "journals",
                                                data_dir_ / "media");
    // Photos are kept as JPEGs of at most 2048 px (quality 85): small enough
    // to store and to send to a vision model.
    journal_->set_image_preparer([](std::string_view bytes) { return shrink_to_jpeg(bytes, 2048, 85).jpeg; });
  }
  return *journal_;
}

Embedder* AppContext::embedder() {
  if (!embedder_resolved_) {
    embedder_resolved_ = true;
    const Config& c = config();
    const std::string provider = c.get_string_or("embed.provider", "local", "KIOKU_EMBED_PROVIDER");
    if (provider == "local") {
      const std::string model = c.get_string_or("embed.model", default_model_name(), "KIOKU_EMBED_MODEL");
      const auto dir = data_dir_ / "models" / model;
      if (std::filesystem::exists(dir / "model.safetensors")) {
        embedder_ = std::make_unique<BertEmbedder>(dir, static_cast<int>(c.get_number("embed.threads").value_or(0)));
      } else {
        embedder_notice_ = "semantic search is off until the model is installed (kioku models pull " + model +
                           "); searching full text only";
      }
    } else if (provider == "hashing") {
      embedder_ = std::make_unique<HashingEmbedder>(static_cast<int>(c.get_number("embed.dimension").value_or(256)));
    } else if (provider == "ollama" || provider == "openai") {
      RemoteEmbedderConfig rc;
      rc.provider = provider;
      rc.url = c.get_string_or("embed.url", provider == "ollama" ? "http://127.0.0.1:11434" : "https://api.openai.com/v1",
                               "KIOKU_EMBED_URL");
      rc.model = c.get_string_or("embed.model", "", "KIOKU_EMBED_MODEL");
      rc.api_key = c.get_string_or("embed.api_key", "", "KIOKU_EMBED_API_KEY");
      rc.dimension = static_cast<int>(c.get_number("embed.dimension").value_or(0));
      rc.timeout_s = c.get_number("embed.timeout_s").value_or(30);
      rc.query_prefix = c.get_string_or("embed.query_prefix", "");
      rc.passage_prefix = c.get_string_or("embed.passage_prefix", "");
      embedder_ = make_remote_embedder(rc);
    } else if (provider != "none" && !provider.empty()) {
      throw invalid_input("unknown embed.provider '" + provider + "' (expected local, hashing, ollama, openai or none)");
    }
  }
  return embedder_.get();
}

Searcher& AppContext::searcher() {
  if (!searcher_) {
    SearcherConfig sc;
    sc.index_dir = data_dir_ / "index";
    sc.hnsw_threshold = static_cast<size_t>(config().get_number("search.hnsw_threshold").value_or(20000));
    searcher_ = std::make_unique<Searcher>(memories(), embedder(), system_time(), sc);
  }
  return *searcher_;
}

const LlmConfig& AppContext::llm_config() {
  if (!llm_config_) llm_config_ = std::make_unique<LlmConfig>(load_llm_config(config()));
  return *llm_config_;
}

LlmClient* AppContext::llm() {
  if (!llm_resolved_) {
    llm_resolved_ = true;
    llm_ = make_llm_client(llm_config());
  }
  return llm_.get();
}

CompanionService& AppContext::companion() {
  if (!companion_) {
    CompanionOptions o;
    o.context.token_budget = static_cast<int>(config().get_number("companion.context_tokens").value_or(2048));
    o.suggestions = config().get_bool("companion.suggestions", "KIOKU_SUGGESTIONS").value_or(false);
    o.suggestion_threshold = config().get_number("companion.suggestion_threshold").value_or(0.6);
    companion_ = std::make_unique<CompanionService>(memories(), searcher(), llm(), active_persona(config()), o);
    companion_->set_journal_drafts(&drafts());
    companion_->set_vision(llm_config().vision);
    companion_->set_knowledge(&knowledge());
  }
  return *companion_;
}

std::string AppContext::api_token() const {
  std::ifstream in(api_token_path());
  std::string token;
  in >> token;
  return token;
}

std::string AppContext::ensure_api_token() {
  if (std::string existing = api_token(); !existing.empty()) return existing;
  std::filesystem::create_directories(data_dir_);
  unsigned char bytes[32];
  std::ifstream random("/dev/urandom", std::ios::binary);
  if (!random.read(reinterpret_cast<char*>(bytes), sizeof bytes)) throw io_error("cannot read /dev/urandom");
  static const char* hex = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += hex[b >> 4];
    token += hex[b & 15];
  }
  // O_EXCL: when two processes race, the first token wins and both use it.
  const int fd = ::open(api_token_path().c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return api_token();
    throw io_error("cannot create " + api_token_path().string());
  }
  const std::string line = token + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw io_error("cannot write " + api_token_path().string());
  return token;
}

void AppContext::set_embedder(std::unique_ptr<Embedder> embedder, std::string notice) {
  embedder_ = std::move(embedder);
  embedder_notice_ = std::move(notice);
  embedder_resolved_ = true;
}

int AppContext::recompile_journals() {
  if (!llm()) return 0;
  LlmJournalCompiler compiler(*llm());
  return journal().recompile_pending(user_id(), compiler);
}

}  // namespace kioku
