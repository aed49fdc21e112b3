// Voice: speech synthesis (text -> OGG/Opus voice note) and transcription
// (audio -> text), behind two small interfaces so bots don't care which
// engine is configured.
//
// Engines:
//   - EspeakSynthesizer: espeak-ng in process (libespeak-ng), PCM encoded to
//     OGG/Opus with libopusenc. The default: works offline.
//   - RemoteSynthesizer: an OpenAI-compatible POST /v1/audio/speech server
//     (Chatterbox, Kokoro, OpenAI), asked for response_format "opus".
//   - RemoteTranscriber: an OpenAI-compatible POST /v1/audio/transcriptions
//     server (whisper.cpp's server, OpenAI), multipart upload.
//
// Settings ([voice] in config.toml, environment wins):
//   voice.tts_url   KIOKU_TTS_URL     base URL of /v1/audio/speech ("" = espeak-ng)
//   voice.tts_model KIOKU_TTS_MODEL   model name sent to the remote server, default "tts-1"
//   voice.tts_voice KIOKU_TTS_VOICE   voice name: espeak-ng voice or language ("en-us", the
//                                     default) or the remote voice ("alloy" by default)
//   voice.tts_api_key KIOKU_TTS_API_KEY
//   voice.stt_url   KIOKU_STT_URL     base URL of /v1/audio/transcriptions ("" = none)
//   voice.stt_model KIOKU_STT_MODEL   default "whisper-1"
//   voice.stt_api_key KIOKU_STT_API_KEY
//   voice.timeout_s KIOKU_VOICE_TIMEOUT_S   remote request timeout, default 60
//   voice.max_retries KIOKU_VOICE_MAX_RETRIES  default 2 (connection errors, 429, 5xx)
// A base URL may end in /v1 or not: "http://host:8880" and
// "http://host:8880/v1" both reach http://host:8880/v1/audio/speech.
//
// Errors: kioku::Error — kUnavailable when a remote server is down or no
// engine is configured, kAuthFailed when it refuses the API key (not
// retried), kInvalidInput for empty text or undecodable audio, kTooLarge for
// text over the synthesizer's limit. Remote calls go through net::HttpClient.
// Details: docs/VOICE.md.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/config.h"
#include "core/url.h"

namespace kioku {

struct VoiceNote {
  std::string ogg_opus;  // a complete OGG/Opus file
  double duration_s = 0;
};

class SpeechSynthesizer {
 public:
  virtual ~SpeechSynthesizer() = default;
  virtual VoiceNote synthesize(const std::string& text) = 0;
  virtual std::string name() const = 0;  // "espeak-ng", "remote:<model>"
};

class Transcriber {
 public:
  virtual ~Transcriber() = default;
  // audio: the file's bytes; filename gives the format (e.g. "voice.ogg").
  virtual std::string transcribe(const std::string& audio, const std::string& filename) = 0;
};

struct EspeakOptions {
  std::string voice = "en-us";  // an espeak-ng voice name
  int words_per_minute = 175;   // espeak-ng's normal rate
  int opus_bitrate = 32000;     // bits per second; plenty for mono speech
  size_t max_text_bytes = 8000; // longer text is kTooLarge (minutes of audio)
};

// Thread-safe: espeak-ng is global state, so every instance shares one
// process-wide lock around synthesis; encoding runs outside it.
class EspeakSynthesizer final : public SpeechSynthesizer {
 public:
  explicit EspeakSynthesizer(EspeakOptions options = {});
  VoiceNote synthesize(const std::string& text) override;
  std::string name() const override { return "espeak-ng"; }

 private:
  EspeakOptions options_;
};

struct RemoteVoiceOptions {
  std::string url;  // base URL, with or without a trailing /v1
  std::string model;
  std::string voice;    // synthesis only
  std::string api_key;  // sent as "Authorization: Bearer"; never in messages
  double timeout_s = 60;
  double connect_timeout_s = 5;
  int max_retries = 2;
  double backoff_s = 0.5;
};

// POST {url}/v1/audio/speech, JSON {model, input, voice, response_format:
// "opus"}. A reply that is not OGG/Opus is kUnavailable.
class RemoteSynthesizer final : public SpeechSynthesizer {
 public:
  explicit RemoteSynthesizer(RemoteVoiceOptions options);  // invalid_input on a bad URL
  VoiceNote synthesize(const std::string& text) override;
  std::string name() const override { return "remote:" + options_.model; }

 private:
  RemoteVoiceOptions options_;
  BaseUrl base_;
};

// POST {url}/v1/audio/transcriptions, multipart (file, model,
// response_format=json), reads {"text": ...}.
class RemoteTranscriber final : public Transcriber {
 public:
  explicit RemoteTranscriber(RemoteVoiceOptions options);  // invalid_input on a bad URL
  std::string transcribe(const std::string& audio, const std::string& filename) override;

 private:
  RemoteVoiceOptions options_;
  BaseUrl base_;
};

// Encodes 16-bit PCM (interleaved when channels is 2) at any sample rate as
// an OGG/Opus file; libopusenc resamples to Opus's 48 kHz itself.
VoiceNote encode_ogg_opus(std::span<const int16_t> pcm, int sample_rate, int channels = 1, int bitrate = 32000);

// The playing time of an OGG/Opus file from its last page's granule position
// (always 48 kHz) less the pre-skip; 0 when the bytes are not OGG/Opus.
double ogg_opus_duration_s(const std::string& ogg);

// From config: a remote synthesizer when voice.tts_url is set, else espeak-ng.
std::unique_ptr<SpeechSynthesizer> make_synthesizer(const Config& config);
// From config: a remote transcriber when voice.stt_url is set, else null.
std::unique_ptr<Transcriber> make_transcriber(const Config& config);

}  // namespace kioku
