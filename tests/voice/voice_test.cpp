#include "voice/voice.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "core/error.h"
#include "testing/loopback_server.h"
#include "voice/ogg_decode.h"

namespace kioku {
namespace {

using testing::decode_ogg_opus;
using testing::LoopbackServer;

const std::string kSecret = "sk-very-secret-voice-key-123";

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "expected a kioku::Error";
  return ErrorCode::kInternal;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

// A real OGG/Opus file (half a second of a 440 Hz tone), what a TTS server
// would send back.
std::string tone_ogg(double seconds = 0.5) {
  const int rate = 24000;
  std::vector<int16_t> pcm(static_cast<size_t>(seconds * rate));
  for (size_t i = 0; i < pcm.size(); ++i) pcm[i] = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 440 * i / rate));
  return encode_ogg_opus(pcm, rate).ogg_opus;
}

// A port nothing listens on: one a server had and gave back.
int closed_port() {
  int port = 0;
  {
    LoopbackServer server([](httplib::Server&) {});
    port = server.port();
  }
  return port;
}

RemoteVoiceOptions options_for(const std::string& url) {
  RemoteVoiceOptions o;
  o.url = url;
  o.api_key = kSecret;
  o.max_retries = 0;
  o.timeout_s = 10;
  return o;
}

Config config_with_env(std::map<std::string, std::string> vars) {
  return Config::empty([vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

// --- espeak-ng ---------------------------------------------------------------

TEST(EspeakSynthesizer, SpeaksASentenceAsADecodableOggOpusVoiceNote) {
  EspeakSynthesizer tts;
  const VoiceNote note = tts.synthesize("Hello, this is Kioku. I remember that your sister Hana lives in Osaka.");
  ASSERT_GT(note.ogg_opus.size(), 1000u);
  EXPECT_EQ(note.ogg_opus.substr(0, 4), "OggS");
  EXPECT_NE(note.ogg_opus.find("OpusHead"), std::string::npos);
  EXPECT_NE(note.ogg_opus.find("OpusTags"), std::string::npos);

  const auto audio = decode_ogg_opus(note.ogg_opus);
  EXPECT_EQ(audio.channels, 1);
  EXPECT_EQ(audio.rate, 48000);
  // About five seconds of speech at 175 words per minute.
  EXPECT_GT(audio.duration_s(), 2.0);
  EXPECT_LT(audio.duration_s(), 15.0);
  EXPECT_GT(audio.loud_samples(), audio.samples.size() / 10) << "the voice note is (nearly) silent";
  EXPECT_NEAR(note.duration_s, audio.duration_s(), 0.05);
  EXPECT_NEAR(ogg_opus_duration_s(note.ogg_opus), audio.duration_s(), 0.05);
  EXPECT_EQ(tts.name(), "espeak-ng");
}

TEST(EspeakSynthesizer, AShortWordIsStillPlausibleAudio) {
  EspeakSynthesizer tts;
  const auto audio = decode_ogg_opus(tts.synthesize("Yes.").ogg_opus);
  EXPECT_GT(audio.duration_s(), 0.2);
  EXPECT_LT(audio.duration_s(), 3.0);
  EXPECT_GT(audio.loud_samples(), 1000u);
}

TEST(EspeakSynthesizer, LongerTextGivesLongerAudio) {
  EspeakSynthesizer tts;
  const double short_s = tts.synthesize("Good morning.").duration_s;
  const double long_s =
      tts.synthesize("Good morning. Today you planned a walk by the canal, lunch with Hana, and an early night.")
          .duration_s;
  EXPECT_GT(long_s, short_s * 2);
}

TEST(EspeakSynthesizer, EmptyOrBlankTextIsInvalidInput) {
  EspeakSynthesizer tts;
  EXPECT_EQ(code_of([&] { tts.synthesize(""); }), ErrorCode::kInvalidInput);
  EXPECT_EQ(code_of([&] { tts.synthesize(" \n\t "); }), ErrorCode::kInvalidInput);
}

TEST(EspeakSynthesizer, OverlongTextIsTooLarge) {
  EspeakOptions options;
  options.max_text_bytes = 100;
  EspeakSynthesizer tts(options);
  EXPECT_EQ(code_of([&] { tts.synthesize(std::string(101, 'a')); }), ErrorCode::kTooLarge);
}

TEST(EspeakSynthesizer, UnknownVoiceIsInvalidInputAndLeavesTheEngineUsable) {
  EspeakOptions options;
  options.voice = "no-such-voice-xyz";
  EspeakSynthesizer bad(options);
  EXPECT_EQ(code_of([&] { bad.synthesize("hello"); }), ErrorCode::kInvalidInput);
  EspeakSynthesizer good;
  EXPECT_GT(decode_ogg_opus(good.synthesize("hello").ogg_opus).loud_samples(), 1000u);
}

TEST(EspeakSynthesizer, VoicesByFileNameOrLanguageCode) {
  // "en-gb" is a language code, not a voice file name ("en") in espeak-ng.
  for (const std::string voice : {"de", "en-gb", "EN-US", "en-gb-x-rp", "ja"}) {
    EspeakOptions options;
    options.voice = voice;
    EspeakSynthesizer tts(options);
    EXPECT_GT(decode_ogg_opus(tts.synthesize("Good morning, how are you?").ogg_opus).duration_s(), 0.5) << voice;
  }
}

TEST(EspeakSynthesizer, ConcurrentCallsFromManyThreadsAreSerialisedSafely) {
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::vector<double> durations;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      EspeakOptions options;
      options.voice = t % 2 == 0 ? "en-us" : "en-gb";
      EspeakSynthesizer tts(options);
      for (int i = 0; i < 3; ++i) {
        const auto audio = decode_ogg_opus(tts.synthesize("Thread " + std::to_string(t) + " says hello.").ogg_opus);
        std::lock_guard<std::mutex> lock(mutex);
        durations.push_back(audio.duration_s());
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(durations.size(), 12u);
  for (double d : durations) {
    EXPECT_GT(d, 0.5);
    EXPECT_LT(d, 5.0);
  }
}

// --- OGG/Opus encoding -------------------------------------------------------

TEST(OggOpus, EncodesAnyInputRateToTheSameDuration) {
  for (int rate : {8000, 16000, 22050, 44100, 48000}) {
    std::vector<int16_t> pcm(static_cast<size_t>(rate * 0.75));
    for (size_t i = 0; i < pcm.size(); ++i) pcm[i] = static_cast<int16_t>(10000 * std::sin(2 * M_PI * 300 * i / rate));
    const VoiceNote note = encode_ogg_opus(pcm, rate);
    const auto audio = decode_ogg_opus(note.ogg_opus);
    EXPECT_NEAR(audio.duration_s(), 0.75, 0.03) << rate << " Hz";
    EXPECT_NEAR(note.duration_s, 0.75, 1e-3);
    EXPECT_NEAR(ogg_opus_duration_s(note.ogg_opus), 0.75, 0.03) << rate << " Hz";
    EXPECT_GT(audio.loud_samples(), audio.samples.size() / 2) << rate << " Hz";
  }
}

TEST(OggOpus, RejectsNoAudioAndOddChannelCounts) {
  EXPECT_EQ(code_of([] { encode_ogg_opus({}, 16000); }), ErrorCode::kInvalidInput);
  std::vector<int16_t> pcm(1000);
  EXPECT_EQ(code_of([&] { encode_ogg_opus(pcm, 16000, 3); }), ErrorCode::kInvalidInput);
  EXPECT_EQ(code_of([&] { encode_ogg_opus(pcm, 0); }), ErrorCode::kInvalidInput);
}

TEST(OggOpus, DurationOfSomethingElseIsZero) {
  EXPECT_EQ(ogg_opus_duration_s(""), 0);
  EXPECT_EQ(ogg_opus_duration_s("ID3\x03 not an ogg file at all"), 0);
  EXPECT_THROW(decode_ogg_opus("OggS but then nothing"), std::runtime_error);
}

// --- remote synthesis ----------------------------------------------------------

TEST(RemoteSynthesizer, PostsOpenAiSpeechJsonWithBearerAndReturnsTheOgg) {
  const std::string ogg = tone_ogg(0.5);
  nlohmann::json seen;
  std::string auth, content_type, path;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/audio/speech", [&](const httplib::Request& req, httplib::Response& res) {
      seen = nlohmann::json::parse(req.body);
      auth = req.get_header_value("Authorization");
      content_type = req.get_header_value("Content-Type");
      res.set_content(ogg, "audio/ogg");
    });
  });
  auto options = options_for(server.url());
  options.model = "kokoro";
  options.voice = "af_heart";
  RemoteSynthesizer tts(options);
  const VoiceNote note = tts.synthesize("Hello from far away");
  EXPECT_EQ(note.ogg_opus, ogg);
  EXPECT_NEAR(note.duration_s, 0.5, 0.03);
  EXPECT_EQ(seen["model"], "kokoro");
  EXPECT_EQ(seen["input"], "Hello from far away");
  EXPECT_EQ(seen["voice"], "af_heart");
  EXPECT_EQ(seen["response_format"], "opus");
  EXPECT_EQ(auth, "Bearer " + kSecret);
  EXPECT_EQ(content_type, "application/json");
  EXPECT_EQ(tts.name(), "remote:kokoro");
}

TEST(RemoteSynthesizer, ABaseUrlEndingInV1ReachesTheSameEndpointAndNoKeyMeansNoHeader) {
  std::string auth = "unset";
  const std::string ogg = tone_ogg();
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/audio/speech", [&](const httplib::Request& req, httplib::Response& res) {
      auth = req.get_header_value("Authorization");
      res.set_content(ogg, "audio/ogg");
    });
  });
  auto options = options_for(server.url("/v1/"));
  options.api_key = "";
  EXPECT_EQ(RemoteSynthesizer(options).synthesize("hi").ogg_opus, ogg);
  EXPECT_EQ(auth, "");
}

TEST(RemoteSynthesizer, AnotherAudioFormatIsRejectedClearly) {
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/audio/speech", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string("ID3\x04\x00\x00\x00\x00\x00\x00 mp3 frames", 20), "audio/mpeg");
    });
  });
  RemoteSynthesizer tts(options_for(server.url()));
  const std::string message = message_of([&] { tts.synthesize("hi"); });
  EXPECT_NE(message.find("MP3"), std::string::npos) << message;
  EXPECT_NE(message.find("not OGG/Opus"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { tts.synthesize("hi"); }), ErrorCode::kUnavailable);
}

TEST(RemoteSynthesizer, EmptyTextIsInvalidInputWithoutARequest) {
  int requests = 0;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/audio/speech", [&](const httplib::Request&, httplib::Response&) { ++requests; });
  });
  RemoteSynthesizer tts(options_for(server.url()));
  EXPECT_EQ(code_of([&] { tts.synthesize("  "); }), ErrorCode::kInvalidInput);
  EXPECT_EQ(requests, 0);
}

TEST(RemoteSynthesizer, RetriesServerErrorsThenSucceeds) {
  int requests = 0;
  const std::string ogg = tone_ogg();
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/audio/speech", [&](const httplib::Request&, httplib::Response& res) {
      if (++requests < 3) {
        res.status = 503;
        return;
      }
      res.set_content(ogg, "audio/ogg");
    });
  });
  auto options = options_for(server.url());
  options.max_retries = 2;
  options.backoff_s = 0.01;
  EXPECT_EQ(RemoteSynthesizer(options).synthesize("hi").ogg_opus, ogg);
  EXPECT_EQ(requests, 3);
}

TEST(RemoteSynthesizer, ADeadEndpointIsUnavailableAndTheKeyNeverShows) {
  RemoteSynthesizer tts(options_for("http://127.0.0.1:" + std::to_string(closed_port())));
  EXPECT_EQ(code_of([&] { tts.synthesize("hello"); }), ErrorCode::kUnavailable);
  const std::string message = message_of([&] { tts.synthesize("hello"); });
  EXPECT_EQ(message.find(kSecret), std::string::npos) << message;
  EXPECT_NE(message.find("127.0.0.1"), std::string::npos) << message;
}

TEST(RemoteSynthesizer, AnErrorBodyEchoingTheKeyIsRedacted) {
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/audio/speech", [](const httplib::Request& req, httplib::Response& res) {
      res.status = 401;
      res.set_content(nlohmann::json{{"error", {{"message", "bad key: " + req.get_header_value("Authorization")}}}}.dump(),
                      "application/json");
    });
  });
  RemoteSynthesizer tts(options_for(server.url()));
  EXPECT_EQ(code_of([&] { tts.synthesize("hello"); }), ErrorCode::kAuthFailed);
  const std::string message = message_of([&] { tts.synthesize("hello"); });
  EXPECT_EQ(message.find(kSecret), std::string::npos) << message;
  EXPECT_NE(message.find("the API key was refused by speech server"), std::string::npos) << message;
  EXPECT_NE(message.find("401"), std::string::npos) << message;
  EXPECT_NE(message.find("***"), std::string::npos) << message;
}

// --- remote transcription ------------------------------------------------------

TEST(RemoteTranscriber, UploadsMultipartFileAndModelAndReturnsTheText) {
  const std::string audio = tone_ogg();
  std::string filename, file_type, file_content, model, format, auth;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/audio/transcriptions", [&](const httplib::Request& req, httplib::Response& res) {
      if (!req.is_multipart_form_data() || !req.has_file("file")) {
        res.status = 400;
        return;
      }
      const auto file = req.get_file_value("file");
      filename = file.filename;
      file_type = file.content_type;
      file_content = file.content;
      model = req.get_file_value("model").content;
      format = req.get_file_value("response_format").content;
      auth = req.get_header_value("Authorization");
      res.set_content(R"({"text":" Remind me to call Hana on Friday.\n"})", "application/json");
    });
  });
  auto options = options_for(server.url());
  options.model = "whisper-large-v3";
  RemoteTranscriber stt(options);
  EXPECT_EQ(stt.transcribe(audio, "voice.oga"), "Remind me to call Hana on Friday.");
  EXPECT_EQ(filename, "voice.oga");
  EXPECT_EQ(file_type, "audio/ogg");
  EXPECT_EQ(file_content, audio);
  EXPECT_EQ(model, "whisper-large-v3");
  EXPECT_EQ(format, "json");
  EXPECT_EQ(auth, "Bearer " + kSecret);
}

TEST(RemoteTranscriber, UndecodableAudioRejectedByTheServerIsInvalidInput) {
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/audio/transcriptions", [](const httplib::Request&, httplib::Response& res) {
      res.status = 400;
      res.set_content(R"({"error":"failed to read audio data"})", "application/json");
    });
  });
  RemoteTranscriber stt(options_for(server.url()));
  EXPECT_EQ(code_of([&] { stt.transcribe("not audio", "voice.ogg"); }), ErrorCode::kInvalidInput);
  EXPECT_NE(message_of([&] { stt.transcribe("not audio", "voice.ogg"); }).find("failed to read audio"),
            std::string::npos);
  EXPECT_EQ(code_of([&] { stt.transcribe("", "voice.ogg"); }), ErrorCode::kInvalidInput);
}

TEST(RemoteTranscriber, AReplyWithoutTextIsUnavailable) {
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/audio/transcriptions",
           [](const httplib::Request&, httplib::Response& res) { res.set_content("<html>proxy</html>", "text/html"); });
  });
  RemoteTranscriber stt(options_for(server.url()));
  EXPECT_EQ(code_of([&] { stt.transcribe(tone_ogg(), "voice.ogg"); }), ErrorCode::kUnavailable);
}

TEST(RemoteTranscriber, ADeadEndpointIsUnavailableAndTheKeyNeverShows) {
  RemoteTranscriber stt(options_for("http://127.0.0.1:" + std::to_string(closed_port()) + "/v1"));
  EXPECT_EQ(code_of([&] { stt.transcribe(tone_ogg(), "voice.ogg"); }), ErrorCode::kUnavailable);
  const std::string message = message_of([&] { stt.transcribe(tone_ogg(), "voice.ogg"); });
  EXPECT_EQ(message.find(kSecret), std::string::npos) << message;
}

// --- factories -----------------------------------------------------------------

TEST(VoiceFactories, WithoutSettingsItIsEspeakAndNoTranscriber) {
  const Config config = config_with_env({});
  EXPECT_EQ(make_synthesizer(config)->name(), "espeak-ng");
  EXPECT_EQ(make_transcriber(config), nullptr);
}

TEST(VoiceFactories, EnvironmentSelectsTheRemoteEnginesAndTheirKeys) {
  const std::string ogg = tone_ogg();
  std::string tts_auth, stt_auth, stt_model;
  nlohmann::json tts_request;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/audio/speech", [&](const httplib::Request& req, httplib::Response& res) {
      tts_request = nlohmann::json::parse(req.body);
      tts_auth = req.get_header_value("Authorization");
      res.set_content(ogg, "audio/ogg");
    });
    s.Post("/v1/audio/transcriptions", [&](const httplib::Request& req, httplib::Response& res) {
      stt_auth = req.get_header_value("Authorization");
      stt_model = req.get_file_value("model").content;
      res.set_content(R"({"text":"hello"})", "application/json");
    });
  });
  const Config config = config_with_env({{"KIOKU_TTS_URL", server.url()},
                                         {"KIOKU_TTS_MODEL", "chatterbox"},
                                         {"KIOKU_TTS_VOICE", "emma"},
                                         {"KIOKU_TTS_API_KEY", "tts-key"},
                                         {"KIOKU_STT_URL", server.url("/v1")},
                                         {"KIOKU_STT_API_KEY", "stt-key"}});
  auto tts = make_synthesizer(config);
  EXPECT_EQ(tts->name(), "remote:chatterbox");
  EXPECT_EQ(tts->synthesize("hi").ogg_opus, ogg);
  EXPECT_EQ(tts_request["voice"], "emma");
  EXPECT_EQ(tts_auth, "Bearer tts-key");

  auto stt = make_transcriber(config);
  ASSERT_NE(stt, nullptr);
  EXPECT_EQ(stt->transcribe(ogg, "voice.ogg"), "hello");
  EXPECT_EQ(stt_model, "whisper-1");
  EXPECT_EQ(stt_auth, "Bearer stt-key");
}

TEST(VoiceFactories, ABadUrlIsInvalidInput) {
  EXPECT_EQ(code_of([] { make_synthesizer(config_with_env({{"KIOKU_TTS_URL", "ftp://x"}})); }),
            ErrorCode::kInvalidInput);
  EXPECT_EQ(code_of([] { make_transcriber(config_with_env({{"KIOKU_STT_URL", "nonsense"}})); }),
            ErrorCode::kInvalidInput);
}

TEST(VoiceFactories, AnEspeakVoiceFromTheEnvironmentIsUsed) {
  auto tts = make_synthesizer(config_with_env({{"KIOKU_TTS_VOICE", "no-such-voice-xyz"}}));
  EXPECT_EQ(code_of([&] { tts->synthesize("hello"); }), ErrorCode::kInvalidInput);
}

}  // namespace
}  // namespace kioku
