// Remote embedders against loopback servers speaking Ollama's and the OpenAI
// embeddings protocols, including failures.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "core/error.h"
#include "embed/remote_embedder.h"
#include "testing/loopback_server.h"

#include <nlohmann/json.hpp>

namespace kioku {
namespace {

using testing::LoopbackServer;

// A deterministic fake vector: text length and first byte.
std::vector<float> fake_vector(const std::string& text) {
  return {static_cast<float>(text.size()), static_cast<float>(text.empty() ? 0 : text[0]), 1.0f};
}

TEST(RemoteEmbedder, OllamaEmbedBatchesAndNormalises) {
  std::atomic<int> requests{0};
  std::string seen_model;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/api/embed", [&](const httplib::Request& req, httplib::Response& res) {
      ++requests;
      auto body = nlohmann::json::parse(req.body);
      seen_model = body["model"];
      nlohmann::json out = {{"model", body["model"]}, {"embeddings", nlohmann::json::array()}};
      for (const auto& t : body["input"]) out["embeddings"].push_back(fake_vector(t.get<std::string>()));
      res.set_content(out.dump(), "application/json");
    });
  });
  RemoteEmbedderConfig c;
  c.provider = "ollama";
  c.url = server.url();
  c.model = "nomic-embed-text";
  c.batch_size = 2;
  c.query_prefix = "search_query: ";
  auto e = make_remote_embedder(c);
  auto v = e->embed({"a", "bb", "ccc"}, EmbedPurpose::kPassage);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(requests.load(), 2);  // batches of 2
  EXPECT_EQ(seen_model, "nomic-embed-text");
  double norm = 0;
  for (float x : v[1]) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_EQ(e->dimension(), 3);
  EXPECT_EQ(e->model_id(), "ollama:nomic-embed-text");
  auto q = e->embed({"x"}, EmbedPurpose::kQuery);  // prefix changes the text, so the vector
  EXPECT_NE(q[0], e->embed({"x"}, EmbedPurpose::kPassage)[0]);
}

TEST(RemoteEmbedder, OpenAiEmbeddingsWithKeyAndOutOfOrderData) {
  std::string auth;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/embeddings", [&](const httplib::Request& req, httplib::Response& res) {
      auth = req.get_header_value("Authorization");
      auto body = nlohmann::json::parse(req.body);
      nlohmann::json data = nlohmann::json::array();
      const auto& input = body["input"];
      for (size_t i = input.size(); i-- > 0;)  // reversed on purpose: index decides the order
        data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", fake_vector(input[i])}});
      res.set_content(nlohmann::json{{"object", "list"}, {"data", data}}.dump(), "application/json");
    });
  });
  RemoteEmbedderConfig c;
  c.provider = "openai";
  c.url = server.url("/v1");
  c.model = "text-embedding-3-small";
  c.api_key = "sk-test-secret";
  auto e = make_remote_embedder(c);
  auto v = e->embed({"a", "bbbb"}, EmbedPurpose::kPassage);
  EXPECT_EQ(auth, "Bearer sk-test-secret");
  EXPECT_GT(v[1][0], v[0][0]);  // "bbbb" is longer: order kept by index
}

TEST(RemoteEmbedder, RetriesServerErrorsThenSucceeds) {
  std::atomic<int> calls{0};
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/api/embed", [&](const httplib::Request& req, httplib::Response& res) {
      if (++calls < 3) {
        res.status = calls == 1 ? 429 : 503;
        return;
      }
      res.set_content(R"({"embeddings": [[1, 0]]})", "application/json");
    });
  });
  RemoteEmbedderConfig c{"ollama", server.url(), "m"};
  c.backoff_s = 0.01;
  auto v = make_remote_embedder(c)->embed({"x"}, EmbedPurpose::kPassage);
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(v[0], (std::vector<float>{1, 0}));
}

TEST(RemoteEmbedder, FailuresAreClearAndNeverLeakTheKey) {
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/embeddings", [](const httplib::Request&, httplib::Response& res) { res.status = 500; });
    s.Post("/bad/embeddings", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{not json", "application/json");
    });
    s.Post("/shape/embeddings", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"data": "nope"})", "application/json");
    });
  });
  RemoteEmbedderConfig c{"openai", server.url("/v1"), "m", "sk-very-secret"};
  c.backoff_s = 0.01;
  c.max_retries = 1;
  for (const std::string prefix : {"/v1", "/bad", "/shape"}) {
    c.url = server.url(prefix);
    try {
      make_remote_embedder(c)->embed({"x"}, EmbedPurpose::kPassage);
      FAIL() << prefix;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << prefix;
      EXPECT_EQ(std::string(e.what()).find("sk-very-secret"), std::string::npos);
    }
  }
  // A dead endpoint (nothing listens on the port).
  c.url = "http://127.0.0.1:9/v1";
  c.timeout_s = 1;
  EXPECT_THROW(make_remote_embedder(c)->embed({"x"}, EmbedPurpose::kPassage), Error);
  c.provider = "telepathy";
  EXPECT_THROW(make_remote_embedder(c), Error);
}

}  // namespace
}  // namespace kioku
