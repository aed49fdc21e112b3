#include <opusenc.h>

#include <cstring>
#include <memory>

#include "core/error.h"
#include "voice/voice.h"

namespace kioku {

namespace {

int append_to_string(void* user_data, const unsigned char* ptr, opus_int32 len) {
  static_cast<std::string*>(user_data)->append(reinterpret_cast<const char*>(ptr), static_cast<size_t>(len));
  return 0;
}

int nothing_to_close(void*) { return 0; }

struct CommentsDeleter {
  void operator()(OggOpusComments* c) const { ope_comments_destroy(c); }
};
struct EncoderDeleter {
  void operator()(OggOpusEnc* e) const { ope_encoder_destroy(e); }
};

uint64_t read_le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

VoiceNote encode_ogg_opus(std::span<const int16_t> pcm, int sample_rate, int channels, int bitrate) {
  if (channels != 1 && channels != 2) throw invalid_input("OGG/Opus voice notes are mono or stereo");
  if (sample_rate <= 0) throw invalid_input("bad sample rate " + std::to_string(sample_rate));
  if (pcm.size() < static_cast<size_t>(channels)) throw invalid_input("no audio to encode");

  std::unique_ptr<OggOpusComments, CommentsDeleter> comments(ope_comments_create());
  if (!comments) throw Error(ErrorCode::kInternal, "libopusenc: out of memory");
  ope_comments_add(comments.get(), "ENCODER", "kioku");

  VoiceNote note;
  const OpusEncCallbacks callbacks{append_to_string, nothing_to_close};
  int error = OPE_OK;
  // Mapping family 0 is plain mono/stereo, which is what Telegram's voice
  // notes and every Opus player expect.
  std::unique_ptr<OggOpusEnc, EncoderDeleter> encoder(
      ope_encoder_create_callbacks(&callbacks, &note.ogg_opus, comments.get(), sample_rate, channels, 0, &error));
  if (!encoder) throw Error(ErrorCode::kInternal, std::string("libopusenc: ") + ope_strerror(error));
  ope_encoder_ctl(encoder.get(), OPUS_SET_APPLICATION(OPUS_APPLICATION_VOIP));
  ope_encoder_ctl(encoder.get(), OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
  ope_encoder_ctl(encoder.get(), OPUS_SET_BITRATE(bitrate));

  const int frames = static_cast<int>(pcm.size() / static_cast<size_t>(channels));
  if (int rc = ope_encoder_write(encoder.get(), pcm.data(), frames); rc != OPE_OK)
    throw Error(ErrorCode::kInternal, std::string("libopusenc: ") + ope_strerror(rc));
  if (int rc = ope_encoder_drain(encoder.get()); rc != OPE_OK)
    throw Error(ErrorCode::kInternal, std::string("libopusenc: ") + ope_strerror(rc));
  note.duration_s = static_cast<double>(frames) / sample_rate;
  return note;
}

double ogg_opus_duration_s(const std::string& ogg) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(ogg.data());
  const size_t head = ogg.find("OpusHead");
  // OpusHead: magic(8) version(1) channels(1) pre-skip(2, little endian) ...
  if (ogg.compare(0, 4, "OggS") != 0 || head == std::string::npos || head + 12 > ogg.size()) return 0;
  const uint64_t pre_skip = read_le(bytes + head + 10, 2);
  // The granule position (bytes 6..13 of a page header) of the last page is
  // the total count of 48 kHz samples, pre-skip included.
  for (size_t page = ogg.rfind("OggS"); page != std::string::npos && page > 0; page = ogg.rfind("OggS", page - 1)) {
    if (page + 14 > ogg.size()) continue;
    const uint64_t granule = read_le(bytes + page + 6, 8);
    if (granule == ~uint64_t{0}) continue;  // a page where no packet ends
    return granule > pre_skip ? static_cast<double>(granule - pre_skip) / 48000.0 : 0.0;
  }
  return 0;
}

}  // namespace kioku
