#include <espeak-ng/speak_lib.h>

#include <cctype>
#include <cstring>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "voice/voice.h"

namespace kioku {

namespace {

// espeak-ng keeps one synthesizer per process (voice, rate, callback are all
// globals) and is not reentrant, so every use goes through this lock.
std::mutex& espeak_mutex() {
  static std::mutex m;
  return m;
}

int espeak_sample_rate = 0;  // guarded by espeak_mutex(); 0 until initialised

int collect_samples(short* wav, int count, espeak_EVENT* events) {
  if (wav != nullptr && count > 0 && events != nullptr && events->user_data != nullptr) {
    auto* pcm = static_cast<std::vector<int16_t>*>(events->user_data);
    pcm->insert(pcm->end(), wav, wav + count);
  }
  return 0;  // keep going
}

// Call with espeak_mutex() held.
int ensure_initialised() {
  if (espeak_sample_rate > 0) return espeak_sample_rate;
  // DONT_EXIT: without it espeak-ng calls exit() when its data is missing.
  const int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, espeakINITIALIZE_DONT_EXIT);
  if (rate <= 0) throw unavailable("espeak-ng could not start (is espeak-ng-data installed?)");
  espeak_SetSynthCallback(collect_samples);
  espeak_sample_rate = rate;
  return rate;
}

bool same_ignoring_case(const char* a, const std::string& b) {
  size_t i = 0;
  for (; a[i] != '\0' && i < b.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return a[i] == '\0' && i == b.size();
}

// Call with espeak_mutex() held. espeak-ng looks voices up by file name
// ("en", "en-us") or display name, so a plain language code such as "en-gb"
// (whose file is "en") is matched against each voice's languages as well.
bool select_voice(const std::string& voice) {
  if (espeak_SetVoiceByName(voice.c_str()) == EE_OK) return true;
  const espeak_VOICE** voices = espeak_ListVoices(nullptr);
  for (size_t v = 0; voices != nullptr && voices[v] != nullptr; ++v) {
    // languages: a list of (priority byte, NUL-terminated code), ended by a 0 byte.
    for (const char* entry = voices[v]->languages; entry != nullptr && *entry != '\0';) {
      const char* code = entry + 1;
      if (same_ignoring_case(code, voice)) return espeak_SetVoiceByName(voices[v]->name) == EE_OK;
      entry = code + std::strlen(code) + 1;
    }
  }
  return false;
}

bool is_blank(const std::string& text) {
  return text.find_first_not_of(" \t\r\n\f\v") == std::string::npos;
}

}  // namespace

EspeakSynthesizer::EspeakSynthesizer(EspeakOptions options) : options_(std::move(options)) {
  if (options_.voice.empty()) options_.voice = "en-us";
}

VoiceNote EspeakSynthesizer::synthesize(const std::string& text) {
  if (is_blank(text)) throw invalid_input("nothing to say: the text is empty");
  if (text.size() > options_.max_text_bytes)
    throw too_large("text to speak is " + std::to_string(text.size()) + " bytes; the limit is " +
                    std::to_string(options_.max_text_bytes));
  std::vector<int16_t> pcm;
  int rate = 0;
  {
    std::lock_guard<std::mutex> lock(espeak_mutex());
    rate = ensure_initialised();
    // Voice and rate are global: set them on every call, another instance
    // may have changed them.
    if (!select_voice(options_.voice))
      throw invalid_input("espeak-ng has no voice '" + options_.voice + "' (try en-us, en-gb, de, fr, ja)");
    espeak_SetParameter(espeakRATE, options_.words_per_minute, 0);
    const espeak_ERROR rc = espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8,
                                         nullptr, &pcm);
    if (rc != EE_OK) throw Error(ErrorCode::kInternal, "espeak-ng failed to synthesize (error " + std::to_string(rc) + ")");
  }
  if (pcm.empty()) throw invalid_input("espeak-ng produced no audio for this text");
  return encode_ogg_opus(pcm, rate, 1, options_.opus_bitrate);
}

}  // namespace kioku
