#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "core/error.h"
#include "core/time.h"
#include "ingest/fixtures.h"
#include "ingest/importer.h"
#include "testing/temp_dir.h"

namespace kioku {
namespace {

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no error";
  return ErrorCode::kInternal;
}

ImportResult import(const std::string& bytes, const std::string& name, ImportOptions o = {}) {
  return import_bytes(bytes, name, o);
}

TEST(Chunking, ParagraphsMergeUpToTheLimitAndKeepLineNumbers) {
  auto chunks = chunk_text("one\n\ntwo\n\n\nthree", 1200, false);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, "one\n\ntwo\n\nthree");
  EXPECT_EQ(chunks[0].first_line, 1);
  std::string big(100, 'a');
  auto many = chunk_text(big + "\n\n" + big + "\n\n" + big, 210, false);
  ASSERT_EQ(many.size(), 2u);
  EXPECT_EQ(many[1].first_line, 5);
}

TEST(Chunking, MarkdownHeadingsStartChunksWithTheirPath) {
  auto chunks = chunk_text("# Trip\n\nDay one.\n\n## Food\n\nRamen.\n\n# Home\n\nBack.", 1200, true);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].text, "# Trip\n\nDay one.");
  EXPECT_EQ(chunks[1].section, "Trip > Food");
  EXPECT_EQ(chunks[1].first_line, 5);
  EXPECT_EQ(chunks[2].section, "Home");
}

TEST(Chunking, CodeFencesStayWholeAndLongTextSplitsAtSentences) {
  auto fenced = chunk_text("```\nline one\n\nline two\n```\n", 1200, true);
  ASSERT_EQ(fenced.size(), 1u);
  EXPECT_NE(fenced[0].text.find("line two"), std::string::npos);
  std::string para;
  for (int i = 0; i < 40; ++i) para += "Sentence number " + std::to_string(i) + " is here. ";
  auto pieces = chunk_text(para, 200, false);
  ASSERT_GT(pieces.size(), 4u);
  for (const auto& p : pieces) {
    EXPECT_LE(p.text.size(), 200u);
    EXPECT_EQ(p.text.back(), '.');
  }
  std::string cjk;
  for (int i = 0; i < 200; ++i) cjk += "記憶";  // no spaces, no sentence ends
  for (const auto& p : chunk_text(cjk, 100, false)) EXPECT_EQ(p.text.size() % 3, 0u);  // whole characters
}

TEST(TextImport, ProvenanceAndTags) {
  ImportOptions o;
  o.tags = {"trip"};
  o.display_name = "notes.md";
  auto r = import("# Kyoto\n\nFushimi Inari at dawn.\n", "notes.md", o);
  ASSERT_EQ(r.memories.size(), 1u);
  const auto& m = r.memories[0];
  EXPECT_EQ(m.type, "document");
  EXPECT_EQ(m.source, Source::kImported);
  EXPECT_EQ(m.provenance.file, "notes.md");
  EXPECT_EQ(m.provenance.line, 1);
  EXPECT_EQ(m.metadata["section"], "Kyoto");
  EXPECT_EQ(m.tags, std::vector<std::string>{"trip"});
  EXPECT_TRUE(import("", "empty.txt").memories.empty());
  EXPECT_FALSE(import("", "empty.txt").warnings.empty());
  EXPECT_EQ(code_of([] { import("bad \xC3\x28 bytes", "x.txt"); }), ErrorCode::kInvalidInput);
}

TEST(JsonImport, ArraysOfObjectsAndStrings) {
  auto r = import(R"([{"content": "I prefer tea", "tags": ["drinks"], "importance": 0.8, "timestamp": "2024-01-02"},
                       {"text": "Second"}, "a plain string"])", "m.json");
  ASSERT_EQ(r.memories.size(), 3u);
  EXPECT_EQ(r.memories[0].tags, std::vector<std::string>{"drinks"});
  EXPECT_DOUBLE_EQ(r.memories[0].importance, 0.8);
  EXPECT_EQ(format_iso8601(r.memories[0].event_time), "2024-01-02T00:00:00.000Z");
  EXPECT_EQ(r.memories[1].content, "Second");
  EXPECT_EQ(r.memories[2].provenance.row, 3);
}

TEST(JsonImport, ChatExports) {
  auto simple = import(R"({"title": "t", "messages": [{"role": "user", "content": "hi there", "timestamp": 1700000000},
                                                      {"role": "assistant", "content": [{"type": "text", "text": "hello!"}]},
                                                      {"role": "system", "content": "hidden"}]})", "chat.json");
  EXPECT_EQ(simple.format, "chat");
  ASSERT_EQ(simple.memories.size(), 2u);
  EXPECT_EQ(simple.memories[0].type, "chat");
  EXPECT_EQ(simple.memories[0].content, "user: hi there");
  EXPECT_EQ(to_millis(simple.memories[0].event_time), 1700000000000LL);
  EXPECT_EQ(simple.memories[1].content, "assistant: hello!");
  auto chatgpt = import(R"([{"title": "Plans", "id": "c1", "mapping": {
      "b": {"message": {"id": "m2", "author": {"role": "assistant"}, "create_time": 2, "content": {"parts": ["Sure, Tuesday."]}}},
      "a": {"message": {"id": "m1", "author": {"role": "user"}, "create_time": 1, "content": {"parts": ["Lunch?"]}}},
      "root": {"message": null}}}])", "conversations.json");
  ASSERT_EQ(chatgpt.memories.size(), 2u);
  EXPECT_EQ(chatgpt.memories[0].content, "user: Lunch?");
  EXPECT_EQ(chatgpt.memories[0].provenance.message_id, "m1");
  EXPECT_EQ(chatgpt.memories[1].metadata["title"], "Plans");
}

TEST(JsonImport, MalformedInputIsRejectedWhole) {
  EXPECT_EQ(code_of([] { import("[{\"content\": \"ok\"}, {", "x.json"); }), ErrorCode::kInvalidInput);
  EXPECT_EQ(code_of([] { import("[{\"content\": \"ok\"}, {\"nothing\": 1}]", "x.json"); }), ErrorCode::kInvalidInput);
  EXPECT_EQ(code_of([] { import("[{\"content\": \"ok\", \"tier\": \"forever\"}]", "x.json"); }), ErrorCode::kInvalidInput);
  EXPECT_EQ(code_of([] { import("42", "x.json"); }), ErrorCode::kInvalidInput);
}

TEST(CsvImport, Rfc4180) {
  auto rows = parse_csv("\xEF\xBB\xBF" "a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",\r\n", "t.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][0], "a");
  EXPECT_EQ(rows[1][0], "x, y");
  EXPECT_EQ(rows[1][1], "say \"hi\"");
  EXPECT_EQ(rows[2][0], "multi\nline");
  EXPECT_EQ(rows[2][1], "");
  auto r = import("name,content,date,tags\nHana,Likes matcha,2024-03-01,\"tea,family\"\n", "p.csv");
  ASSERT_EQ(r.memories.size(), 1u);
  EXPECT_EQ(r.memories[0].content, "Likes matcha\nname: Hana");
  EXPECT_EQ(r.memories[0].provenance.row, 2);
  EXPECT_EQ(r.memories[0].tags, (std::vector<std::string>{"tea", "family"}));
  EXPECT_EQ(format_iso8601(r.memories[0].event_time).substr(0, 10), "2024-03-01");
  auto no_content = import("city,country\nOsaka,Japan\n", "c.csv");
  EXPECT_EQ(no_content.memories[0].content, "city: Osaka; country: Japan");
}

TEST(CsvImport, BrokenFilesNameTheRow) {
  try {
    import("a,b\n1,2\n\"open,3\n", "t.csv");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
  }
  try {
    import("a,b\n1,2\n1,2,3\n", "t.csv");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 3"), std::string::npos) << e.what();
  }
}

TEST(PdfImport, TextPerPage) {
  auto pdf = testing::make_pdf({"The lighthouse keeper wrote daily.", "Page two mentions herons."});
  auto r = import(pdf, "log.pdf");
  EXPECT_EQ(r.format, "pdf");
  ASSERT_EQ(r.memories.size(), 2u);
  EXPECT_NE(r.memories[0].content.find("lighthouse keeper"), std::string::npos);
  EXPECT_EQ(r.memories[0].provenance.page, 1);
  EXPECT_EQ(r.memories[1].provenance.page, 2);
  EXPECT_EQ(code_of([&] { import(pdf.substr(0, pdf.size() / 3), "cut.pdf"); }), ErrorCode::kInvalidInput);
  EXPECT_EQ(code_of([] { import("not a pdf at all", "fake.pdf"); }), ErrorCode::kInvalidInput);
}

TEST(XlsxImport, SheetsSharedStringsNumbersDatesBooleans) {
  std::vector<testing::Sheet> sheets = {
      {"People",
       "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c><c r=\"C1\" t=\"s\"><v>2</v></c></row>"
       "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>3</v></c><c r=\"B2\" s=\"1\"><v>45292</v></c><c r=\"C2\"><v>3.5</v></c></row>"
       "<row r=\"4\"><c r=\"A4\" t=\"inlineStr\"><is><t>Ken</t></is></c><c r=\"C4\" t=\"b\"><v>1</v></c></row>"},
      {"Log", "<row r=\"1\"><c r=\"B1\" s=\"2\"><v>45292.5</v></c><c r=\"C1\" t=\"str\"><f>A1</f><v>formula result</v></c></row>"},
  };
  auto xlsx = testing::make_xlsx(sheets, {"Name", "Birthday", "Score", "Hana"});
  auto r = import(xlsx, "book.xlsx");
  EXPECT_EQ(r.format, "xlsx");
  ASSERT_EQ(r.memories.size(), 3u);
  EXPECT_EQ(r.memories[0].content, "Name: Hana; Birthday: 2024-01-01; Score: 3.5");
  EXPECT_EQ(r.memories[0].provenance.sheet, "People");
  EXPECT_EQ(r.memories[0].provenance.row, 2);
  EXPECT_EQ(r.memories[1].content, "Name: Ken; Score: TRUE");
  EXPECT_EQ(r.memories[1].provenance.row, 4);
  EXPECT_EQ(r.memories[2].content, "2024-01-01T12:00:00; formula result");
  EXPECT_EQ(r.memories[2].provenance.sheet, "Log");
}

TEST(XlsxImport, CorruptWorkbooks) {
  EXPECT_EQ(code_of([] { import("PK\x03\x04 garbage", "x.xlsx"); }), ErrorCode::kInvalidInput);
  EXPECT_EQ(code_of([] { import(testing::make_zip({{"hello.txt", "hi"}}), "x.xlsx"); }), ErrorCode::kInvalidInput);
  auto dangling = testing::make_xlsx({{"S", "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>9</v></c></row>"}}, {"only"});
  EXPECT_EQ(code_of([&] { import(dangling, "x.xlsx"); }), ErrorCode::kInvalidInput);
}

// Issue 16, defect 1: an 80 KB file nested 40k levels deep crashed `kioku
// import` (SIGSEGV in the recursive text_of and JSON copies).
std::string nested(const std::string& open, const std::string& leaf, const std::string& close, int depth) {
  std::string out;
  for (int i = 0; i < depth; ++i) out += open;
  out += leaf;
  for (int i = 0; i < depth; ++i) out += close;
  return out;
}

TEST(HostileInput, Defect1_DeeplyNestedJsonIsRefusedNotACrash) {
  const std::vector<std::string> files = {
      "[{\"content\": " + nested("[", "\"x\"", "]", 40000) + "}]",
      "[{\"role\": \"user\", \"content\": " + nested("[", "\"x\"", "]", 40000) + "}]",
      "[{\"role\": \"user\", \"content\": " + nested("{\"parts\": ", "\"x\"", "}", 40000) + "}]",
      "[{\"content\": \"x\", \"metadata\": " + nested("{\"a\": ", "1", "}", 80000) + "}]",
      "{\"messages\": [{\"role\": \"user\", \"content\": " + nested("[", "\"x\"", "]", 40000) + "}]}",
  };
  for (const auto& file : files) {
    try {
      import(file, "deep.json");
      ADD_FAILURE() << "accepted a document nested 40k levels deep";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidInput);
      EXPECT_NE(std::string(e.what()).find("nested deeper than"), std::string::npos) << e.what();
    }
  }
  // Real exports nest a few levels: parts inside parts still give their text.
  auto r = import("[{\"role\": \"user\", \"content\": " + nested("[", "{\"text\": \"deep\"}", "]", 50) +
                      "}, {\"role\": \"assistant\", \"content\": {\"parts\": [\"a\", [\"b\", {\"text\": \"c\"}]]}}]",
                  "chat.json");
  ASSERT_EQ(r.memories.size(), 2u);
  EXPECT_EQ(r.memories[0].content, "user: deep");
  EXPECT_EQ(r.memories[1].content, "assistant: a\nb\nc");
}

// Issue 16, defect 8: JSON shape errors were "internal error"; a timestamp of
// 1e300 became year -292275055.
TEST(HostileInput, Defect8_JsonShapesAndHugeTimestampsAreBadInput) {
  EXPECT_EQ(code_of([] { import("[{\"content\": \"x\", \"timestamp\": 1e300}]", "t.json"); }),
            ErrorCode::kInvalidInput);
  EXPECT_EQ(code_of([] { import("[{\"role\": \"user\", \"text\": \"x\", \"timestamp\": -1e300}]", "t.json"); }),
            ErrorCode::kInvalidInput);
  EXPECT_EQ(code_of([] { import("[{\"mapping\": {}}, 7]", "c.json"); }), ErrorCode::kInvalidInput);
  EXPECT_EQ(code_of([] { import("{\"messages\": [1, 2]}", "c.json"); }), ErrorCode::kInvalidInput);
  // A title of the wrong type (it threw a JSON type error) names nothing: the file name does.
  auto titled = import("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"title\": 5}", "c.json");
  ASSERT_EQ(titled.memories.size(), 1u);
  EXPECT_EQ(titled.memories[0].metadata["conversation"], "c.json");
  auto ok = import("[{\"content\": \"x\", \"timestamp\": 1715176560}]", "t.json");
  EXPECT_EQ(format_iso8601(ok.memories[0].event_time).substr(0, 10), "2024-05-08");
}

// Issue 16, defect 3: 9.6 KB (one 8 MB shared string in 150 cells) took
// 3.75 GB and 17 s; 409 KB stored one 400 MB memory.
TEST(HostileInput, Defect3_XlsxExpansionIsCapped) {
  const std::string big(8u << 20, 'x');
  std::string row = "<row r=\"1\">";
  for (int c = 0; c < 150; ++c) row += "<c t=\"s\"><v>0</v></c>";
  row += "</row>";
  const auto bomb = testing::make_xlsx({{"S", row}}, {big});
  EXPECT_LT(bomb.size(), 64u << 10);
  try {
    import(bomb, "bomb.xlsx");
    ADD_FAILURE() << "a shared-string bomb was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTooLarge);
    EXPECT_NE(std::string(e.what()).find("MiB unpacked"), std::string::npos) << e.what();
  }
  // One row of five 1 MiB cells: within the archive's budget, over one memory's.
  std::string wide = "<row r=\"1\">";
  for (int c = 0; c < 5; ++c) wide += "<c t=\"s\"><v>0</v></c>";
  wide += "</row>";
  EXPECT_EQ(code_of([&] { import(testing::make_xlsx({{"S", wide}}, {std::string(1u << 20, 'y')}), "wide.xlsx"); }),
            ErrorCode::kTooLarge);
  // The unpacked parts themselves count.
  ImportOptions small;
  small.max_unpacked_bytes = 1u << 20;
  EXPECT_EQ(code_of([&] { import(testing::make_xlsx({{"S", "<row r=\"1\"><c t=\"s\"><v>0</v></c></row>"}},
                                                    {std::string(2u << 20, 'z')}),
                                 "part.xlsx", small); }),
            ErrorCode::kTooLarge);
  // A far column costs the empty cells before it.
  std::string sparse;
  for (int r = 1; r <= 2000; ++r) sparse += "<row r=\"" + std::to_string(r) + "\"><c r=\"XFD" + std::to_string(r) + "\"><v>1</v></c></row>";
  EXPECT_EQ(code_of([&] { import(testing::make_xlsx({{"S", sparse}}, {}), "sparse.xlsx", small); }), ErrorCode::kTooLarge);
}

// Issue 16, defect 4: a 16 MiB line without spaces took 55.6 s to import
// (split_long searched back to the start of the text for every piece).
TEST(HostileInput, Defect4_LongLinesChunkInLinearTime) {
  const std::string line = "start " + std::string(16u << 20, 'x');
  const auto began = std::chrono::steady_clock::now();
  auto chunks = chunk_text(line, 1200, false);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  size_t total = 0;
  for (const auto& c : chunks) {
    EXPECT_LE(c.text.size(), 1200u);
    total += c.text.size();
  }
  EXPECT_EQ(total, line.size());  // every byte kept (the one space is inside the first piece)
  EXPECT_LT(seconds, 10.0) << "chunking 16 MiB is quadratic again";
}

// Found by tests/fuzz text_chunk: a run of UTF-8 continuation bytes longer
// than a chunk made split_long loop forever (no boundary to cut at).
TEST(Chunking, FuzzFinding_ContinuationBytesDoNotHangTheSplitter) {
  const std::string garbage(1000, '\x8a');
  auto chunks = chunk_text(garbage + "g", 80, false);
  size_t total = 0;
  for (const auto& c : chunks) {
    EXPECT_LE(c.text.size(), 80u);
    total += c.text.size();
  }
  EXPECT_EQ(total, garbage.size() + 1);
}

TEST(Import, DispatchLimitsAndMissingFiles) {
  EXPECT_EQ(code_of([] { import("x", "photo.heic"); }), ErrorCode::kInvalidInput);
  ImportOptions small;
  small.max_file_bytes = 10;
  EXPECT_EQ(code_of([&] { import(std::string(100, 'a'), "big.txt", small); }), ErrorCode::kTooLarge);
  EXPECT_EQ(code_of([] { import_file("/nonexistent/x.txt", {}); }), ErrorCode::kNotFound);
  testing::TempDir dir;
  std::ofstream(dir / "UPPER.MD") << "# Title\n\ntext";
  auto r = import_file(dir / "UPPER.MD", {});
  EXPECT_EQ(r.format, "markdown");
  EXPECT_EQ(r.memories[0].provenance.file, (dir / "UPPER.MD").string());
}

}  // namespace
}  // namespace kioku
