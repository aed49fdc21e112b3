// Decodes an OGG/Opus file in memory with libopusfile, so tests (voice, the
// Telegram bot) can check that a voice note really plays. Link opusfile
// (pkg-config module "opusfile") into the test target that includes this.
#pragma once

#include <opusfile.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace kioku::testing {

struct DecodedAudio {
  std::vector<int16_t> samples;  // interleaved when channels > 1
  int rate = 48000;              // opusfile always decodes at 48 kHz
  int channels = 0;
  double duration_s() const {
    return channels == 0 ? 0.0 : static_cast<double>(samples.size()) / channels / rate;
  }
  // Samples whose magnitude exceeds threshold: speech has many, silence none.
  size_t loud_samples(int threshold = 500) const {
    size_t n = 0;
    for (int16_t s : samples) n += std::abs(static_cast<int>(s)) > threshold;
    return n;
  }
};

// Throws std::runtime_error when the bytes are not a decodable OGG/Opus file.
inline DecodedAudio decode_ogg_opus(const std::string& ogg) {
  int error = 0;
  OggOpusFile* file = op_open_memory(reinterpret_cast<const unsigned char*>(ogg.data()), ogg.size(), &error);
  if (file == nullptr) throw std::runtime_error("not an OGG/Opus file (opusfile error " + std::to_string(error) + ")");
  DecodedAudio out;
  out.channels = op_channel_count(file, -1);
  std::vector<opus_int16> buffer(5760 * 2 * 2);  // 120 ms at 48 kHz, stereo, twice over
  for (;;) {
    const int frames = op_read(file, buffer.data(), static_cast<int>(buffer.size()), nullptr);
    if (frames == 0) break;
    if (frames < 0) {
      op_free(file);
      throw std::runtime_error("OGG/Opus decode failed (opusfile error " + std::to_string(frames) + ")");
    }
    out.samples.insert(out.samples.end(), buffer.begin(), buffer.begin() + static_cast<ptrdiff_t>(frames) * out.channels);
  }
  op_free(file);
  return out;
}

}  // namespace kioku::testing
