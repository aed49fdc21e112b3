// The `kioku` binary, driven as a new user would drive it.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>
#include <sstream>
#include <nlohmann/json.hpp>

#include "core/hash.h"
#include "llm/fake_llm_server.h"
#include "testing/loopback_server.h"
#include "testing/real_model.h"
#include "testing/images.h"
#include "testing/postgres.h"
#include "testing/run_binary.h"
#include "testing/scripted_model.h"
#include "testing/shared_dir.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

class Cli : public ::testing::Test {
 protected:
  testing::RunResult kioku(std::vector<std::string> args, const std::string& stdin_text = "") {
    return testing::run_binary(KIOKU_BINARY, args, dir / "cwd", {{"KIOKU_HOME", (dir / "data").string()}}, stdin_text);
  }
  nlohmann::json kioku_json(std::vector<std::string> args) {
    args.push_back("--json");
    auto r = kioku(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }
  std::filesystem::path write(const std::string& name, const std::string& content) {
    std::filesystem::create_directories(dir / "files");
    std::ofstream(dir / "files" / name, std::ios::binary) << content;
    return dir / "files" / name;
  }
  testing::TempDir dir;
};

bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; }

TEST_F(Cli, InitCreatesTheDataDirectory) {
  auto r = kioku({"init"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "data" / "memory.db"));
  EXPECT_TRUE(std::filesystem::exists(dir / "data" / "journal.db"));
  EXPECT_TRUE(std::filesystem::exists(dir / "data" / "config.toml"));
  EXPECT_NE(kioku({"init"}).out.find("Already"), std::string::npos);
  // --data-dir wins over KIOKU_HOME.
  r = kioku({"--data-dir", (dir / "other").string(), "init"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(dir / "other" / "memory.db"));
}

TEST_F(Cli, AddGetSearchEditDelete) {
  auto added = kioku_json({"add", "My sister Hana lives in Osaka", "--tags", "family,places", "--at", "2024-05-08"});
  ASSERT_TRUE(added["created"].get<bool>());
  const std::string id = added["id"];
  auto dup = kioku_json({"add", "My sister Hana lives in  Osaka"});
  EXPECT_FALSE(dup["created"].get<bool>());
  EXPECT_EQ(dup["id"], id);
  kioku_json({"add", "Bought running shoes", "--type", "note"});

  auto got = kioku_json({"get", id});
  EXPECT_EQ(got["content"], "My sister Hana lives in Osaka");
  EXPECT_EQ(got["tags"], nlohmann::json({"family", "places"}));
  EXPECT_EQ(got["event_time"], "2024-05-08T00:00:00.000Z");
  EXPECT_EQ(got["confidence"]["corroboration_count"], 1);

  auto results = kioku_json({"search", "where does Hana live?"});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["id"], id);
  EXPECT_TRUE(results[0].contains("score"));
  EXPECT_TRUE(results[0].contains("content"));
  EXPECT_EQ(kioku_json({"get", id})["access_count"], 1);  // reading a result counts

  EXPECT_EQ(kioku_json({"search", "Osaka", "--type", "fact"}).size(), 0u);
  EXPECT_EQ(kioku_json({"search", "Osaka", "--since", "2024-06-01"}).size(), 0u);
  EXPECT_EQ(kioku_json({"search", "\"foo AND ("}).size(), 0u);  // hostile syntax is just text

  auto edited = kioku_json({"edit", id, "--content", "Hana moved to Kyoto", "--importance", "0.9"});
  EXPECT_EQ(edited["content"], "Hana moved to Kyoto");
  EXPECT_EQ(kioku_json({"search", "Kyoto"}).size(), 1u);
  EXPECT_EQ(kioku_json({"list"}).size(), 2u);

  const std::string other = kioku_json({"add", "Hana used to live in Osaka"})["id"];
  auto related = kioku_json({"edit", id, "--relate", other + ":supersedes"});
  ASSERT_EQ(related["relations"].size(), 1u);
  EXPECT_EQ(related["relations"][0]["kind"], "supersedes");
  EXPECT_EQ(kioku({"edit", id, "--relate", "nope:supports"}).exit_code, 3);
  EXPECT_EQ(kioku({"edit", id, "--relate", other + ":likes"}).exit_code, 2);
  kioku({"delete", other});
  auto text = kioku({"search", "Kyoto"});
  EXPECT_NE(text.out.find(id), std::string::npos);
  EXPECT_EQ(kioku({"delete", id}).exit_code, 0);
  EXPECT_EQ(kioku({"get", id}).exit_code, 3);
  EXPECT_EQ(kioku({"delete", id}).exit_code, 3);
}

TEST_F(Cli, BadInputGivesOneLineAndNonZeroExit) {
  struct Case {
    std::vector<std::string> args;
    int code;
  };
  std::vector<Case> cases = {
      {{"add"}, 2},
      {{"frobnicate"}, 2},
      {{"add", "x", "--bogus"}, 2},
      {{"add", "x", "--at", "next tuesday"}, 2},
      {{"add", "x", "--importance", "7"}, 2},
      {{"add", "x", "--tier", "forever"}, 2},
      {{"add", "   "}, 2},
      {{"get", "no-such-id"}, 3},
      {{"search", "x", "--limit", "0"}, 2},
      {{"search", "x", "--mode", "psychic"}, 2},
      {{"import", "/nonexistent/file.md"}, 3},
      {{"journal", "add", "no session"}, 4},
      {{"journal"}, 2},
      {{"eval", "locomo", "/nonexistent.json"}, 3},
      {{"restore", "somewhere"}, 2},
  };
  for (const auto& c : cases) {
    auto r = kioku(c.args);
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    EXPECT_EQ(r.exit_code, c.code) << joined << " -> " << r.err;
    EXPECT_TRUE(one_line(r.err)) << joined << " -> [" << r.err << "]";
    EXPECT_EQ(r.err.rfind("kioku: ", 0), 0u) << joined;
  }
  auto help = kioku({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("journal"), std::string::npos);
}

TEST_F(Cli, JournalSession) {
  EXPECT_EQ(kioku({"journal", "start"}).exit_code, 0);
  EXPECT_EQ(kioku({"journal", "start"}).exit_code, 4);
  EXPECT_EQ(kioku({"journal", "add", "Walked along the canal at dawn"}).out, "\u2713\n");
  std::ofstream(dir / "photo.png", std::ios::binary) << testing::make_image(3000, 2000, ".png");
  std::ofstream(dir / "fake.png", std::ios::binary) << std::string("\x89PNG\r\n\x1A\n", 8) << std::string(32, '\0');
  EXPECT_EQ(kioku({"journal", "add", "--image", (dir / "fake.png").string()}).exit_code, 2);
  EXPECT_EQ(kioku({"journal", "add", "--image", (dir / "photo.png").string(), "a heron"}).exit_code, 0);
  EXPECT_EQ(kioku({"journal", "add", "--image", (dir / "missing.png").string()}).exit_code, 3);
  auto status = kioku_json({"journal", "status"});
  EXPECT_TRUE(status["open"].get<bool>());
  EXPECT_EQ(status["entries"].size(), 2u);
  EXPECT_NE(status["entries"][1]["media_path"].get<std::string>().find(".jpg"), std::string::npos);  // shrunk JPEG
  EXPECT_EQ(kioku({"status"}).out.find("Mode:      journal") != std::string::npos, true);
  auto j = kioku_json({"journal", "done"});
  EXPECT_TRUE(std::filesystem::exists(j["markdown_path"].get<std::string>()));
  EXPECT_TRUE(j["needs_recompile"].get<bool>());
  EXPECT_FALSE(kioku_json({"journal", "status"})["open"].get<bool>());
  EXPECT_EQ(kioku_json({"journal", "list"}).size(), 1u);
  EXPECT_EQ(kioku_json({"search", "canal"}).at(0)["type"], "journal");
  EXPECT_NE(kioku({"journal", "show", j["id"]}).out.find("canal"), std::string::npos);

  kioku({"journal", "start"});
  kioku({"journal", "add", "to be discarded"});
  EXPECT_EQ(kioku({"journal", "cancel"}).exit_code, 2);
  EXPECT_TRUE(kioku_json({"journal", "status"})["open"].get<bool>());
  EXPECT_EQ(kioku({"journal", "cancel", "--yes"}).exit_code, 0);
  EXPECT_FALSE(kioku_json({"journal", "status"})["open"].get<bool>());
}

TEST_F(Cli, ImportIsAllOrNothingPerCommand) {
  auto md = write("notes.md", "# Trip\n\nWe visited the Fushimi Inari shrine.\n\n# Food\n\nRamen in Kyoto station.\n");
  auto csv = write("people.csv", "name,content\nHana,\"Likes matcha, \"\"strongly\"\"\"\nKen,Plays go\n");
  auto bad = write("broken.json", "[{\"content\": \"ok\"}, {");
  auto r = kioku({"import", md.string(), bad.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(one_line(r.err)) << r.err;
  EXPECT_EQ(kioku_json({"list"}).size(), 0u);  // the good file was not stored either
  auto report = kioku_json({"import", md.string(), csv.string()});
  ASSERT_EQ(report.size(), 2u);
  EXPECT_GT(report[0]["added"].get<int>(), 0);
  EXPECT_EQ(report[0]["ids"].size(), report[0]["added"].get<size_t>());
  EXPECT_EQ(kioku_json({"search", "Inari"}).size(), 1u);
  EXPECT_EQ(kioku_json({"search", "matcha"}).size(), 1u);
  auto again = kioku_json({"import", md.string()});
  EXPECT_EQ(again[0]["added"], 0);  // re-import: duplicates, nothing new
  EXPECT_EQ(again[0]["duplicates"], report[0]["added"]);
  auto hit = kioku_json({"search", "Inari"})[0];
  auto full = kioku_json({"get", hit["id"]});
  EXPECT_EQ(full["provenance"]["file"].get<std::string>().find("notes.md") != std::string::npos, true);
}

// Issue 16, defect 1: `kioku import` of an 80 KB file nested 40k levels
// deep exited 139 (SIGSEGV).
TEST_F(Cli, Defect1_DeeplyNestedImportIsBadInputNotACrash) {
  std::string deep = "[{\"content\": " + std::string(40000, '[') + "\"x\"" + std::string(40000, ']') + "}]";
  auto r = kioku({"import", write("deep.json", deep).string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(one_line(r.err)) << r.err;
  EXPECT_NE(r.err.find("nested deeper than"), std::string::npos) << r.err;
}

// Issue 16, defect 8: impossible dates and offsets, nan importance, JSON
// shape errors reported as "internal error" (exit 70).
TEST_F(Cli, Defect8_ImpossibleValuesAndJsonShapesAreBadInput) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"add", "x", "--at", "2024-02-30"},
           {"add", "x", "--at", "2024-05-08T10:00+99:99"},
           {"add", "x", "--importance", "nan"},
           {"add", "x", "--importance", "-nan"},
           {"import", write("shape.json", "{\"messages\": [\"not a message\"]}").string()},
           {"import", write("mapping.json", "[{\"mapping\": {}}, {\"title\": 1}]").string()},
           {"import", write("huge-time.json", "[{\"content\": \"x\", \"timestamp\": 1e300}]").string()},
       }) {
    auto r = kioku(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args.back() << ": " << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
    EXPECT_TRUE(one_line(r.err)) << r.err;
  }
  EXPECT_TRUE(kioku_json({"list"}).empty());
}

// Issue 16, defect 8: init made config.toml and the databases 0644.
TEST_F(Cli, Defect8_InitKeepsTheDataDirectoryPrivate) {
  ASSERT_EQ(kioku({"init"}).exit_code, 0);
  auto mode = [](const std::filesystem::path& p) {
    return std::filesystem::status(p).permissions() & std::filesystem::perms::all;
  };
  using P = std::filesystem::perms;
  EXPECT_EQ(mode(dir / "data"), P::owner_all);
  for (const char* file : {"config.toml", "memory.db", "journal.db", "token"}) {
    EXPECT_EQ(mode(dir / "data" / file), P::owner_read | P::owner_write) << file;
  }
}

TEST_F(Cli, BackupAndRestore) {
  kioku_json({"add", "precious memory"});
  auto b = kioku_json({"backup", (dir / "bk").string()});
  EXPECT_TRUE(std::filesystem::exists(dir / "bk" / "memory.db"));
  kioku_json({"add", "added later"});
  EXPECT_EQ(kioku({"restore", (dir / "bk").string()}).exit_code, 2);  // needs --yes
  EXPECT_EQ(kioku({"restore", (dir / "bk").string(), "--yes"}).exit_code, 0);
  auto all = kioku_json({"list"});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["content"], "precious memory");
  auto def = kioku_json({"backup"});
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(def["backup"].get<std::string>()) / "journal.db"));
}

TEST_F(Cli, ShellRunsCommandsFromInput) {
  auto r = kioku({"shell"}, "add \"tea with Hana\" --tags tea\nsearch tea\nbogus\nquit\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Added"), std::string::npos);
  EXPECT_NE(r.out.find("tea with Hana"), std::string::npos);
  EXPECT_NE(r.err.find("kioku: "), std::string::npos);  // the bad command, without ending the shell
}

TEST_F(Cli, EvalLocomoPrintsRecall) {
  nlohmann::json data = nlohmann::json::array();
  data.push_back({{"sample_id", "x"},
                  {"conversation",
                   {{"session_1_date_time", "1:00 pm on 1 May, 2023"},
                    {"session_1", {{{"speaker", "A"}, {"dia_id", "D1:1"}, {"text", "my parrot is named Kiwi"}}}}}},
                  {"qa", {{{"question", "What is the parrot's name?"}, {"evidence", {"D1:1"}}, {"category", 4}}}}});
  auto f = write("mini-locomo.json", data.dump());
  auto r = kioku_json({"eval", "locomo", f.string(), "--k", "1,5"});
  EXPECT_EQ(r["questions"], 1);
  EXPECT_EQ(r["recall@1"], 1.0);
  EXPECT_EQ(r["recall@5"], 1.0);
  EXPECT_TRUE(r["by_category"].contains("4"));
  EXPECT_EQ(kioku({"eval", "locomo", f.string(), "--k", "five"}).exit_code, 2);
}

TEST_F(Cli, ModelsPullFromTheHubAndList) {
  const std::string weights(4096, 'w');
  testing::LoopbackServer hub([&](httplib::Server& s) {
    s.Get(R"(/sentence-transformers/all-MiniLM-L6-v2/resolve/main/(.+))",
          [&](const httplib::Request& req, httplib::Response& res) {
            const std::string file = req.matches[1];
            if (file == "model.safetensors") {
              res.set_header("X-Linked-ETag", "\"" + sha256_hex(weights) + "\"");
              res.set_content(weights, "application/octet-stream");
            } else {
              res.set_content("{}", "application/json");
            }
          });
  });
  auto list = kioku_json({"models", "list"});
  ASSERT_GE(list.size(), 3u);
  EXPECT_FALSE(list[0]["installed"].get<bool>());
  auto r = testing::run_binary(KIOKU_BINARY, {"models", "pull", "all-MiniLM-L6-v2"}, dir / "cwd",
                               {{"KIOKU_HOME", (dir / "data").string()}, {"HF_ENDPOINT", hub.url()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("100%"), std::string::npos);  // the progress bar
  EXPECT_TRUE(std::filesystem::exists(dir / "data" / "models" / "all-MiniLM-L6-v2" / "1_Pooling" / "config.json"));
  EXPECT_TRUE(kioku_json({"models", "list"})[0]["installed"].get<bool>());
  // Offline: a clear one-line error.
  auto offline = testing::run_binary(KIOKU_BINARY, {"models", "pull", "bge-small-en-v1.5"}, dir / "cwd",
                                     {{"KIOKU_HOME", (dir / "data").string()}, {"HF_ENDPOINT", "http://127.0.0.1:9"}});
  EXPECT_EQ(offline.exit_code, 5);
  EXPECT_NE(offline.err.find("online"), std::string::npos);
  EXPECT_EQ(kioku({"models", "pull", "gpt-17"}).exit_code, 2);
}

TEST_F(Cli, ChatAnswersWithTheRightMemoriesAndQueuesWhenTheProviderIsDown) {
  testing::FakeLlmServer llm([](const nlohmann::json& req) -> std::string {
    const std::string system = req["messages"][0]["content"];
    if (system.find("journal article") != std::string::npos)
      return R"({"title": "Lanterns by the River", "article": "We walked by the river.", "tags": ["river"]})";
    return "You told me: your bike is a blue Brompton.";
  });
  std::map<std::string, std::string> env = {{"KIOKU_HOME", (dir / "data").string()},
                                            {"KIOKU_LLM_PROVIDER", "openai"},
                                            {"KIOKU_LLM_URL", llm.url()},
                                            {"KIOKU_LLM_MODEL", "test-model"}};
  auto run = [&](std::vector<std::string> args, std::map<std::string, std::string> e) {
    return testing::run_binary(KIOKU_BINARY, args, dir / "cwd", e);
  };
  const std::string bike = kioku_json({"add", "My bike is a blue Brompton", "--tags", "bike"})["id"];
  kioku_json({"add", "Dentist appointment on Friday"});
  auto r = run({"chat", "--message", "What bike do I ride?", "--json"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto turn = nlohmann::json::parse(r.out);
  EXPECT_EQ(turn["reply"], "You told me: your bike is a blue Brompton.");
  EXPECT_FALSE(turn["queued"].get<bool>());
  bool used = false;
  for (const auto& m : turn["used_memories"]) used = used || m["id"] == bike;
  EXPECT_TRUE(used);
  EXPECT_NE(llm.last_prompt().find("My bike is a blue Brompton"), std::string::npos);
  auto text = run({"chat", "-m", "thanks"}, env);
  EXPECT_NE(text.out.find("blue Brompton"), std::string::npos);  // streamed to the terminal
  EXPECT_EQ(run({"rate", "5"}, env).exit_code, 0);

  // Provider down: the message is kept and queued, the user is told in one line.
  auto down_env = env;
  down_env["KIOKU_LLM_URL"] = "http://127.0.0.1:9/v1";
  down_env["KIOKU_LLM_MAX_RETRIES"] = "0";
  auto queued = run({"chat", "--message", "Remind me about the dentist"}, down_env);
  EXPECT_EQ(queued.exit_code, 0);
  EXPECT_TRUE(one_line(queued.err)) << queued.err;
  EXPECT_NE(queued.err.find("saved"), std::string::npos);
  EXPECT_EQ(kioku_json({"search", "Remind dentist"}).size() >= 1u, true);
  EXPECT_EQ(nlohmann::json::parse(run({"status", "--json"}, env).out)["queues"]["jobs_open"], 1);
  auto waiting = nlohmann::json::parse(run({"jobs", "list", "--json"}, env).out);
  ASSERT_EQ(waiting["jobs"].size(), 1u);
  EXPECT_EQ(waiting["jobs"][0]["kind"], "chat_reply");
  EXPECT_EQ(waiting["jobs"][0]["state"], "queued");
  // A journal done while the provider is down falls back to the plain compile.
  run({"journal", "start"}, down_env);
  run({"journal", "add", "Evening walk by the river, paper lanterns"}, down_env);
  auto plain = nlohmann::json::parse(run({"journal", "done", "--json"}, down_env).out);
  EXPECT_TRUE(plain["needs_recompile"].get<bool>());
  // Back up: the queued turn is answered and the journal re-compiled (two jobs).
  auto caught_up = run({"jobs", "run", "--json"}, env);
  ASSERT_EQ(caught_up.exit_code, 0) << caught_up.err;
  auto q = nlohmann::json::parse(caught_up.out);
  EXPECT_EQ(q["done"], 2) << caught_up.out;
  EXPECT_EQ(kioku_json({"journal", "show", plain["id"]})["title"], "Lanterns by the River");
  EXPECT_EQ(nlohmann::json::parse(run({"status", "--json"}, env).out)["queues"]["jobs_open"], 0);
  auto finished = nlohmann::json::parse(run({"jobs", "list", "--state", "done", "--json"}, env).out);
  EXPECT_EQ(finished["jobs"].size(), 2u);
  // Context export for other LLMs.
  auto xml = run({"context", "bike", "--format", "claude"}, env);
  EXPECT_NE(xml.out.find("<user_profile>"), std::string::npos);
  EXPECT_NE(xml.out.find("Brompton"), std::string::npos);
}

TEST_F(Cli, SuggestionsFlowThroughApproval) {
  testing::FakeLlmServer llm([](const nlohmann::json& req) -> std::string {
    const std::string system = req["messages"][0]["content"];
    if (system.find("worth remembering") != std::string::npos)
      return R"({"memories": [{"content": "The user's sister Hana lives in Osaka", "importance": 0.9, "tags": ["family"]},
                              {"content": "The user plays the ukulele", "importance": 0.7}]})";
    return "That's lovely!";
  });
  std::map<std::string, std::string> env = {{"KIOKU_HOME", (dir / "data").string()}, {"KIOKU_LLM_PROVIDER", "openai"},
                                            {"KIOKU_LLM_URL", llm.url()}, {"KIOKU_LLM_MODEL", "m"}};
  auto run = [&](std::vector<std::string> args) { return testing::run_binary(KIOKU_BINARY, args, dir / "cwd", env); };
  // Off by default: no suggestions.
  run({"chat", "-m", "My sister Hana lives in Osaka and I play ukulele"});
  EXPECT_EQ(kioku_json({"suggestions", "list"}).size(), 0u);
  env["KIOKU_SUGGESTIONS"] = "true";
  run({"chat", "-m", "My sister Hana lives in Osaka and I play ukulele!"});
  auto pending = kioku_json({"suggestions", "list"});
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(kioku_json({"search", "ukulele", "--type", "fact"}).size(), 0u);  // not searchable until approved
  std::string hana, ukulele;
  for (const auto& p : pending) (p["content"].get<std::string>().find("Hana") != std::string::npos ? hana : ukulele) = p["id"];
  kioku_json({"suggestions", "edit", hana, "--content", "My sister Hana lives in Osaka (Tennoji)"});
  kioku_json({"suggestions", "approve", hana});
  kioku_json({"suggestions", "reject", ukulele});
  EXPECT_EQ(kioku_json({"suggestions", "list"}).size(), 0u);
  auto found = kioku_json({"search", "Tennoji"});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]["id"], hana);
  EXPECT_EQ(kioku({"get", ukulele}).exit_code, 3);
  EXPECT_EQ(kioku({"suggestions", "approve", hana}).exit_code, 3);  // already approved
}

TEST_F(Cli, SemanticSearchEndToEndWithTheInProcessEncoder) {
  const auto vocab = testing::shared_dir() / "models/all-MiniLM-L6-v2-tokenizer/vocab.txt";
  if (!std::filesystem::exists(vocab)) GTEST_SKIP() << "tokenizer files not found";
  if (testing::run_binary("/usr/bin/python3", {"-c", "import torch"}, dir / "py").exit_code != 0)
    GTEST_SKIP() << "python3-torch is not installed";
  // A model laid out as on Hugging Face, with random weights (no download here).
  auto made = testing::run_binary("/usr/bin/python3",
                                  {std::string(KIOKU_SOURCE_DIR) + "/tests/embed/reference_bert.py", "make",
                                   (dir / "data" / "models" / "tiny-bert").string(), vocab.string()},
                                  dir / "py");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  std::map<std::string, std::string> env = {{"KIOKU_HOME", (dir / "data").string()}, {"KIOKU_EMBED_MODEL", "tiny-bert"}};
  auto run = [&](std::vector<std::string> args) { return testing::run_binary(KIOKU_BINARY, args, dir / "cwd", env); };
  const std::string target = kioku_json({"add", "Sunset picnic on the hill with lemonade"})["id"];
  for (int i = 0; i < 30; ++i) kioku_json({"add", "Unrelated note number " + std::to_string(i) + " about taxes"});
  auto indexed = run({"index", "--json"});
  ASSERT_EQ(indexed.exit_code, 0) << indexed.err;
  EXPECT_EQ(nlohmann::json::parse(indexed.out)["embedded"], 31);
  auto status = nlohmann::json::parse(run({"status", "--json"}).out);
  EXPECT_EQ(status["embedder"]["model"], "local:tiny-bert");
  EXPECT_EQ(status["embeddings"], 31);
  auto vector = run({"search", "Sunset picnic on the hill with lemonade", "--mode", "vector", "--json"});
  ASSERT_EQ(vector.exit_code, 0) << vector.err;
  auto hits = nlohmann::json::parse(vector.out);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0]["id"], target);
  EXPECT_EQ(hits[0]["vector_rank"], 1);
  auto hybrid = nlohmann::json::parse(run({"search", "picnic lemonade", "--json"}).out);
  ASSERT_FALSE(hybrid.empty());
  EXPECT_EQ(hybrid[0]["id"], target);
  // Search never embeds the backlog (issue 15): it says what is not embedded
  // yet, full text still finds it, and once indexed it is found by meaning.
  kioku_json({"add", "Fresh memory about a violin recital"});
  auto unindexed = run({"search", "Fresh memory about a violin recital", "--json"});
  ASSERT_EQ(unindexed.exit_code, 0) << unindexed.err;
  EXPECT_NE(unindexed.err.find("1 memory is not embedded yet"), std::string::npos) << unindexed.err;
  EXPECT_EQ(nlohmann::json::parse(unindexed.out)[0]["content"], "Fresh memory about a violin recital");
  EXPECT_EQ(nlohmann::json::parse(run({"index", "--json"}).out)["embedded"], 1);
  auto fresh = run({"search", "Fresh memory about a violin recital", "--mode", "vector", "--json"});
  EXPECT_EQ(fresh.err, "");
  EXPECT_EQ(nlohmann::json::parse(fresh.out)[0]["content"], "Fresh memory about a violin recital");
  // Without the model: a one-line notice and full-text results.
  env["KIOKU_EMBED_MODEL"] = "all-MiniLM-L6-v2";
  auto fallback = run({"search", "picnic", "--json"});
  EXPECT_EQ(fallback.exit_code, 0);
  EXPECT_TRUE(one_line(fallback.err)) << fallback.err;
  EXPECT_NE(fallback.err.find("kioku models pull"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(fallback.out)[0]["id"], target);
}

// Regression: two kioku processes on one data directory (kioku serve and
// kioku telegram did this) ran the same queued turn twice. Now every queued
// message is answered exactly once, whichever process claims it.
TEST_F(Cli, TwoProcessesAnswerEachQueuedMessageExactlyOnce) {
  std::atomic<int> asked{0};
  testing::FakeLlmServer llm([&](const nlohmann::json& req) -> std::string {
    ++asked;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // let the runners overlap
    return "answer to: " + req["messages"].back()["content"].get<std::string>();
  });
  std::map<std::string, std::string> env = {{"KIOKU_HOME", (dir / "data").string()},
                                            {"KIOKU_LLM_PROVIDER", "openai"},
                                            {"KIOKU_LLM_URL", llm.url()},
                                            {"KIOKU_LLM_MODEL", "test-model"},
                                            {"KIOKU_LLM_MAX_RETRIES", "0"}};
  // Each process its own work dir: run_binary keeps the streams there.
  auto run = [&](std::vector<std::string> args, const std::map<std::string, std::string>& e,
                 const std::string& cwd = "cwd") { return testing::run_binary(KIOKU_BINARY, args, dir / cwd, e); };
  auto down = env;
  down["KIOKU_LLM_URL"] = "http://127.0.0.1:9/v1";
  constexpr int kMessages = 12;
  for (int i = 0; i < kMessages; ++i) {
    auto r = run({"chat", "--message", "message " + std::to_string(i), "--json"}, down);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(nlohmann::json::parse(r.out)["queued"].get<bool>());
  }
  testing::RunResult a, b;
  std::thread first([&] { a = run({"jobs", "run", "--json"}, env, "first"); });
  std::thread second([&] { b = run({"jobs", "run", "--json"}, env, "second"); });
  first.join();
  second.join();
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const int done = nlohmann::json::parse(a.out)["done"].get<int>() + nlohmann::json::parse(b.out)["done"].get<int>();
  EXPECT_EQ(done, kMessages);
  EXPECT_EQ(asked.load(), kMessages) << "the provider was asked once per message";
  std::map<std::string, int> replies_to;
  for (const auto& m : kioku_json({"list", "--type", "chat", "--limit", "100"}))
    if (m["metadata"].value("role", "") == "assistant") replies_to[m["metadata"]["in_reply_to"]]++;
  EXPECT_EQ(static_cast<int>(replies_to.size()), kMessages);
  for (const auto& [id, n] : replies_to) EXPECT_EQ(n, 1) << id;
}

}  // namespace
}  // namespace kioku

namespace kioku {
namespace {

// The done criterion of issue 11: a model that calls core_memory_append
// changes the human block through `kioku chat`; the history shows both
// versions; rollback restores the first. Also the core commands' errors.
// kioku migrate (issue 14): SQLite -> PostgreSQL -> another SQLite folder keeps
// every row (users, tokens and the learned profile too), a second run copies
// nothing, and --user moves one user only.
TEST_F(Cli, MigrateToPostgresAndBackKeepsEverythingAndIsSafeToRerun) {
  testing::PgSchema schema("migrate");
  KIOKU_REQUIRE_PG(schema);
  const std::map<std::string, std::string> sqlite_env = {{"KIOKU_HOME", (dir / "data").string()},
                                                         {"KIOKU_STORE_URL", ""}, {"KIOKU_EMBED_PROVIDER", "hashing"}};
  auto run = [&](std::vector<std::string> args, const std::map<std::string, std::string>& env) {
    return testing::run_binary(KIOKU_BINARY, args, dir / "cwd", env);
  };
  ASSERT_EQ(run({"add", "Hana lives in Osaka", "--tags", "family"}, sqlite_env).exit_code, 0);
  ASSERT_EQ(run({"add", "東京の天気は晴れ"}, sqlite_env).exit_code, 0);
  ASSERT_EQ(run({"--user", "bob", "add", "Bob keeps bees"}, sqlite_env).exit_code, 0);
  ASSERT_EQ(run({"journal", "start"}, sqlite_env).exit_code, 0);
  ASSERT_EQ(run({"journal", "add", "A quiet morning"}, sqlite_env).exit_code, 0);
  ASSERT_EQ(run({"index"}, sqlite_env).exit_code, 0);  // vectors with the hashing model
  // Users, a token and what the profile learned (a chat without a model: the lexicon reads it).
  auto carol = run({"users", "add", "carol", "--json"}, sqlite_env);
  ASSERT_EQ(carol.exit_code, 0) << carol.err;
  const std::string carol_token = nlohmann::json::parse(carol.out)["token"];
  ASSERT_EQ(run({"chat", "-m", "I feel so sad and lonely today"}, sqlite_env).exit_code, 0);
  ASSERT_EQ(run({"profile", "strategy", "sadness", "humour", "0.9"}, sqlite_env).exit_code, 0);

  auto first = run({"migrate", "--to", schema.url(), "--json"}, sqlite_env);
  ASSERT_EQ(first.exit_code, 0) << first.err << first.out;
  auto report = nlohmann::json::parse(first.out);
  EXPECT_TRUE(report["verified"].get<bool>());
  EXPECT_EQ(report["tables"]["memories"]["rows"], 4);
  EXPECT_EQ(report["tables"]["memories"]["copied"], 4);
  EXPECT_EQ(report["tables"]["users"]["copied"], 2);  // local (the owner) and carol
  EXPECT_EQ(report["tables"]["user_tokens"]["copied"], 1);
  EXPECT_EQ(report["tables"]["profile_emotions"]["copied"], 1);
  EXPECT_EQ(report["tables"]["profile_strategies"]["copied"], 1);
  EXPECT_EQ(report["tables"]["profile_strategy_history"]["copied"], 1);
  EXPECT_EQ(report["tables"]["profile_conversations"]["copied"], 1);
  EXPECT_GE(report["tables"]["profile_importance_predictions"]["copied"].get<int>(), 1);
  EXPECT_EQ(report["tables"]["journal_entries"]["copied"], 1);
  EXPECT_GT(report["tables"]["memory_vectors"]["copied"].get<int>(), 0);
  auto again = nlohmann::json::parse(run({"migrate", "--to", schema.url(), "--json"}, sqlite_env).out);
  EXPECT_TRUE(again["verified"].get<bool>());
  for (const auto& [table, t] : again["tables"].items()) {
    // memory_lifecycle rows are upserted (a trigger may have made them first), so they count as copied.
    if (table != "memory_lifecycle") EXPECT_EQ(t["copied"], 0) << table << ": a rerun copies nothing";
    EXPECT_EQ(t["sha256"], report["tables"][table]["sha256"]) << table;
  }

  const std::map<std::string, std::string> pg_env = {{"KIOKU_HOME", (dir / "pgdata").string()},
                                                     {"KIOKU_STORE_URL", schema.url()},
                                                     {"KIOKU_EMBED_PROVIDER", "none"}};
  // And back into a fresh SQLite folder, with identical checksums.
  auto back = run({"migrate", "--to", (dir / "back").string(), "--json"}, pg_env);
  ASSERT_EQ(back.exit_code, 0) << back.err;
  auto back_report = nlohmann::json::parse(back.out);
  for (const auto& [table, t] : report["tables"].items())
    EXPECT_EQ(back_report["tables"][table]["sha256"], t["sha256"]) << table;
  // Served from PostgreSQL: the same memories, searchable (full text there).
  auto found = run({"search", "東京", "--json"}, pg_env);
  ASSERT_EQ(found.exit_code, 0) << found.err;
  EXPECT_EQ(nlohmann::json::parse(found.out).size(), 1u);
  // The users, the token and the profile came along.
  auto users = nlohmann::json::parse(run({"users", "list", "--json"}, pg_env).out);
  bool carol_listed = false;
  for (const auto& u : users["items"]) carol_listed |= u["user"] == "carol" && u["tokens"] == 1;
  EXPECT_TRUE(carol_listed) << users.dump();
  auto profile = nlohmann::json::parse(run({"profile", "--json"}, pg_env).out);
  EXPECT_EQ(profile["emotions"]["recent"].size(), 1u) << profile.dump();
  ASSERT_FALSE(profile["strategies"].empty());
  EXPECT_EQ(profile["strategies"][0]["strategy"], "humour");

  const std::map<std::string, std::string> back_env = {{"KIOKU_HOME", (dir / "back").string()},
                                                       {"KIOKU_STORE_URL", ""}, {"KIOKU_EMBED_PROVIDER", "none"}};
  EXPECT_EQ(nlohmann::json::parse(run({"--user", "bob", "list", "--json"}, back_env).out).size(), 1u);

  // One user only.
  auto bob = run({"migrate", "--to", (dir / "bob").string(), "--user", "bob", "--json"}, sqlite_env);
  ASSERT_EQ(bob.exit_code, 0) << bob.err;
  EXPECT_EQ(nlohmann::json::parse(bob.out)["tables"]["memories"]["rows"], 1);
  EXPECT_EQ(nlohmann::json::parse(bob.out)["tables"]["profile_emotions"]["rows"], 0) << "local's profile stayed behind";
  EXPECT_EQ(nlohmann::json::parse(bob.out)["tables"]["user_tokens"]["rows"], 0);
  const std::map<std::string, std::string> bob_env = {{"KIOKU_HOME", (dir / "bob").string()},
                                                      {"KIOKU_STORE_URL", ""}, {"KIOKU_EMBED_PROVIDER", "none"}};
  EXPECT_EQ(nlohmann::json::parse(run({"list", "--json"}, bob_env).out).size(), 0u) << "local's memories stayed behind";
  // A password in the destination URL never shows in an error.
  auto refused = run({"migrate", "--to", "postgresql://kioku:hunter2-secret@127.0.0.1:9/x?connect_timeout=2"}, sqlite_env);
  EXPECT_EQ(refused.exit_code, 5) << refused.err;
  EXPECT_EQ(refused.err.find("hunter2-secret"), std::string::npos) << refused.err;
}

TEST(CoreMemoryCli, ChatEditsTheHumanBlockHistoryShowsItRollbackRestoresIt) {
  testing::TempDir dir;
  testing::ScriptedModel model(testing::Wire::kOpenAi, [](const testing::ScriptView& v) {
    if (v.tool_results.empty())
      return testing::ScriptedStep{"", {{"core_memory_append", R"({"label":"human","content":"Name: Aiko. Rides a blue bike."})"}}};
    return testing::ScriptedStep{"Got it, Aiko.", {}};
  });
  const std::map<std::string, std::string> env = {{"KIOKU_HOME", (dir / "data").string()},
                                                  {"KIOKU_EMBED_PROVIDER", "none"},
                                                  {"KIOKU_LLM_PROVIDER", "openai"},
                                                  {"KIOKU_LLM_URL", model.url()},
                                                  {"KIOKU_LLM_MODEL", "test-model"}};
  auto run = [&](std::vector<std::string> args, const std::string& in = "") {
    return testing::run_binary(KIOKU_BINARY, args, dir / "cwd", env, in);
  };
  ASSERT_EQ(run({"init"}).exit_code, 0);
  auto before = nlohmann::json::parse(run({"core", "show", "human", "--json"}).out);
  EXPECT_EQ(before["version"], 1);
  EXPECT_EQ(before["value"], "");
  auto chat = run({"chat", "--message", "I'm Aiko, I ride a blue bike", "--json"});
  ASSERT_EQ(chat.exit_code, 0) << chat.err;
  auto turn = nlohmann::json::parse(chat.out);
  EXPECT_EQ(turn["reply"], "Got it, Aiko.");
  ASSERT_EQ(turn["tool_calls"].size(), 1u);
  EXPECT_EQ(turn["tool_calls"][0]["core_memory"]["version"], 2);
  EXPECT_GT(turn["prompt"]["estimated_tokens"].get<int>(), 0);
  EXPECT_EQ(turn["prompt"]["steps"], 2);
  auto history = nlohmann::json::parse(run({"core", "history", "human", "--json"}).out);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0]["value"], "");
  EXPECT_EQ(history[1]["value"], "Name: Aiko. Rides a blue bike.");
  EXPECT_EQ(history[1]["author"], "agent");
  EXPECT_EQ(history[1]["tool_name"], "core_memory_append");
  EXPECT_EQ(history[1]["turn_id"], turn["user_memory_id"]);
  auto diff = run({"core", "diff", "human", "1", "2"});
  EXPECT_NE(diff.out.find("+ Name: Aiko. Rides a blue bike."), std::string::npos) << diff.out;
  auto rolled = run({"core", "rollback", "human", "1", "--json"});
  ASSERT_EQ(rolled.exit_code, 0) << rolled.err;
  EXPECT_EQ(nlohmann::json::parse(rolled.out)["version"], 3);
  EXPECT_EQ(nlohmann::json::parse(run({"core", "show", "human", "--json"}).out)["value"], "");
  // Text mode says what the turn changed.
  auto text = run({"chat", "-m", "again"});
  EXPECT_NE(text.err.find("memory edited: human is now version 4"), std::string::npos) << text.err;

  // The user's own edits, blocks and errors.
  EXPECT_EQ(run({"core", "edit", "human", "--value", "Aiko, cyclist"}).exit_code, 0);
  EXPECT_EQ(run({"core", "edit", "projects", "--create", "--value", "Kioku", "--limit", "100"}).exit_code, 0);
  auto list = nlohmann::json::parse(run({"core", "list", "--json"}).out);
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[3]["label"], "projects");
  auto over = run({"core", "edit", "projects", "--value", std::string(150, 'x')});
  EXPECT_EQ(over.exit_code, 0);
  EXPECT_NE(over.err.find("over its limit"), std::string::npos);
  EXPECT_EQ(run({"core", "show", "nope"}).exit_code, 3);
  EXPECT_EQ(run({"core", "rollback", "human", "99"}).exit_code, 3);
  EXPECT_EQ(run({"core", "edit", "human"}).exit_code, 2);
  EXPECT_EQ(run({"core", "edit", "human", "--value", "a", "--expect-version", "1"}).exit_code, 4);
  EXPECT_EQ(run({"core", "remove", "human", "--yes"}).exit_code, 4);
  EXPECT_EQ(run({"core", "remove", "projects", "--yes"}).exit_code, 0);
  EXPECT_EQ(run({"core", "edit", "human", "--value", ""}).exit_code, 0);  // emptying is an edit too
  EXPECT_EQ(nlohmann::json::parse(run({"core", "show", "human", "--json"}).out)["value"], "");
}

// `kioku mcp` on stdio: an MCP client adds a memory and finds it.
TEST(McpCli, AddsAndSearchesMemoriesOverStdio) {
  testing::TempDir dir;
  const std::map<std::string, std::string> env = {{"KIOKU_HOME", (dir / "data").string()}, {"KIOKU_EMBED_PROVIDER", "none"}};
  const std::string in =
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})"
      "\n"
      R"({"jsonrpc":"2.0","method":"notifications/initialized"})"
      "\n"
      R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add_memory","arguments":{"content":"Hana teaches piano in Osaka"}}})"
      "\n"
      R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"search_memory","arguments":{"query":"piano"}}})"
      "\n";
  auto r = testing::run_binary(KIOKU_BINARY, {"mcp"}, dir / "cwd", env, in);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  std::vector<nlohmann::json> replies;
  while (std::getline(lines, line)) replies.push_back(nlohmann::json::parse(line));  // stdout is only protocol
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0]["result"]["protocolVersion"], "2025-11-25");
  EXPECT_FALSE(replies[1]["result"]["isError"].get<bool>());
  EXPECT_NE(replies[2]["result"]["content"][0]["text"].get<std::string>().find("Hana teaches piano"), std::string::npos);
  auto found = testing::run_binary(KIOKU_BINARY, {"search", "piano", "--json"}, dir / "cwd", env);
  EXPECT_NE(found.out.find("Hana teaches piano"), std::string::npos);
}

// `kioku models add DIR`: the offline path for a model folder the user has.
TEST_F(Cli, ModelsAddInstallsChecksAndActivates) {
  const auto vocab = testing::shared_dir() / "models/all-MiniLM-L6-v2-tokenizer/vocab.txt";
  if (!std::filesystem::exists(vocab)) GTEST_SKIP() << "tokenizer files not found";
  if (testing::run_binary("/usr/bin/python3", {"-c", "import torch"}, dir / "py").exit_code != 0)
    GTEST_SKIP() << "python3-torch is not installed";
  const auto source = dir / "downloads" / "tiny-bert";
  auto made = testing::run_binary("/usr/bin/python3",
                                  {std::string(KIOKU_SOURCE_DIR) + "/tests/embed/reference_bert.py", "make",
                                   source.string(), vocab.string()},
                                  dir / "py");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ASSERT_EQ(kioku({"init"}).exit_code, 0);

  // Clear errors, and nothing installed, for what is not a model folder.
  auto missing = kioku({"models", "add", (dir / "nowhere").string()});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_TRUE(one_line(missing.err)) << missing.err;
  std::filesystem::create_directories(dir / "downloads" / "half");
  std::filesystem::copy_file(source / "config.json", dir / "downloads" / "half" / "config.json");
  std::filesystem::copy_file(source / "vocab.txt", dir / "downloads" / "half" / "vocab.txt");
  auto half = kioku({"models", "add", (dir / "downloads" / "half").string()});
  EXPECT_EQ(half.exit_code, 2);
  EXPECT_NE(half.err.find("model.safetensors"), std::string::npos) << half.err;
  std::ofstream(dir / "downloads" / "half" / "model.safetensors", std::ios::binary) << "definitely not tensors";
  auto corrupt = kioku({"models", "add", (dir / "downloads" / "half").string()});
  EXPECT_EQ(corrupt.exit_code, 2) << corrupt.err;
  EXPECT_TRUE(one_line(corrupt.err)) << corrupt.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "data" / "models" / "half"));
  EXPECT_EQ(kioku({"models", "add", source.string(), "--name", "../escape"}).exit_code, 2);

  // Installed, listed, not yet active.
  auto added = kioku_json({"models", "add", source.string()});
  EXPECT_EQ(added["name"], "tiny-bert");
  EXPECT_EQ(added["active"], false);
  EXPECT_TRUE(std::filesystem::exists(dir / "data" / "models" / "tiny-bert" / "model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir / "data" / "models" / "tiny-bert" / "1_Pooling" / "config.json"));
  bool listed = false;
  for (const auto& m : kioku_json({"models", "list"}))
    if (m["name"] == "tiny-bert") listed = m["installed"].get<bool>() && !m["active"].get<bool>();
  EXPECT_TRUE(listed);

  // The same folder again with --activate: no conflict, now the active model.
  auto active = kioku_json({"models", "add", source.string(), "--activate"});
  EXPECT_EQ(active["active"], true);
  const std::string config = testing::slurp(dir / "data" / "config.toml");
  EXPECT_NE(config.find("tiny-bert"), std::string::npos) << config;
  kioku_json({"add", "Sunset picnic on the hill with lemonade"});
  EXPECT_EQ(kioku_json({"index"})["model"], "local:tiny-bert");
  EXPECT_EQ(kioku_json({"status"})["embedder"]["model"], "local:tiny-bert");
  listed = false;
  for (const auto& m : kioku_json({"models", "list"}))
    if (m["name"] == "tiny-bert") listed = m["active"].get<bool>();
  EXPECT_TRUE(listed);

  // Another model under a taken name is a conflict; --name installs it beside.
  std::filesystem::copy(source, dir / "downloads" / "other", std::filesystem::copy_options::recursive);
  std::ofstream(dir / "downloads" / "other" / "README.md") << "a different folder";
  auto taken = kioku({"models", "add", (dir / "downloads" / "other").string(), "--name", "tiny-bert"});
  EXPECT_EQ(taken.exit_code, 4) << taken.err;
  EXPECT_EQ(kioku_json({"models", "add", (dir / "downloads" / "other").string()})["name"], "other");
}

// The real all-MiniLM-L6-v2 (scripts/fetch-test-models) installed with
// `models add --activate` finds memories by meaning, with no shared word.
TEST_F(Cli, RealMiniLmAddedOfflineFindsByMeaning) {
  KIOKU_REQUIRE_REAL_MINILM();
  ASSERT_EQ(kioku({"init"}).exit_code, 0);
  auto added = kioku_json({"models", "add", testing::real_minilm_dir().string(), "--activate"});
  EXPECT_EQ(added["name"], "all-MiniLM-L6-v2");
  EXPECT_EQ(added["dimension"], 384);
  const std::string puppy = kioku_json({"add", "We brought home a golden retriever from the shelter"})["id"];
  kioku_json({"add", "The quarterly tax forms are due in April"});
  kioku_json({"add", "I practised scales on the piano for an hour"});
  kioku_json({"add", "Our flight to Lisbon leaves at dawn"});
  EXPECT_EQ(kioku_json({"index"})["embedded"], 4);
  auto hits = kioku_json({"search", "adopting a dog", "--mode", "vector"});
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0]["id"], puppy);
  auto hybrid = kioku_json({"search", "new pet"});
  ASSERT_FALSE(hybrid.empty());
  EXPECT_EQ(hybrid[0]["id"], puppy);
}

}  // namespace
}  // namespace kioku

namespace kioku {
namespace {

// kioku users add | list | remove and kioku token --user (issue 14).
TEST_F(Cli, UsersTheirTokensAndRemovingTheirData) {
  ASSERT_EQ(kioku({"init"}).exit_code, 0);
  const std::string owner_token = kioku({"token"}).out;

  auto added = kioku_json({"users", "add", "alice"});
  EXPECT_EQ(added["user"], "alice");
  const std::string alice_token = added["token"];
  ASSERT_EQ(alice_token.size(), 64u);
  EXPECT_EQ(kioku({"users", "add", "alice"}).exit_code, 4);
  EXPECT_EQ(kioku({"users", "add", "no/slashes"}).exit_code, 2);
  auto text = kioku({"users", "add", "bob", "--admin"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("shown only now"), std::string::npos) << text.out;

  const std::string again = kioku({"token", "--user", "alice"}).out;
  EXPECT_EQ(again.size(), 65u) << again;  // a new token and its newline
  EXPECT_NE(again.substr(0, 64), alice_token);
  EXPECT_EQ(kioku({"token"}).out, owner_token) << "plain `kioku token` still prints the data directory's token";
  EXPECT_EQ(kioku({"token", "--user", "nobody"}).exit_code, 3);

  const auto list = kioku_json({"users", "list"});
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& u : list["items"]) by_name[u["user"]] = u;
  ASSERT_EQ(by_name.size(), 3u) << list.dump();
  EXPECT_TRUE(by_name["local"]["admin"].get<bool>());
  EXPECT_FALSE(by_name["alice"]["admin"].get<bool>());
  EXPECT_TRUE(by_name["bob"]["admin"].get<bool>());
  EXPECT_EQ(by_name["alice"]["tokens"], 2);
  EXPECT_EQ(list.dump().find(alice_token), std::string::npos) << "tokens are never listed";

  // Alice's data is hers; removing her needs --delete-data, which takes it all.
  ASSERT_EQ(kioku({"--user", "alice", "add", "Alice's secret garden"}).exit_code, 0);
  ASSERT_EQ(kioku({"--user", "alice", "journal", "start"}).exit_code, 0);
  ASSERT_EQ(kioku({"--user", "alice", "journal", "add", "a draft"}).exit_code, 0);
  ASSERT_EQ(kioku({"add", "The owner's own note"}).exit_code, 0);
  EXPECT_EQ(kioku({"search", "garden"}).out.find("secret garden"), std::string::npos);
  auto refused = kioku({"users", "remove", "alice"});
  EXPECT_EQ(refused.exit_code, 4);
  EXPECT_NE(refused.err.find("--delete-data"), std::string::npos) << refused.err;
  EXPECT_EQ(kioku_json({"--user", "alice", "list"}).size(), 1u);
  auto removed = kioku_json({"users", "remove", "alice", "--delete-data"});
  EXPECT_GE(removed["data_rows"].get<int>(), 1);
  EXPECT_EQ(removed["draft_entries"], 1);
  EXPECT_EQ(removed["tokens"], 2);
  EXPECT_TRUE(kioku_json({"--user", "alice", "list"}).empty());
  EXPECT_EQ(kioku_json({"list"}).size(), 1u) << "the owner's data stays";
  EXPECT_EQ(kioku({"users", "remove", "local", "--delete-data"}).exit_code, 4);
  EXPECT_EQ(kioku({"users", "remove", "alice"}).exit_code, 3);
}

}  // namespace
}  // namespace kioku
