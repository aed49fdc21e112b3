// `kioku profile`, its corrections, `memory why` on importance, and a chat
// that resumes after the process ends (every command is a new process).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "llm/fake_llm_server.h"
#include "testing/run_binary.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

class ProfileCli : public ::testing::Test {
 protected:
  testing::RunResult kioku(std::vector<std::string> args, const std::string& stdin_text = "") {
    return testing::run_binary(KIOKU_BINARY, args, dir / "cwd", env, stdin_text);
  }
  nlohmann::json kioku_json(std::vector<std::string> args) {
    args.push_back("--json");
    auto r = kioku(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }
  testing::TempDir dir;
  testing::FakeLlmServer llm{[](const nlohmann::json& req) -> std::string {
    const std::string system = req["messages"][0]["content"];
    if (system.find("You read the emotion") != std::string::npos) return R"({"emotion":"sadness","intensity":0.7})";
    return "I'm here. Tell me more.";
  }};
  std::map<std::string, std::string> env = {{"KIOKU_HOME", (dir / "data").string()},
                                            {"KIOKU_LLM_PROVIDER", "openai"},
                                            {"KIOKU_LLM_URL", llm.url()},
                                            {"KIOKU_LLM_MODEL", "test-model"}};
};

TEST_F(ProfileCli, ShowsWhatWasLearnedAcrossProcessesAndLetsTheUserCorrectIt) {
  auto turn = kioku_json({"chat", "-m", "My cat died last week"});
  const std::string message_id = turn["user_memory_id"];
  ASSERT_EQ(kioku({"chat", "-m", "thanks, that helped"}).exit_code, 0);
  ASSERT_EQ(kioku({"rate", "5"}).exit_code, 0);

  auto doc = kioku_json({"profile"});  // a new process: all of it came from the database
  EXPECT_EQ(doc["emotions"]["recent"].size(), 2u);
  ASSERT_FALSE(doc["strategies"].empty());
  EXPECT_EQ(doc["strategies"][0]["emotion"], "sadness");
  EXPECT_EQ(doc["strategies"][0]["strategy"], "listen_reflect");
  EXPECT_GT(doc["strategies"][0]["weight"].get<double>(), 0.6);
  EXPECT_EQ(doc["strategies"][0]["history"].size(), 2u);  // feedback, then the rating
  EXPECT_EQ(doc["conversation"]["turns"], 2);
  EXPECT_EQ(doc["conversation"]["channel"], "cli");
  auto text = kioku({"profile"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("sadness: listen and reflect"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Conversation: 2 messages"), std::string::npos) << text.out;

  // Corrections.
  EXPECT_EQ(kioku({"profile", "emotion", message_id, "anger", "--intensity", "0.4"}).exit_code, 0);
  EXPECT_EQ(kioku({"profile", "strategy", "sadness", "humour", "0.9"}).exit_code, 0);
  doc = kioku_json({"profile"});
  bool corrected = false;
  for (const auto& r : doc["emotions"]["recent"])
    corrected |= r["message_id"] == message_id && r["emotion"] == "anger" && r["detector"] == "user";
  EXPECT_TRUE(corrected);
  auto history = kioku_json({"profile", "history", "humour"});
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0]["reason"], "correction");

  // Bad input: one line and a non-zero exit.
  auto bad = kioku({"profile", "strategy", "sadness", "shouting", "0.5"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("unknown strategy"), std::string::npos);
  EXPECT_NE(kioku({"profile", "forget", "everything"}).exit_code, 0);
  EXPECT_NE(kioku({"profile", "forget", "strategy", "humour", "joy"}).exit_code, 0);  // nothing like that

  // Erasing.
  EXPECT_EQ(kioku({"profile", "forget", "strategy", "humour", "sadness"}).exit_code, 0);
  EXPECT_EQ(kioku({"profile", "forget", "all"}).exit_code, 0);
  doc = kioku_json({"profile"});
  EXPECT_TRUE(doc["strategies"].empty());
  EXPECT_TRUE(doc["emotions"]["recent"].empty());
  EXPECT_TRUE(doc["conversation"].is_null());
  EXPECT_EQ(kioku_json({"list", "--type", "chat"}).size(), 4u);  // the chats themselves stay
}

TEST_F(ProfileCli, ImportanceIsPredictedFromWhatTheUserUsesAndExplainedByMemoryWhy) {
  const std::string first = kioku_json({"add", "Hana plays the piano", "--tags", "family"})["id"];
  for (int i = 0; i < 3; ++i) kioku_json({"get", first});  // opened three times
  kioku_json({"search", "piano"});
  const std::string next = kioku_json({"add", "Hana starts school in April", "--tags", "family"})["id"];
  auto why = kioku_json({"memory", "why", next});
  EXPECT_TRUE(why["importance"]["predicted_when_added"].get<bool>());
  EXPECT_GT(why["importance"]["predicted"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(why["importance"]["importance"].get<double>(), why["importance"]["predicted"].get<double>());
  bool family = false;
  for (const auto& f : why["importance"]["factors"]) family |= f["kind"] == "tag" && f["value"] == "family";
  EXPECT_TRUE(family) << why.dump();
  auto text = kioku({"memory", "why", next});
  EXPECT_NE(text.out.find("predicted when added as"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("tag 'family': matters to you"), std::string::npos) << text.out;
  // An importance given by hand is kept.
  const std::string manual =
      kioku_json({"add", "Hana's shoe size is 36", "--tags", "family", "--importance", "0.2"})["id"];
  EXPECT_DOUBLE_EQ(kioku_json({"get", manual})["importance"].get<double>(), 0.2);
}

TEST_F(ProfileCli, AnInteractiveChatResumesWhereTheConversationWas) {
  ASSERT_EQ(kioku({"chat", "-m", "I'm planning a trip to Kyoto"}).exit_code, 0);
  auto r = kioku({"chat"}, "What should I pack?\n\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(continuing: 1 messages so far, the last from cli"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("I'm here. Tell me more."), std::string::npos) << r.out;
  // The new process sent the earlier turn as history.
  const auto msgs = llm.requests().back()["messages"];
  ASSERT_GE(msgs.size(), 4u);
  EXPECT_EQ(msgs[1]["content"], "I'm planning a trip to Kyoto");
}

}  // namespace
}  // namespace kioku
