// net::HttpClient against loopback servers that misbehave on purpose.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <thread>

#include "net/http_client.h"
#include "net/lines.h"
#include "raw_server.h"
#include "testing/loopback_server.h"

namespace kioku {
namespace {

using net::Outcome;
using testing::LoopbackServer;
using testing::RawServer;
using Clock = std::chrono::steady_clock;

constexpr const char* kKey = "sk-test-secret-4242";

net::ClientOptions options_for(const std::string& url) {
  net::ClientOptions o;
  o.base_url = url;
  o.service = {"Test AI", "API key", {kKey}};
  o.connect_timeout_s = 1;
  o.read_timeout_s = 2;
  o.retry.max_attempts = 3;
  o.retry.initial_backoff_s = 0.01;
  return o;
}

net::Request post_json(const std::string& path) {
  net::Request r;
  r.method = "POST";
  r.path = path;
  r.body = R"({"q":1})";
  r.content_type = "application/json";
  r.headers = {{"Authorization", std::string("Bearer ") + kKey}};
  return r;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::string http_date(std::chrono::system_clock::time_point t) {
  const time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

TEST(HttpClient, AnOkAnswerComesBackWithItsBodyAndHeaders) {
  std::string seen_auth, seen_body, seen_type;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/echo", [&](const httplib::Request& req, httplib::Response& res) {
      seen_auth = req.get_header_value("Authorization");
      seen_body = req.body;
      seen_type = req.get_header_value("Content-Type");
      res.set_header("X-Thing", "yes");
      res.set_content(R"({"ok":true})", "application/json");
    });
  });
  net::HttpClient http(options_for(server.url("/v1")));
  const net::Response r = http.send(post_json("/echo"));
  ASSERT_TRUE(r.ok()) << net::to_string(r.outcome);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"ok":true})");
  EXPECT_EQ(r.header("x-thing"), "yes");
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(seen_auth, std::string("Bearer ") + kKey);
  EXPECT_EQ(seen_body, R"({"q":1})");
  EXPECT_EQ(seen_type, "application/json");
}

TEST(HttpClient, AWrongKeyIsAnAuthErrorTriedOnceAndNeverShowsTheKey) {
  std::atomic<int> calls{0};
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/chat", [&](const httplib::Request& req, httplib::Response& res) {
      ++calls;
      res.status = 401;
      // OpenAI echoes (part of) the key it refused.
      res.set_content(R"({"error":{"message":"Incorrect API key provided: )" + req.get_header_value("Authorization") +
                          R"(","code":"invalid_api_key"}})",
                      "application/json");
    });
  });
  net::HttpClient http(options_for(server.url()));
  const net::Response r = http.send(post_json("/chat"));
  EXPECT_EQ(r.outcome, Outcome::kAuth);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(calls.load(), 1);
  const Error e = http.error_for(r);
  EXPECT_EQ(e.code(), ErrorCode::kAuthFailed);
  const std::string message = e.what();
  EXPECT_NE(message.find("the API key was refused by Test AI"), std::string::npos) << message;
  EXPECT_NE(message.find("401"), std::string::npos) << message;
  EXPECT_NE(message.find("Incorrect API key provided"), std::string::npos) << message;
  EXPECT_EQ(message.find(kKey), std::string::npos) << message;
  EXPECT_EQ(http_status(e.code()), 502);
  EXPECT_EQ(exit_code(e.code()), 8);
}

TEST(HttpClient, ForbiddenIsAnAuthErrorToo) {
  LoopbackServer server([&](httplib::Server& s) {
    s.Get("/models", [](const httplib::Request&, httplib::Response& res) { res.status = 403; });
  });
  net::HttpClient http(options_for(server.url()));
  net::Request r;
  r.path = "/models";
  const net::Response res = http.send(r);
  EXPECT_EQ(res.outcome, Outcome::kAuth);
  EXPECT_EQ(http.error_for(res).code(), ErrorCode::kAuthFailed);
}

TEST(HttpClient, BadRequestsAreNotRetriedAndMapToTheCallersError) {
  std::atomic<int> calls{0};
  LoopbackServer server([&](httplib::Server& s) {
    s.Post(R"(/status/(\d+))", [&](const httplib::Request& req, httplib::Response& res) {
      ++calls;
      res.status = std::stoi(req.matches[1]);
      res.set_content(R"({"error":"model 'nope' not found"})", "application/json");
    });
  });
  net::HttpClient http(options_for(server.url()));
  const std::vector<std::pair<int, ErrorCode>> cases = {{400, ErrorCode::kInvalidInput},
                                                        {404, ErrorCode::kNotFound},
                                                        {413, ErrorCode::kTooLarge},
                                                        {422, ErrorCode::kInvalidInput}};
  for (const auto& [status, code] : cases) {
    calls = 0;
    const net::Response r = http.send(post_json("/status/" + std::to_string(status)));
    EXPECT_EQ(r.outcome, Outcome::kBadRequest) << status;
    EXPECT_EQ(calls.load(), 1) << status;
    const Error e = http.error_for(r, "chat");
    EXPECT_EQ(e.code(), code) << status;
    EXPECT_NE(std::string(e.what()).find("model 'nope' not found"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Test AI (chat at http://127.0.0.1:"), std::string::npos) << e.what();
  }
}

TEST(HttpClient, AServerErrorThenSuccessIsRetriedOnce) {
  std::atomic<int> calls{0};
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/flaky", [&](const httplib::Request&, httplib::Response& res) {
      if (++calls == 1) {
        res.status = 500;
        return;
      }
      res.set_content("fine", "text/plain");
    });
  });
  net::HttpClient http(options_for(server.url()));
  const net::Response r = http.send(post_json("/flaky"));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.body, "fine");
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(calls.load(), 2);
}

TEST(HttpClient, AServerErrorThatStaysGivesUpAfterTheAttemptsItWasAllowed) {
  std::atomic<int> calls{0};
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/down", [&](const httplib::Request&, httplib::Response& res) {
      ++calls;
      res.status = 503;
      res.set_content(R"({"error":{"message":"overloaded"}})", "application/json");
    });
  });
  net::HttpClient http(options_for(server.url()));
  const net::Response r = http.send(post_json("/down"));
  EXPECT_EQ(r.outcome, Outcome::kServerError);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(calls.load(), 3);
  const Error e = http.error_for(r);
  EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
  EXPECT_NE(std::string(e.what()).find("HTTP 503: overloaded (gave up after 3 attempts)"), std::string::npos)
      << e.what();
}

TEST(HttpClient, RateLimitedWaitsTheRetryAfterSeconds) {
  std::atomic<int> calls{0};
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/limited", [&](const httplib::Request&, httplib::Response& res) {
      if (++calls == 1) {
        res.status = 429;
        res.set_header("Retry-After", "1");
        return;
      }
      res.set_content("ok", "text/plain");
    });
  });
  net::HttpClient http(options_for(server.url()));  // its own backoff is 10 ms
  const auto start = Clock::now();
  const net::Response r = http.send(post_json("/limited"));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(calls.load(), 2);
  EXPECT_GE(seconds_since(start), 0.95);
}

TEST(HttpClient, RateLimitedWaitsUntilARetryAfterDate) {
  std::atomic<int> calls{0};
  // Dates have whole seconds: two ahead is a wait of more than one.
  const std::string until = http_date(std::chrono::system_clock::now() + std::chrono::seconds(2));
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/limited", [&](const httplib::Request&, httplib::Response& res) {
      if (++calls == 1) {
        res.status = 429;
        res.set_header("Retry-After", until);
        return;
      }
      res.set_content("ok", "text/plain");
    });
  });
  net::HttpClient http(options_for(server.url()));
  const auto start = Clock::now();
  EXPECT_TRUE(http.send(post_json("/limited")).ok());
  EXPECT_EQ(calls.load(), 2);
  EXPECT_GE(seconds_since(start), 0.95);
  EXPECT_LE(seconds_since(start), 3.5);
}

TEST(HttpClient, ARetryAfterBeyondTheCapIsNotWaitedForButReported) {
  std::atomic<int> calls{0};
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/limited", [&](const httplib::Request&, httplib::Response& res) {
      ++calls;
      res.status = 429;
      res.set_header("Retry-After", "3600");
    });
  });
  net::HttpClient http(options_for(server.url()));
  const auto start = Clock::now();
  const net::Response r = http.send(post_json("/limited"));
  EXPECT_LT(seconds_since(start), 1.0);
  EXPECT_EQ(r.outcome, Outcome::kRateLimited);
  EXPECT_EQ(calls.load(), 1);
  ASSERT_TRUE(r.retry_after_s);
  EXPECT_DOUBLE_EQ(*r.retry_after_s, 3600);
  const Error e = http.error_for(r);
  EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
  EXPECT_NE(std::string(e.what()).find("rate limited (HTTP 429), asked to wait 3600 s"), std::string::npos) << e.what();
}

TEST(HttpClient, AServiceCanGiveItsRetryHintInTheBody) {
  std::atomic<int> calls{0};
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/send", [&](const httplib::Request&, httplib::Response& res) {
      if (++calls == 1) {
        res.status = 429;
        res.set_content(R"({"ok":false,"parameters":{"retry_after":1}})", "application/json");
        return;
      }
      res.set_content("{}", "application/json");
    });
  });
  auto o = options_for(server.url());
  o.retry_after_hint = [](const net::Response& r) -> std::optional<double> {
    return r.body.find("\"retry_after\":1") != std::string::npos ? std::optional<double>(1.0) : std::nullopt;
  };
  net::HttpClient http(o);
  const auto start = Clock::now();
  EXPECT_TRUE(http.send(post_json("/send")).ok());
  EXPECT_GE(seconds_since(start), 0.95);
}

TEST(HttpClient, ADroppedConnectionIsUnreachableAndRetried) {
  RawServer server([](int fd, RawServer&) { RawServer::read_head(fd); });  // reads, answers nothing, closes
  net::HttpClient http(options_for(server.url()));
  const net::Response r = http.send(post_json("/x"));
  EXPECT_EQ(r.outcome, Outcome::kUnreachable);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(server.connections(), 3);
  const Error e = http.error_for(r);
  EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
  EXPECT_NE(std::string(e.what()).find("cannot reach the server"), std::string::npos) << e.what();
}

TEST(HttpClient, NothingListeningIsUnreachable) {
  int port;
  {
    RawServer closed([](int, RawServer&) {});
    port = std::stoi(closed.url().substr(closed.url().rfind(':') + 1));
  }
  auto o = options_for("http://127.0.0.1:" + std::to_string(port));
  o.retry.max_attempts = 2;
  net::HttpClient http(o);
  const net::Response r = http.send(post_json("/x"));
  EXPECT_EQ(r.outcome, Outcome::kUnreachable);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_NE(std::string(http.error_for(r).what()).find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

TEST(HttpClient, AServerThatStallsPastTheTimeoutIsATimeout) {
  RawServer server([](int fd, RawServer& self) {
    RawServer::read_head(fd);
    self.stall(std::chrono::seconds(10));
  });
  auto o = options_for(server.url());
  o.read_timeout_s = 0.3;
  o.retry.max_attempts = 2;
  net::HttpClient http(o);
  const auto start = Clock::now();
  const net::Response r = http.send(post_json("/slow"));
  EXPECT_EQ(r.outcome, Outcome::kTimeout) << net::to_string(r.outcome) << " " << r.transport_error;
  EXPECT_EQ(r.attempts, 2);
  EXPECT_LT(seconds_since(start), 3.0);
  const Error e = http.error_for(r);
  EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
  EXPECT_NE(std::string(e.what()).find("no answer within 0.3 s"), std::string::npos) << e.what();
}

TEST(HttpClient, AStreamIsPassedOnAsItArrives) {
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/stream", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("text/event-stream", [](size_t, httplib::DataSink& sink) {
        for (const char* event : {"data: one\n\n", "data: tw", "o\n\ndata: [DONE]\n\n"})
          sink.write(event, strlen(event));
        sink.done();
        return true;
      });
    });
  });
  net::HttpClient http(options_for(server.url()));
  std::vector<std::string> data;
  net::LineSplitter lines([&](std::string_view line) {
    if (auto d = net::sse_data(line)) data.emplace_back(*d);
  });
  net::Request req = post_json("/stream");
  req.on_body = [&](std::string_view chunk) {
    lines.feed(chunk);
    return true;
  };
  const net::Response r = http.send(req);
  lines.finish();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.streamed);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(data, (std::vector<std::string>{"one", "two", "[DONE]"}));
}

TEST(HttpClient, ATruncatedStreamIsNotRetriedSoNoTextArrivesTwice) {
  RawServer server([](int fd, RawServer&) {
    RawServer::read_head(fd);
    const std::string event = "data: {\"delta\":\"half\"}\n\n";
    char size[16];
    snprintf(size, sizeof size, "%zx\r\n", event.size());
    RawServer::write_all(fd,
                         "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
                             std::string(size) + event + "\r\n");
    // ...and the connection closes without the last chunk.
  });
  net::HttpClient http(options_for(server.url()));
  std::string received;
  net::Request req = post_json("/stream");
  req.on_body = [&](std::string_view chunk) {
    received += chunk;
    return true;
  };
  const net::Response r = http.send(req);
  EXPECT_EQ(r.outcome, Outcome::kUnreachable) << net::to_string(r.outcome);
  EXPECT_TRUE(r.streamed);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(received, "data: {\"delta\":\"half\"}\n\n");
  EXPECT_NE(std::string(http.error_for(r).what()).find("dropped in the middle of the answer"), std::string::npos);
}

TEST(HttpClient, AnErrorStatusOfAStreamedRequestKeepsItsBodyForTheMessage) {
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/stream", [](const httplib::Request&, httplib::Response& res) {
      res.status = 400;
      res.set_content(R"({"error":{"message":"max_tokens is too large"}})", "application/json");
    });
  });
  net::HttpClient http(options_for(server.url()));
  bool called = false;
  net::Request req = post_json("/stream");
  req.on_body = [&](std::string_view) { return called = true; };
  const net::Response r = http.send(req);
  EXPECT_FALSE(called);
  EXPECT_FALSE(r.streamed);
  EXPECT_EQ(r.outcome, Outcome::kBadRequest);
  EXPECT_NE(std::string(http.error_for(r).what()).find("max_tokens is too large"), std::string::npos);
}

TEST(HttpClient, AnExceptionFromTheReaderReachesTheCaller) {
  LoopbackServer server([&](httplib::Server& s) {
    s.Get("/stream", [](const httplib::Request&, httplib::Response& res) { res.set_content("garbage", "text/plain"); });
  });
  net::HttpClient http(options_for(server.url()));
  net::Request req;
  req.path = "/stream";
  req.on_body = [](std::string_view) -> bool { throw unavailable("the reply was not JSON"); };
  EXPECT_THROW(http.send(req), Error);
  // The client is still usable afterwards.
  req.on_body = nullptr;
  EXPECT_EQ(http.send(req).body, "garbage");
}

TEST(HttpClient, MultipartBodiesReachTheServerAsFormData) {
  std::string file, filename, type, model;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/upload", [&](const httplib::Request& req, httplib::Response& res) {
      if (!req.is_multipart_form_data()) {
        res.status = 400;
        return;
      }
      const auto f = req.get_file_value("file");
      file = f.content;
      filename = f.filename;
      type = f.content_type;
      model = req.get_file_value("model").content;
      res.set_content("{}", "application/json");
    });
  });
  net::HttpClient http(options_for(server.url()));
  net::Request req;
  req.method = "POST";
  req.path = "/upload";
  const std::string bytes("OggS\0\x01\x02\r\n--not-a-boundary", 24);
  req.parts = {{"file", bytes, "voice.ogg", "audio/ogg"}, {"model", "whisper-1", "", ""}};
  ASSERT_TRUE(http.send(req).ok());
  EXPECT_EQ(file, bytes);
  EXPECT_EQ(filename, "voice.ogg");
  EXPECT_EQ(type, "audio/ogg");
  EXPECT_EQ(model, "whisper-1");
}

TEST(HttpClient, CancelInterruptsALongPollAtOnce) {
  RawServer server([](int fd, RawServer& self) {
    RawServer::read_head(fd);
    self.stall(std::chrono::seconds(10));
  });
  auto o = options_for(server.url());
  o.read_timeout_s = 8;
  net::HttpClient http(o);
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    http.cancel();
  });
  const auto start = Clock::now();
  net::Request req;
  req.path = "/getUpdates";
  const net::Response r = http.send(req);
  canceller.join();
  EXPECT_EQ(r.outcome, Outcome::kCancelled);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_LT(seconds_since(start), 2.0);
  EXPECT_EQ(http.error_for(r).code(), ErrorCode::kUnavailable);
}

TEST(HttpClient, ACancelWithNothingInFlightStopsTheNextRequest) {
  std::atomic<int> calls{0};
  LoopbackServer server([&](httplib::Server& s) {
    s.Get("/poll", [&](const httplib::Request&, httplib::Response& res) {
      ++calls;
      res.set_content("[]", "application/json");
    });
  });
  net::HttpClient http(options_for(server.url()));
  net::Request req;
  req.path = "/poll";
  http.cancel();
  EXPECT_EQ(http.send(req).outcome, Outcome::kCancelled);
  EXPECT_EQ(calls.load(), 0);
  EXPECT_TRUE(http.send(req).ok());  // one cancel stops one request
}

TEST(HttpClient, RedirectsAreFollowedWhenAsked) {
  LoopbackServer target([&](httplib::Server& s) {
    s.Get("/file", [](const httplib::Request&, httplib::Response& res) { res.set_content("bytes", "text/plain"); });
  });
  LoopbackServer hub([&](httplib::Server& s) {
    s.Get("/resolve", [&](const httplib::Request&, httplib::Response& res) { res.set_redirect(target.url("/file")); });
  });
  auto o = options_for(hub.url());
  o.follow_redirects = true;
  net::HttpClient http(o);
  net::Request req;
  req.path = "/resolve";
  int head_status = 0;
  std::string body;
  req.on_head = [&](const net::Response& head) {
    head_status = head.status;
    return true;
  };
  req.on_body = [&](std::string_view chunk) {
    body += chunk;
    return true;
  };
  EXPECT_TRUE(http.send(req).ok());
  EXPECT_EQ(head_status, 200);
  EXPECT_EQ(body, "bytes");
}

TEST(HttpClient, ABadBaseUrlIsInvalidInput) {
  try {
    net::HttpClient http(options_for("ftp://example.com"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidInput);
  }
}

TEST(HttpErrors, DetailIsReadFromEveryCommonShape) {
  EXPECT_EQ(net::error_detail(R"({"error":"model not found"})"), "model not found");
  EXPECT_EQ(net::error_detail(R"({"error":{"message":"bad key","type":"x"}})"), "bad key");
  EXPECT_EQ(net::error_detail(R"({"ok":false,"error_code":400,"description":"Bad Request: chat not found"})"),
            "Bad Request: chat not found");
  EXPECT_EQ(net::error_detail(R"({"error":"ExpiredToken","message":"Token has expired"})"),
            "ExpiredToken: Token has expired");
  EXPECT_EQ(net::error_detail(R"({"detail":"Not authenticated"})"), "Not authenticated");
  EXPECT_EQ(net::error_detail("upstream timed out\n"), "upstream timed out");
  EXPECT_EQ(net::error_detail("<html><body>502 Bad Gateway</body></html>"), "");
  EXPECT_LE(net::error_detail(std::string(1000, 'x')).size(), 303u);
}

TEST(HttpErrors, OutcomesOfStatuses) {
  EXPECT_EQ(net::outcome_of_status(200), Outcome::kOk);
  EXPECT_EQ(net::outcome_of_status(206), Outcome::kOk);
  EXPECT_EQ(net::outcome_of_status(401), Outcome::kAuth);
  EXPECT_EQ(net::outcome_of_status(403), Outcome::kAuth);
  EXPECT_EQ(net::outcome_of_status(408), Outcome::kTimeout);
  EXPECT_EQ(net::outcome_of_status(429), Outcome::kRateLimited);
  EXPECT_EQ(net::outcome_of_status(404), Outcome::kBadRequest);
  EXPECT_EQ(net::outcome_of_status(302), Outcome::kBadRequest);
  EXPECT_EQ(net::outcome_of_status(500), Outcome::kServerError);
  EXPECT_EQ(net::outcome_of_status(503), Outcome::kServerError);
  for (Outcome o : {Outcome::kUnreachable, Outcome::kTimeout, Outcome::kRateLimited, Outcome::kServerError})
    EXPECT_TRUE(net::is_retryable(o)) << net::to_string(o);
  for (Outcome o : {Outcome::kOk, Outcome::kAuth, Outcome::kBadRequest, Outcome::kCancelled})
    EXPECT_FALSE(net::is_retryable(o)) << net::to_string(o);
}

TEST(HttpErrors, QueryStringsArePercentEncoded) {
  EXPECT_EQ(net::query_string({}), "");
  EXPECT_EQ(net::query_string({{"actor", "did:plc:abc"}, {"q", "tea & cake"}}),
            "?actor=did%3Aplc%3Aabc&q=tea%20%26%20cake");
}

}  // namespace
}  // namespace kioku
