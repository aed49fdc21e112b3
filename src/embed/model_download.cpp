#include "embed/model_download.h"

#include <httplib.h>
#include <openssl/evp.h>

#include <fstream>
#include <memory>

#include "core/error.h"
#include "core/url.h"

namespace kioku {

namespace {

std::string sha256_of_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0xF]);
  }
  return out;
}

// The hub's checksum header: a quoted 64-hex SHA-256 for LFS files. Short
// (40-hex) ETags are git blob ids, not checksums of the bytes: ignored.
std::string expected_sha256(const httplib::Headers& headers) {
  for (const char* name : {"X-Linked-ETag", "x-linked-etag", "ETag", "etag"}) {
    auto it = headers.find(name);
    if (it == headers.end()) continue;
    std::string v = it->second;
    if (v.rfind("W/", 0) == 0) v = v.substr(2);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (v.size() == 64 && v.find_first_not_of("0123456789abcdef") == std::string::npos) return v;
  }
  return "";
}

void download_one(const ModelDownloadRequest& req, const std::string& file, std::string& sha_out) {
  const BaseUrl base = parse_base_url(req.endpoint);
  const std::filesystem::path final_path = req.destination / file;
  const std::filesystem::path part_path = final_path.string() + ".part";
  std::filesystem::create_directories(final_path.parent_path());
  const std::string target = base.path + "/" + req.repo + "/resolve/" + req.revision + "/" + file;

  if (std::filesystem::exists(final_path) && !std::filesystem::exists(part_path)) {
    sha_out = sha256_of_file(final_path);  // pulled before: nothing to do
    return;
  }
  uint64_t have = std::filesystem::exists(part_path) ? std::filesystem::file_size(part_path) : 0;
  httplib::Client client(base.origin());
  client.set_follow_location(true);
  client.set_connection_timeout(static_cast<time_t>(req.timeout_s));
  client.set_read_timeout(static_cast<time_t>(req.timeout_s));
  httplib::Headers headers;
  if (have > 0) headers.emplace("Range", "bytes=" + std::to_string(have) + "-");

  std::ofstream out;
  uint64_t total = 0;
  std::string expected;
  auto res = client.Get(
      target, headers,
      [&](const httplib::Response& response) {
        expected = expected_sha256(response.headers);
        if (response.status == 206) {
          out.open(part_path, std::ios::binary | std::ios::app);
        } else if (response.status == 200) {
          // The server ignored the Range: start over.
          have = 0;
          out.open(part_path, std::ios::binary | std::ios::trunc);
        } else {
          return true;  // 416 (already complete) or an error status, judged below
        }
        const auto len = response.get_header_value("Content-Length");
        total = len.empty() ? 0 : have + std::stoull(len);
        return static_cast<bool>(out);
      },
      [&](const char* data, size_t size) {
        if (!out.is_open()) return true;  // an error page: not part of the file
        out.write(data, static_cast<std::streamsize>(size));
        have += size;
        if (req.on_progress) req.on_progress({file, have, total});
        return static_cast<bool>(out);
      });
  out.close();
  if (!res) {
    throw unavailable("cannot download " + file + " from " + base.host + " (" + httplib::to_string(res.error()) +
                      "): are you online? Partial data is kept and the next pull resumes");
  }
  if (res->status == 404) throw not_found("the hub has no file " + req.repo + "/" + file);
  if (res->status != 200 && res->status != 206 && res->status != 416) {
    throw unavailable("downloading " + file + " failed: HTTP " + std::to_string(res->status));
  }
  const std::string actual = sha256_of_file(part_path);
  if (!expected.empty() && actual != expected) {
    std::filesystem::remove(part_path);
    throw io_error("checksum mismatch for " + file + " (expected " + expected + ", got " + actual +
                   "): the download was discarded, pull again");
  }
  std::filesystem::rename(part_path, final_path);
  sha_out = actual;
}

}  // namespace

std::vector<std::string> download_model(const ModelDownloadRequest& request) {
  if (request.repo.empty() || request.files.empty()) throw invalid_input("nothing to download");
  std::vector<std::string> shas(request.files.size());
  for (size_t i = 0; i < request.files.size(); ++i) {
    const auto& file = request.files[i];
    if (file.find("..") != std::string::npos || file.empty() || file.front() == '/')
      throw invalid_input("refusing model file path '" + file + "'");
    download_one(request, file, shas[i]);
  }
  return shas;
}

}  // namespace kioku
