// models list | pull NAME | add DIR [--name N] [--activate]
#include <cstdio>
#include <memory>
#include <ostream>

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "core/error.h"
#include "embed/bert_embedder.h"
#include "embed/model_download.h"
#include "embed/model_registry.h"
#include "journal/journal_service.h"

namespace kioku::cli {

namespace {

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1u << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1 << 20));
  else std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024);
  return buf;
}

// Makes `name` the local model in config.toml's [embed] table (other settings
// are kept; the file is replaced atomically).
void activate_local_model(AppContext& ctx, const std::string& name) {
  const auto path = ctx.data_dir() / "config.toml";
  toml::table root;
  if (std::filesystem::exists(path)) {
    try {
      root = toml::parse_file(path.string());
    } catch (const toml::parse_error& e) {
      throw invalid_input("config.toml cannot be read: " + std::string(e.description()));
    }
  }
  if (!root["embed"].is_table()) root.insert_or_assign("embed", toml::table{});
  toml::table& embed = *root["embed"].as_table();
  embed.insert_or_assign("provider", "local");
  embed.insert_or_assign("model", name);
  std::ostringstream out;
  out << "# Kioku settings ([embed] rewritten by kioku models add --activate).\n" << root << "\n";
  write_file_atomically(path, out.str());
}

// The files a model folder must have, beyond what BertEmbedder checks by
// loading it.
void check_model_folder(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw not_found(dir.string() + " is not a folder");
  for (const char* f : {"config.json", "model.safetensors", "vocab.txt"})
    if (!std::filesystem::is_regular_file(dir / f, ec))
      throw invalid_input(dir.string() + " is not a model folder: it lacks " + f +
                          " (expected the Hugging Face layout: config.json, model.safetensors, vocab.txt, "
                          "tokenizer.json, modules.json, 1_Pooling/config.json)");
}

// True when every file of `source` is in `target` with the same bytes (so a
// second `models add` of the same folder is not a conflict).
bool same_files(const std::filesystem::path& source, const std::filesystem::path& target) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& f : fs::recursive_directory_iterator(source, ec)) {
    if (!f.is_regular_file()) continue;
    const fs::path other = target / fs::relative(f.path(), source, ec);
    if (!fs::is_regular_file(other, ec) || fs::file_size(other, ec) != f.file_size()) return false;
    std::ifstream a(f.path(), std::ios::binary), b(other, std::ios::binary);
    std::vector<char> ba(1 << 16), bb(1 << 16);
    while (a && b) {
      a.read(ba.data(), static_cast<std::streamsize>(ba.size()));
      b.read(bb.data(), static_cast<std::streamsize>(bb.size()));
      if (a.gcount() != b.gcount() || !std::equal(ba.begin(), ba.begin() + a.gcount(), bb.begin())) return false;
    }
  }
  return !ec;
}

}  // namespace

void register_model_commands(CLI::App& app, CommandTable& table) {
  {
    auto* cmd = app.add_subcommand("index", "Embed memories that have no vector yet (the background queue, now)");
    auto limit = std::make_shared<int>(0);
    cmd->add_option("--limit", *limit, "Stop after this many (default: all)")->check(CLI::NonNegativeNumber);
    table[cmd] = [limit](AppContext& ctx, CommandIo& io) {
      Embedder* embedder = ctx.embedder();
      if (!embedder) {
        throw unavailable(ctx.embedder_notice().empty() ? "no embedder is configured ([embed] provider)"
                                                        : ctx.embedder_notice());
      }
      const int64_t pending = ctx.memories().count_missing_embeddings(embedder->model_id());
      int done = 0;
      while (*limit == 0 || done < *limit) {
        const int step = ctx.searcher().index_pending(*limit == 0 ? 256 : std::min(256, *limit - done));
        if (step == 0) break;
        done += step;
        if (!io.json) io.err << "\rembedded " << done << " / " << pending << std::flush;
      }
      if (!io.json && done > 0) io.err << "\n";
      ctx.searcher().save_indexes();
      const int64_t left = ctx.memories().count_missing_embeddings(embedder->model_id());
      if (io.json) io.out << nlohmann::json{{"model", embedder->model_id()}, {"embedded", done}, {"pending", left}}.dump() << "\n";
      else io.out << "Embedded " << done << " memories with " << embedder->model_id() << "; " << left << " left\n";
      return 0;
    };
  }
  auto* models = app.add_subcommand("models", "Sentence-embedding models for semantic search");
  models->require_subcommand(1);
  models->fallthrough();
  {
    auto* cmd = models->add_subcommand("list", "Known and installed models");
    table[cmd] = [](AppContext& ctx, CommandIo& io) {
      const auto installed = find_installed_models(ctx.data_dir());
      const std::string active = ctx.config().get_string_or("embed.model", default_model_name(), "KIOKU_EMBED_MODEL");
      const std::string provider = ctx.config().get_string_or("embed.provider", "none", "KIOKU_EMBED_PROVIDER");
      nlohmann::json a = nlohmann::json::array();
      for (const auto& k : known_models()) {
        nlohmann::json j = {{"name", k.name}, {"repo", k.repo}, {"dimension", k.dimension},
                            {"installed", false}, {"active", provider == "local" && k.name == active}};
        for (const auto& i : installed)
          if (i.name == k.name) j.update({{"installed", true}, {"path", i.path.string()}, {"bytes", i.bytes}});
        a.push_back(j);
      }
      for (const auto& i : installed) {
        if (find_known_model(i.name)) continue;
        a.push_back({{"name", i.name}, {"installed", true}, {"path", i.path.string()}, {"bytes", i.bytes},
                     {"active", provider == "local" && i.name == active}});
      }
      if (io.json) {
        io.out << a.dump(2) << "\n";
        return 0;
      }
      for (const auto& m : a) {
        io.out << (m["active"].get<bool>() ? "* " : "  ") << m["name"].get<std::string>()
               << (m.contains("dimension") ? "  (" + std::to_string(m["dimension"].get<int>()) + " dims)" : "")
               << (m["installed"].get<bool>() ? "  installed, " + human_bytes(m["bytes"].get<uint64_t>())
                                              : "  not installed (kioku models pull " + m["name"].get<std::string>() + ")")
               << "\n";
      }
      if (provider != "local") io.out << "Semantic search uses [embed] provider = \"" << provider << "\".\n";
      return 0;
    };
  }
  {
    auto* cmd = models->add_subcommand("add", "Install a model folder you already have (offline)");
    auto dir = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>();
    auto activate = std::make_shared<bool>(false);
    cmd->add_option("dir", *dir, "Folder in the Hugging Face layout (config.json, model.safetensors, vocab.txt, ...)")
        ->required();
    cmd->add_option("--name", *name, "Name to install it under (default: the folder's name)");
    cmd->add_flag("--activate", *activate, "Make it the model semantic search uses ([embed] in config.toml)");
    table[cmd] = [dir, name, activate](AppContext& ctx, CommandIo& io) {
      namespace fs = std::filesystem;
      const fs::path source = fs::absolute(fs::path(*dir)).lexically_normal();
      check_model_folder(source);
      std::string model_name = name->empty() ? source.filename().string() : *name;
      if (model_name.empty() || model_name == "." || model_name == ".." ||
          model_name.find_first_of("/\\") != std::string::npos || model_name[0] == '.')
        throw invalid_input("'" + model_name + "' is not a usable model name (use --name)");
      // Loading it checks everything the encoder needs: BERT settings, tensor
      // names and shapes, vocabulary size.
      int dimension = 0;
      {
        BertEmbedder probe(source, 1);
        dimension = probe.dimension();
      }
      const fs::path target = ctx.data_dir() / "models" / model_name;
      std::error_code ec;
      const bool same = fs::exists(target, ec) && (fs::equivalent(target, source, ec) || same_files(source, target));
      if (!same) {
        if (fs::exists(target, ec))
          throw conflict("a model named " + model_name + " is already installed in " + target.string() +
                         " (choose another --name, or remove that folder)");
        // Copy to a staging folder first: an interrupted copy never looks installed.
        const fs::path staging = target.string() + ".part";
        fs::remove_all(staging, ec);
        fs::create_directories(staging.parent_path());
        try {
          fs::copy(source, staging, fs::copy_options::recursive);
          fs::rename(staging, target);
        } catch (const fs::filesystem_error& e) {
          fs::remove_all(staging, ec);
          throw io_error("cannot copy " + source.string() + " to " + target.string() + ": " + e.what());
        }
      }
      if (*activate) activate_local_model(ctx, model_name);
      const auto overridden = ctx.config().env()("KIOKU_EMBED_MODEL");
      const bool env_wins = *activate && overridden && !overridden->empty() && *overridden != model_name;
      if (io.json) {
        io.out << nlohmann::json{{"name", model_name}, {"path", target.string()}, {"dimension", dimension},
                                 {"active", *activate && !env_wins}}
                      .dump(2)
               << "\n";
      } else {
        io.out << "Installed " << model_name << " (" << dimension << " dims) in " << target.string() << "\n";
        if (*activate) io.out << "Semantic search now uses it; run `kioku index` to embed your memories.\n";
        else io.out << "Make it active with: kioku models add " << *dir << " --activate\n";
        if (env_wins) io.err << "note: KIOKU_EMBED_MODEL=" << *overridden << " overrides config.toml\n";
      }
      return 0;
    };
  }
  {
    auto* cmd = models->add_subcommand("pull", "Download a model from Hugging Face into the data directory");
    auto name = std::make_shared<std::string>();
    cmd->add_option("name", *name, "Model name (see kioku models list)")->required();
    table[cmd] = [name](AppContext& ctx, CommandIo& io) {
      auto model = find_known_model(*name);
      if (!model) throw invalid_input("unknown model '" + *name + "' (see kioku models list)");
      ModelDownloadRequest req;
      if (auto endpoint = ctx.config().env()("HF_ENDPOINT"); endpoint && !endpoint->empty()) req.endpoint = *endpoint;
      req.repo = model->repo;
      req.files = model->files;
      req.destination = ctx.data_dir() / "models" / model->name;
      std::string last_file;
      int last_percent = -1;
      req.on_progress = [&](const DownloadProgress& p) {
        if (io.json) return;
        const int percent = p.total ? static_cast<int>(100 * p.received / p.total) : -1;
        if (p.file == last_file && percent == last_percent) return;
        last_file = p.file;
        last_percent = percent;
        io.err << "\r" << p.file << "  " << human_bytes(p.received);
        if (p.total) io.err << " / " << human_bytes(p.total) << "  " << percent << "%";
        io.err << "   " << std::flush;
      };
      auto shas = download_model(req);
      if (!io.json) io.err << "\n";
      nlohmann::json files = nlohmann::json::object();
      for (size_t i = 0; i < shas.size(); ++i) files[req.files[i]] = shas[i];
      if (io.json) {
        io.out << nlohmann::json{{"name", model->name}, {"path", req.destination.string()}, {"sha256", files}}.dump(2)
               << "\n";
      } else {
        io.out << "Installed " << model->name << " in " << req.destination.string()
               << "\nUse it with [embed] provider = \"local\", model = \"" << model->name << "\" in config.toml\n";
      }
      return 0;
    };
  }
}

}  // namespace kioku::cli
