#include "embed/model_download.h"

#include <openssl/evp.h>

#include <fstream>
#include <memory>

#include "core/error.h"
#include "core/hash.h"
#include "net/http_client.h"

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
  return lower_hex(digest, len);
}

// The hub's checksum header: a quoted 64-hex SHA-256 for LFS files. Short
// (40-hex) ETags are git blob ids, not checksums of the bytes: ignored.
std::string expected_sha256(const net::Response& head) {
  for (const char* name : {"X-Linked-ETag", "ETag"}) {
    std::string v = head.header(name);
    if (v.empty()) continue;
    if (v.rfind("W/", 0) == 0) v = v.substr(2);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (v.size() == 64 && v.find_first_not_of("0123456789abcdef") == std::string::npos) return v;
  }
  return "";
}

void download_one(const ModelDownloadRequest& req, net::HttpClient& http, const std::string& file,
                  std::string& sha_out) {
  const std::filesystem::path final_path = req.destination / file;
  const std::filesystem::path part_path = final_path.string() + ".part";
  std::filesystem::create_directories(final_path.parent_path());

  if (std::filesystem::exists(final_path) && !std::filesystem::exists(part_path)) {
    sha_out = sha256_of_file(final_path);  // pulled before: nothing to do
    return;
  }
  uint64_t have = std::filesystem::exists(part_path) ? std::filesystem::file_size(part_path) : 0;
  net::Request r;
  r.path = "/" + req.repo + "/resolve/" + req.revision + "/" + file;
  if (have > 0) r.headers.emplace_back("Range", "bytes=" + std::to_string(have) + "-");

  std::ofstream out;
  uint64_t total = 0;
  std::string expected;
  // Only a 2xx answer reaches on_head and on_body (after redirects); an
  // error page stays in the Response.
  r.on_head = [&](const net::Response& head) {
    expected = expected_sha256(head);
    if (head.status == 206) {
      out.open(part_path, std::ios::binary | std::ios::app);
    } else {
      // The server ignored the Range: start over.
      have = 0;
      out.open(part_path, std::ios::binary | std::ios::trunc);
    }
    const auto len = head.header("Content-Length");
    total = len.empty() ? 0 : have + std::stoull(len);
    return static_cast<bool>(out);
  };
  r.on_body = [&](std::string_view data) {
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    have += data.size();
    if (req.on_progress) req.on_progress({file, have, total});
    return static_cast<bool>(out);
  };
  const net::Response res = http.send(r);
  out.close();
  if (res.outcome == net::Outcome::kCancelled)  // on_head or on_body could not write
    throw io_error("cannot write " + part_path.string() + ": is the disk full?");
  if (!res.ok() && res.status != 416) {  // 416: the part file is already complete
    if (res.status == 404) throw not_found("the hub has no file " + req.repo + "/" + file);
    const Error e = http.error_for(res, "downloading " + file);
    if (e.code() != ErrorCode::kUnavailable) throw e;
    throw unavailable(std::string(e.what()) + ": are you online? Partial data is kept and the next pull resumes");
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
  net::ClientOptions options;
  options.base_url = request.endpoint;
  options.service.name = "the model hub";
  options.connect_timeout_s = std::min(request.timeout_s, 30.0);
  options.read_timeout_s = request.timeout_s;
  options.follow_redirects = true;  // the hub answers with a CDN address for large files
  net::HttpClient http(options);
  for (size_t i = 0; i < request.files.size(); ++i) {
    const auto& file = request.files[i];
    if (file.find("..") != std::string::npos || file.empty() || file.front() == '/')
      throw invalid_input("refusing model file path '" + file + "'");
    download_one(request, http, file, shas[i]);
  }
  return shas;
}

}  // namespace kioku
