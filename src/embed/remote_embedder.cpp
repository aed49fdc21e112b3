#include "embed/remote_embedder.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "net/http_client.h"

namespace kioku {

namespace {

net::ClientOptions client_options(const RemoteEmbedderConfig& c) {
  net::ClientOptions o;
  o.base_url = c.url;
  o.service.name = c.provider + " embedder";
  o.service.secrets = {c.api_key};
  o.connect_timeout_s = std::min(c.timeout_s, 10.0);
  o.read_timeout_s = c.timeout_s;
  o.retry.max_attempts = c.max_retries + 1;
  o.retry.initial_backoff_s = c.backoff_s;
  return o;
}

class RemoteEmbedder final : public Embedder {
 public:
  explicit RemoteEmbedder(RemoteEmbedderConfig config) : config_(std::move(config)), http_(client_options(config_)) {
    if (config_.provider != "ollama" && config_.provider != "openai")
      throw invalid_input("embedding provider must be ollama or openai, not '" + config_.provider + "'");
    if (config_.model.empty()) throw invalid_input("embedding provider " + config_.provider + " needs a model name");
    dimension_ = config_.dimension;
  }

  std::vector<std::vector<float>> embed(const std::vector<std::string>& texts, EmbedPurpose purpose) override {
    std::vector<std::vector<float>> out;
    out.reserve(texts.size());
    const std::string& prefix = purpose == EmbedPurpose::kQuery ? config_.query_prefix : config_.passage_prefix;
    const size_t batch = static_cast<size_t>(std::max(1, config_.batch_size));
    for (size_t start = 0; start < texts.size(); start += batch) {
      nlohmann::json input = nlohmann::json::array();
      for (size_t i = start; i < std::min(texts.size(), start + batch); ++i) input.push_back(prefix + texts[i]);
      auto vectors = request(input);
      if (vectors.size() != input.size()) {
        throw unavailable(config_.provider + " embedder returned " + std::to_string(vectors.size()) +
                          " vectors for " + std::to_string(input.size()) + " texts");
      }
      for (auto& v : vectors) out.push_back(std::move(v));
    }
    return out;
  }

  int dimension() const override {
    if (dimension_ == 0) {
      // Ask once: the index needs the dimension before the first vector.
      auto self = const_cast<RemoteEmbedder*>(this);
      self->dimension_ = static_cast<int>(self->request(nlohmann::json::array({"dimension probe"})).at(0).size());
    }
    return dimension_;
  }

  std::string model_id() const override { return config_.provider + ":" + config_.model; }

 private:
  std::vector<std::vector<float>> request(const nlohmann::json& input) {
    net::Request r;
    r.method = "POST";
    r.path = config_.provider == "ollama" ? "/api/embed" : "/embeddings";
    r.body = nlohmann::json{{"model", config_.model}, {"input", input}}.dump();
    r.content_type = "application/json";
    if (!config_.api_key.empty()) r.headers.emplace_back("Authorization", "Bearer " + config_.api_key);
    net::Response res = http_.send(r);
    if (!res.ok()) throw http_.error_for(res);
    return parse(res.body);
  }

  std::vector<std::vector<float>> parse(const std::string& body) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded()) throw unavailable(config_.provider + " embedder sent malformed JSON");
    std::vector<std::vector<float>> out;
    try {
      if (config_.provider == "ollama") {
        for (const auto& v : j.at("embeddings")) out.push_back(v.get<std::vector<float>>());
      } else {
        const auto& data = j.at("data");
        out.resize(data.size());
        for (const auto& item : data) {
          const size_t index = item.value("index", static_cast<size_t>(&item - &data[0]));
          if (index >= out.size()) throw unavailable("embedding index out of range");
          out[index] = item.at("embedding").get<std::vector<float>>();
        }
      }
    } catch (const nlohmann::json::exception&) {
      throw unavailable(config_.provider + " embedder sent an unexpected response shape");
    }
    for (auto& v : out) {
      if (v.empty()) throw unavailable(config_.provider + " embedder sent an empty vector");
      if (dimension_ == 0) dimension_ = static_cast<int>(v.size());
      if (static_cast<int>(v.size()) != dimension_)
        throw unavailable("embedding dimension changed from " + std::to_string(dimension_) + " to " +
                          std::to_string(v.size()));
      double norm = 0;
      for (float x : v) norm += static_cast<double>(x) * x;
      if (norm > 0) {
        const float inv = static_cast<float>(1.0 / std::sqrt(norm));
        for (float& x : v) x *= inv;
      }
    }
    return out;
  }

  RemoteEmbedderConfig config_;
  net::HttpClient http_;
  int dimension_ = 0;
};

}  // namespace

std::unique_ptr<Embedder> make_remote_embedder(const RemoteEmbedderConfig& config) {
  return std::make_unique<RemoteEmbedder>(config);
}

}  // namespace kioku
