#include "core/error.h"
#include "store/profile.h"

namespace kioku {
namespace {

class UnkeptProfileStore final : public ProfileStore {
 public:
  explicit UnkeptProfileStore(std::string reason) : reason_(std::move(reason)) {}
  void put_emotion(const std::string&, const EmotionReading&) override {}
  std::optional<EmotionReading> emotion(const std::string&, const std::string&) override { return std::nullopt; }
  std::vector<EmotionReading> emotions(const std::string&, int) override { return {}; }
  bool remove_emotion(const std::string&, const std::string&) override { return false; }
  std::vector<StrategyWeight> strategies(const std::string&) override { return {}; }
  void put_strategy(const std::string&, const StrategyWeight&, const StrategyChange&) override {}
  std::vector<StrategyChange> strategy_history(const std::string&, const std::string&, int) override { return {}; }
  bool remove_strategy(const std::string&, const std::string&, const std::string&) override { return false; }
  void add_pattern_counts(const std::string&, const std::vector<ImportancePattern>&) override {}
  std::vector<ImportancePattern> patterns(const std::string&) override { return {}; }
  void put_pattern(const std::string&, const ImportancePattern&) override {}
  bool remove_pattern(const std::string&, const std::string&, const std::string&) override { return false; }
  void put_prediction(const std::string&, const ImportancePrediction&) override {}
  std::optional<ImportancePrediction> prediction(const std::string&, const std::string&) override {
    return std::nullopt;
  }
  void put_conversation(const std::string&, const ConversationState&) override {}
  std::optional<ConversationState> conversation(const std::string&) override { return std::nullopt; }
  void erase(const std::string&, const std::string& part) override {
    if (part != "emotions" && part != "strategies" && part != "patterns" && part != "conversation" && part != "all")
      throw invalid_input("unknown part '" + part + "' (emotions, strategies, patterns, conversation or all)");
  }
  std::string unavailable() const override { return reason_; }

 private:
  std::string reason_;
};

}  // namespace

std::unique_ptr<ProfileStore> unkept_profile_store(std::string reason) {
  return std::make_unique<UnkeptProfileStore>(std::move(reason));
}

}  // namespace kioku
