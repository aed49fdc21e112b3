// models list | pull NAME
#include <cstdio>
#include <memory>
#include <ostream>

#include "cli/commands.h"
#include "core/error.h"
#include "embed/model_download.h"
#include "embed/model_registry.h"

namespace kioku::cli {

namespace {

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1u << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1 << 20));
  else std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024);
  return buf;
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
