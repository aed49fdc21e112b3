// HTTP requests as `kioku serve` reads them: request line, headers, bodies
// (Content-Length, chunked) and multipart/form-data uploads, parsed by
// cpp-httplib's Server::process_request from an in-memory stream. The route
// reads every part as the upload handler does. Debian's cpp-httplib is a
// prebuilt shared library, so coverage guidance stops at its boundary (the
// fuzzer still finds crashes and what the sanitizers see in Kioku's code).
#include <httplib.h>

#include <cstring>

#include "fuzz_common.h"

namespace {

class MemoryStream final : public httplib::Stream {
 public:
  explicit MemoryStream(std::string_view input) : input_(input) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, input_.size() - offset_);
    std::memcpy(ptr, input_.data() + offset_, n);
    offset_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char*, size_t size) override { return static_cast<ssize_t>(size); }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 8765;
  }
  socket_t socket() const override { return INVALID_SOCKET; }

 private:
  std::string_view input_;
  size_t offset_ = 0;
};

class InMemoryServer final : public httplib::Server {
 public:
  InMemoryServer() {
    set_payload_max_length(1u << 20);
    Post("/api/upload", [](const httplib::Request& req, httplib::Response& res) {
      size_t total = 0;
      for (const auto& [name, part] : req.files) total += name.size() + part.filename.size() + part.content.size();
      res.set_content(std::to_string(total), "text/plain");
    });
    Get(R"(/api/memory/([^/]+))", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.matches[1].str() + req.get_param_value("q"), "text/plain");
    });
  }
  void serve(std::string_view input) {
    MemoryStream stream(input);
    bool closed = false;
    for (int i = 0; i < 4 && !closed; ++i) {
      if (!process_request(stream, false, closed, nullptr)) break;
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static InMemoryServer server;
  kioku::fuzz::expect_clean([&] { server.serve(kioku::fuzz::as_text(data, size)); });
  return 0;
}
