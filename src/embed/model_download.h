// Downloads model files from a Hugging Face-style hub over HTTPS:
//   GET {endpoint}/{repo}/resolve/{revision}/{file}
// following redirects (the hub answers with a CDN address for large files).
// Each file goes to "<dest>/<file>.part" first and is renamed when complete,
// so an interrupted download resumes with a Range request next time. Large
// (LFS) files carry their SHA-256 in the X-Linked-ETag / ETag header; the
// finished file is verified against it and deleted on mismatch.
// Failure (offline, 404, bad checksum) throws kioku::Error with one clear line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace kioku {

struct DownloadProgress {
  std::string file;
  uint64_t received = 0;  // bytes of this file on disk so far
  uint64_t total = 0;     // 0 when the server did not say
};

struct ModelDownloadRequest {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT overrides it in the CLI
  std::string repo;                                  // e.g. "sentence-transformers/all-MiniLM-L6-v2"
  std::string revision = "main";
  std::vector<std::string> files;  // relative paths, e.g. "1_Pooling/config.json"
  std::filesystem::path destination;
  double timeout_s = 60;
  std::function<void(const DownloadProgress&)> on_progress;
};

// Returns the SHA-256 of each file (hex), in the order of request.files.
std::vector<std::string> download_model(const ModelDownloadRequest& request);

}  // namespace kioku
