#include "core/error.h"
#include "voice/voice.h"

namespace kioku {

namespace {

void read_request_settings(const Config& config, RemoteVoiceOptions& options) {
  options.timeout_s = config.get_number("voice.timeout_s", "KIOKU_VOICE_TIMEOUT_S").value_or(options.timeout_s);
  options.max_retries =
      static_cast<int>(config.get_number("voice.max_retries", "KIOKU_VOICE_MAX_RETRIES").value_or(options.max_retries));
  if (options.timeout_s <= 0) throw invalid_input("voice.timeout_s must be positive");
  if (options.max_retries < 0) throw invalid_input("voice.max_retries must not be negative");
}

}  // namespace

std::unique_ptr<SpeechSynthesizer> make_synthesizer(const Config& config) {
  const std::string url = config.get_string_or("voice.tts_url", "", "KIOKU_TTS_URL");
  const std::string voice = config.get_string_or("voice.tts_voice", "", "KIOKU_TTS_VOICE");
  if (url.empty()) {
    EspeakOptions options;
    if (!voice.empty()) options.voice = voice;
    return std::make_unique<EspeakSynthesizer>(options);
  }
  RemoteVoiceOptions options;
  options.url = url;
  options.model = config.get_string_or("voice.tts_model", "", "KIOKU_TTS_MODEL");
  options.voice = voice;
  options.api_key = config.get_string_or("voice.tts_api_key", "", "KIOKU_TTS_API_KEY");
  read_request_settings(config, options);
  return std::make_unique<RemoteSynthesizer>(options);
}

std::unique_ptr<Transcriber> make_transcriber(const Config& config) {
  const std::string url = config.get_string_or("voice.stt_url", "", "KIOKU_STT_URL");
  if (url.empty()) return nullptr;
  RemoteVoiceOptions options;
  options.url = url;
  options.model = config.get_string_or("voice.stt_model", "whisper-1", "KIOKU_STT_MODEL");
  options.api_key = config.get_string_or("voice.stt_api_key", "", "KIOKU_STT_API_KEY");
  read_request_settings(config, options);
  return std::make_unique<RemoteTranscriber>(options);
}

}  // namespace kioku
