#include <httplib.h>

#include <cctype>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "core/url.h"
#include "voice/voice.h"

namespace kioku {

namespace {

// Both "http://host:8880" and "http://host:8880/v1" are common ways to write
// the base URL of an OpenAI-compatible server; accept either.
std::string endpoint_path(const BaseUrl& base, const std::string& endpoint) {
  const bool has_v1 = base.path.size() >= 3 && base.path.compare(base.path.size() - 3, 3, "/v1") == 0;
  return base.path + (has_v1 ? "" : "/v1") + endpoint;
}

std::string redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t p; (p = text.find(secret)) != std::string::npos;) text.replace(p, secret.size(), "***");
  return text;
}

// A short reason from an error body: OpenAI's {"error": {"message"}} or
// {"error": "..."}, else the start of the body.
std::string error_detail(const std::string& body) {
  std::string detail = body;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    detail = e.is_string() ? e.get<std::string>() : e.is_object() ? e.value("message", e.dump()) : e.dump();
  }
  if (detail.size() > 300) detail = detail.substr(0, 300) + "...";
  return detail;
}

void set_timeouts(httplib::Client& client, const RemoteVoiceOptions& options) {
  const auto split = [](double s) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::duration<double>(s)).count();
    return std::make_pair(static_cast<time_t>(us / 1000000), static_cast<time_t>(us % 1000000));
  };
  const auto [cs, cus] = split(options.connect_timeout_s);
  const auto [rs, rus] = split(options.timeout_s);
  client.set_connection_timeout(cs, cus);
  client.set_read_timeout(rs, rus);
  client.set_write_timeout(rs, rus);
}

// Sends one request (through send) with retries on connection errors, 429
// and 5xx; returns the body of a 200. Messages name the server, never the key.
std::string post_with_retries(const RemoteVoiceOptions& options, const BaseUrl& base, const std::string& label,
                              const std::function<httplib::Result(httplib::Client&, const httplib::Headers&)>& send) {
  const std::string who = label + " at " + base.origin();
  httplib::Headers headers;
  if (!options.api_key.empty()) headers.emplace("Authorization", "Bearer " + options.api_key);
  double delay = options.backoff_s;
  std::string last_error;
  for (int attempt = 0; attempt <= options.max_retries; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
      delay *= 2;
    }
    httplib::Client client(base.origin());
    set_timeouts(client, options);
    auto res = send(client, headers);
    if (!res) {
      last_error = "cannot reach the server (" + httplib::to_string(res.error()) + ")";
      continue;
    }
    const int status = res->status;
    if (status == 429 || status >= 500) {
      last_error = "HTTP " + std::to_string(status);
      delay = retry_delay_s(delay, res->get_header_value("Retry-After"));
      continue;
    }
    if (status == 200) return std::move(res->body);
    const std::string detail = redact(error_detail(res->body), options.api_key);
    const std::string message = who + " answered HTTP " + std::to_string(status) + (detail.empty() ? "" : ": " + detail);
    // 400-class answers about the content are the caller's input, not an outage.
    if (status == 400 || status == 415 || status == 422) throw invalid_input(message);
    if (status == 413) throw too_large(message);
    throw unavailable(message);
  }
  throw unavailable(who + ": gave up after " + std::to_string(options.max_retries + 1) +
                    (options.max_retries == 0 ? " attempt: " : " attempts: ") + last_error);
}

std::string audio_content_type(const std::string& filename) {
  const auto dot = filename.rfind('.');
  std::string ext = dot == std::string::npos ? "" : filename.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == "ogg" || ext == "oga" || ext == "opus") return "audio/ogg";
  if (ext == "mp3" || ext == "mpga" || ext == "mpeg") return "audio/mpeg";
  if (ext == "wav") return "audio/wav";
  if (ext == "m4a" || ext == "mp4") return "audio/mp4";
  if (ext == "webm") return "audio/webm";
  if (ext == "flac") return "audio/flac";
  return "application/octet-stream";
}

bool looks_like_ogg_opus(const std::string& bytes) {
  // OpusHead is the first packet, inside the first page (< 300 bytes in).
  return bytes.compare(0, 4, "OggS") == 0 && bytes.find("OpusHead") < 512;
}

std::string describe_format(const std::string& bytes) {
  if (bytes.compare(0, 4, "RIFF") == 0) return "WAV";
  if (bytes.compare(0, 3, "ID3") == 0 || (bytes.size() > 1 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
                                          (static_cast<unsigned char>(bytes[1]) & 0xE0) == 0xE0))
    return "MP3";
  if (bytes.compare(0, 4, "fLaC") == 0) return "FLAC";
  if (bytes.compare(0, 4, "OggS") == 0) return "OGG without Opus";
  if (bytes.empty()) return "an empty body";
  return "an unknown format";
}

}  // namespace

RemoteSynthesizer::RemoteSynthesizer(RemoteVoiceOptions options)
    : options_(std::move(options)), base_(parse_base_url(options_.url)) {
  if (options_.model.empty()) options_.model = "tts-1";
  if (options_.voice.empty()) options_.voice = "alloy";
}

VoiceNote RemoteSynthesizer::synthesize(const std::string& text) {
  if (text.find_first_not_of(" \t\r\n\f\v") == std::string::npos) throw invalid_input("nothing to say: the text is empty");
  const std::string path = endpoint_path(base_, "/audio/speech");
  const std::string body = nlohmann::json{{"model", options_.model},
                                          {"input", text},
                                          {"voice", options_.voice},
                                          {"response_format", "opus"}}
                               .dump();
  VoiceNote note;
  note.ogg_opus = post_with_retries(options_, base_, "speech server",
                                    [&](httplib::Client& client, const httplib::Headers& headers) {
                                      return client.Post(path, headers, body, "application/json");
                                    });
  if (!looks_like_ogg_opus(note.ogg_opus))
    throw unavailable("speech server at " + base_.origin() + " sent " + describe_format(note.ogg_opus) +
                      ", not OGG/Opus (does it support response_format \"opus\"?)");
  note.duration_s = ogg_opus_duration_s(note.ogg_opus);
  return note;
}

RemoteTranscriber::RemoteTranscriber(RemoteVoiceOptions options)
    : options_(std::move(options)), base_(parse_base_url(options_.url)) {
  if (options_.model.empty()) options_.model = "whisper-1";
}

std::string RemoteTranscriber::transcribe(const std::string& audio, const std::string& filename) {
  if (audio.empty()) throw invalid_input("no audio to transcribe");
  const std::string name = filename.empty() ? "audio.ogg" : filename;
  const httplib::MultipartFormDataItems items = {
      {"file", audio, name, audio_content_type(name)},
      {"model", options_.model, "", ""},
      {"response_format", "json", "", ""},
  };
  const std::string path = endpoint_path(base_, "/audio/transcriptions");
  const std::string body = post_with_retries(options_, base_, "transcription server",
                                             [&](httplib::Client& client, const httplib::Headers& headers) {
                                               return client.Post(path, headers, items);
                                             });
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
    throw unavailable("transcription server at " + base_.origin() + " sent no {\"text\": ...} reply");
  std::string text = j["text"].get<std::string>();
  // whisper starts segments with a space and may end them with a newline.
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace kioku
