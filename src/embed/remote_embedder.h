// Embedders served over HTTP:
//   Ollama            POST {url}/api/embed        {"model", "input": [...]} -> {"embeddings": [[...]]}
//   OpenAI-compatible POST {url}/embeddings       {"model", "input": [...]} -> {"data": [{"index", "embedding"}]}
//                     (url includes /v1: llama.cpp's llama-server, LM Studio, vLLM, OpenAI)
// Texts are sent in batches over net::HttpClient: 429/5xx and connection
// errors are retried with jittered backoff (honouring Retry-After) and end as
// kioku::Error(kUnavailable); a refused key is kAuthFailed and other 4xx
// kInvalidInput / kNotFound, not retried. Messages never contain the API key. Vectors are L2-normalised here
// because not every server does it. Thread safety: one request at a time.
#pragma once

#include <memory>
#include <string>

#include "embed/embedder.h"

namespace kioku {

struct RemoteEmbedderConfig {
  std::string provider;  // "ollama" | "openai"
  std::string url;       // base URL, e.g. http://127.0.0.1:11434 or http://127.0.0.1:8080/v1
  std::string model;
  std::string api_key;   // sent as a Bearer token when set (openai)
  int dimension = 0;     // 0 = learn it from the first response
  int batch_size = 64;
  double timeout_s = 30;
  int max_retries = 3;
  double backoff_s = 0.5;  // first retry delay; doubles each time
  std::string query_prefix;    // e.g. "query: " for e5 models
  std::string passage_prefix;  // e.g. "passage: "
};

std::unique_ptr<Embedder> make_remote_embedder(const RemoteEmbedderConfig& config);

}  // namespace kioku
