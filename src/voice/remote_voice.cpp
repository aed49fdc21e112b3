#include <cctype>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/url.h"
#include "net/http_client.h"
#include "voice/voice.h"

namespace kioku {

namespace {

// Both "http://host:8880" and "http://host:8880/v1" are common ways to write
// the base URL of an OpenAI-compatible server; accept either.
std::string endpoint_path(const BaseUrl& base, const std::string& endpoint) {
  const bool has_v1 = base.path.size() >= 3 && base.path.compare(base.path.size() - 3, 3, "/v1") == 0;
  return base.path + (has_v1 ? "" : "/v1") + endpoint;
}

// Sends one request with the net layer's retries (connection errors, 429,
// 5xx); returns the body of a 2xx. A 400/415/422 about the content is the
// caller's input (kInvalidInput), 413 kTooLarge, a refused key kAuthFailed.
// Messages name the server, never the key.
std::string send(const RemoteVoiceOptions& options, const BaseUrl& base, const std::string& label,
                 net::Request request) {
  net::ClientOptions o;
  o.base_url = base.origin();
  o.service.name = label;
  o.service.secrets = {options.api_key};
  o.connect_timeout_s = options.connect_timeout_s;
  o.read_timeout_s = options.timeout_s;
  o.retry.max_attempts = options.max_retries + 1;
  o.retry.initial_backoff_s = options.backoff_s;
  net::HttpClient http(o);
  request.method = "POST";
  if (!options.api_key.empty()) request.headers.emplace_back("Authorization", "Bearer " + options.api_key);
  net::Response r = http.send(request);
  if (!r.ok()) throw http.error_for(r);
  return std::move(r.body);
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
  net::Request request;
  request.path = path;
  request.body = body;
  request.content_type = "application/json";
  VoiceNote note;
  note.ogg_opus = send(options_, base_, "speech server", std::move(request));
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
  net::Request request;
  request.path = endpoint_path(base_, "/audio/transcriptions");
  request.parts = {
      {"file", audio, name, audio_content_type(name)},
      {"model", options_.model, "", ""},
      {"response_format", "json", "", ""},
  };
  const std::string body = send(options_, base_, "transcription server", std::move(request));
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
