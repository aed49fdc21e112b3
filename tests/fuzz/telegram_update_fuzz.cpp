// Telegram updates as getUpdates delivers them (JSON), read by the bot.
#include "bots/telegram/update.h"
#include "core/json.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kioku::fuzz::expect_clean([&] {
    auto update = kioku::parse_json_or_discarded(kioku::fuzz::as_text(data, size));
    if (update.is_discarded()) return;
    if (auto in = kioku::telegram::parse_update(update)) (void)in->text.size();
  });
  return 0;
}
