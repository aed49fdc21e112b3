// Writes the documents the browser test uploads, made by the same generators
// as the ingest tests (tests/ingest/fixtures.h), so no binary is committed:
//   web_fixtures DIR  ->  DIR/field-notes.pdf, DIR/garden-plan.xlsx
#include <filesystem>
#include <fstream>
#include <iostream>

#include "ingest/fixtures.h"

namespace {

bool write(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  out.close();
  if (!out) {
    std::cerr << "web_fixtures: cannot write " << path << "\n";
    return false;
  }
  std::cout << path.string() << "\n";
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: web_fixtures DIR\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  using kioku::testing::make_pdf;
  using kioku::testing::make_xlsx;
  const std::string pdf = make_pdf({"Field notes: the quokka colony on Rottnest Island was counted in March.",
                                    "Second page: bring the zircon lantern on the next survey."});
  const std::string xlsx = make_xlsx(
      {{"Plan",
        "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c></row>"
        "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>2</v></c><c r=\"B2\" t=\"s\"><v>3</v></c></row>"
        "<row r=\"3\"><c r=\"A3\" t=\"s\"><v>4</v></c><c r=\"B3\"><v>12</v></c></row>"}},
      {"Plant", "Bed", "Marigold heliotrope", "north bed", "Kohlrabi"});
  if (!write(dir / "field-notes.pdf", pdf) || !write(dir / "garden-plan.xlsx", xlsx)) return 1;
  return 0;
}
