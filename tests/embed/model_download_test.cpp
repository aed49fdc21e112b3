// Model downloads against a loopback server speaking the hub's resolve
// protocol: redirects, Range resumes, checksum headers.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>

#include "core/error.h"
#include "core/hash.h"
#include "embed/model_download.h"
#include "testing/loopback_server.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

using testing::LoopbackServer;

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct FakeHub {
  std::string weights = std::string(200000, 'w') + "end";
  std::string config = R"({"hidden_size": 8})";
  bool cut_first_download = false;
  bool lie_about_checksum = false;
  std::atomic<int> weight_requests{0};
  std::atomic<int> range_requests{0};

  void routes(httplib::Server& s) {
    // Large files are redirected to a "CDN" path, as the real hub does.
    s.Get("/org/model/resolve/main/model.safetensors", [](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("/cdn/model.safetensors");
    });
    s.Get("/cdn/model.safetensors", [this](const httplib::Request& req, httplib::Response& res) {
      const int n = ++weight_requests;
      res.set_header("X-Linked-ETag", "\"" + (lie_about_checksum ? std::string(64, 'a') : sha256_hex(weights)) + "\"");
      // httplib answers Range requests itself (206 with the slice).
      if (req.has_header("Range")) ++range_requests;
      const bool cut = cut_first_download && n == 1;
      const std::string body = weights;
      res.set_content_provider(body.size(), "application/octet-stream",
                               [body, cut](size_t off, size_t len, httplib::DataSink& sink) {
                                 if (cut && off >= body.size() / 2) return false;  // connection dies
                                 sink.write(body.data() + off, std::min<size_t>(len, 16384));
                                 return true;
                               });
    });
    s.Get("/org/model/resolve/main/config.json", [this](const httplib::Request&, httplib::Response& res) {
      res.set_header("ETag", "\"0123456789abcdef0123456789abcdef01234567\"");  // a git blob id: not a checksum
      res.set_content(config, "application/json");
    });
  }
};

ModelDownloadRequest request_for(const LoopbackServer& server, const testing::TempDir& dir) {
  ModelDownloadRequest r;
  r.endpoint = server.url();
  r.repo = "org/model";
  r.files = {"config.json", "model.safetensors"};
  r.destination = dir / "models" / "model";
  r.timeout_s = 5;
  return r;
}

TEST(ModelDownload, DownloadsFollowsRedirectsAndVerifies) {
  FakeHub hub;
  LoopbackServer server([&](httplib::Server& s) { hub.routes(s); });
  testing::TempDir dir;
  auto req = request_for(server, dir);
  uint64_t last = 0;
  req.on_progress = [&](const DownloadProgress& p) { last = p.received; };
  auto shas = download_model(req);
  EXPECT_EQ(read_all(req.destination / "model.safetensors"), hub.weights);
  EXPECT_EQ(read_all(req.destination / "config.json"), hub.config);
  EXPECT_EQ(shas[1], sha256_hex(hub.weights));
  EXPECT_EQ(last, hub.weights.size());
  // A second pull finds the files and downloads nothing.
  download_model(req);
  EXPECT_EQ(hub.weight_requests.load(), 1);
}

TEST(ModelDownload, ResumesAnInterruptedDownload) {
  FakeHub hub;
  hub.cut_first_download = true;
  LoopbackServer server([&](httplib::Server& s) { hub.routes(s); });
  testing::TempDir dir;
  auto req = request_for(server, dir);
  EXPECT_THROW(download_model(req), Error);
  ASSERT_TRUE(std::filesystem::exists(req.destination / "model.safetensors.part"));
  EXPECT_GT(std::filesystem::file_size(req.destination / "model.safetensors.part"), 0u);
  download_model(req);
  EXPECT_EQ(hub.range_requests.load(), 1);
  EXPECT_EQ(read_all(req.destination / "model.safetensors"), hub.weights);
  EXPECT_FALSE(std::filesystem::exists(req.destination / "model.safetensors.part"));
}

TEST(ModelDownload, ChecksumMismatchDiscardsTheFile) {
  FakeHub hub;
  hub.lie_about_checksum = true;
  LoopbackServer server([&](httplib::Server& s) { hub.routes(s); });
  testing::TempDir dir;
  auto req = request_for(server, dir);
  try {
    download_model(req);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(req.destination / "model.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(req.destination / "model.safetensors.part"));
}

TEST(ModelDownload, MissingFilesOfflineAndBadPathsAreClear) {
  FakeHub hub;
  LoopbackServer server([&](httplib::Server& s) { hub.routes(s); });
  testing::TempDir dir;
  auto req = request_for(server, dir);
  req.files = {"vocab.txt"};
  try {
    download_model(req);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
  req.files = {"../../etc/passwd"};
  EXPECT_THROW(download_model(req), Error);
  req.files = {"config.json"};
  req.endpoint = "http://127.0.0.1:9";
  try {
    download_model(req);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    EXPECT_NE(std::string(e.what()).find("online"), std::string::npos);
  }
}

}  // namespace
}  // namespace kioku
