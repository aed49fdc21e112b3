// Excel .xlsx: a zip of XML parts (libzip + pugixml). Every sheet, shared and
// inline strings, numbers, booleans, dates (by number format), formulas'
// cached values. One memory per row: "Header: value; ...".
#include <zip.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <pugixml.hpp>
#include <set>

#include "core/error.h"
#include "ingest/formats.h"

namespace kioku {

namespace {

// What one workbook may still produce: unpacked XML, then cell text (every
// use of a shared string counts). Charged before the bytes exist.
class Budget {
 public:
  Budget(size_t bytes, std::string name) : left_(bytes), limit_(bytes), name_(std::move(name)) {}
  void charge(size_t bytes, std::string_view what) {
    if (bytes <= left_) {
      left_ -= bytes;
      return;
    }
    throw too_large(name_ + ": " + std::string(what) + " would take more than " + std::to_string(limit_ >> 20) +
                    " MiB unpacked (a small .xlsx can expand a thousandfold; split the workbook)");
  }

 private:
  size_t left_;
  size_t limit_;
  std::string name_;
};

class ZipArchive {
 public:
  ZipArchive(std::string_view bytes, std::string_view name, Budget& budget) : name_(name), budget_(budget) {
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
    if (src) archive_ = zip_open_from_source(src, ZIP_RDONLY, &error);
    if (!archive_) {
      if (src) zip_source_free(src);
      zip_error_fini(&error);
      throw invalid_input(std::string(name) + ": not a valid .xlsx (zip) file");
    }
    zip_error_fini(&error);
  }
  ~ZipArchive() {
    if (archive_) zip_discard(archive_);
  }
  // Empty optional when the part does not exist.
  std::optional<std::string> read(const std::string& part) {
    const zip_int64_t index = zip_name_locate(archive_, part.c_str(), 0);
    if (index < 0) return std::nullopt;
    zip_stat_t st;
    if (zip_stat_index(archive_, static_cast<zip_uint64_t>(index), 0, &st) != 0)
      throw invalid_input(name_ + ": damaged part " + part);
    if (!(st.valid & ZIP_STAT_SIZE)) throw invalid_input(name_ + ": damaged part " + part);
    budget_.charge(static_cast<size_t>(std::min<zip_uint64_t>(st.size, SIZE_MAX)), "part " + part);
    zip_file_t* f = zip_fopen_index(archive_, static_cast<zip_uint64_t>(index), 0);
    if (!f) throw invalid_input(name_ + ": damaged part " + part);
    std::string data(static_cast<size_t>(st.size), '\0');
    const zip_int64_t n = zip_fread(f, data.data(), st.size);
    zip_fclose(f);
    if (n < 0 || static_cast<zip_uint64_t>(n) != st.size) throw invalid_input(name_ + ": damaged part " + part);
    return data;
  }

 private:
  std::string name_;
  Budget& budget_;
  zip_t* archive_ = nullptr;
};

pugi::xml_document parse_xml(const std::string& xml, const std::string& where) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) throw invalid_input(where + ": malformed XML");
  return doc;
}

// Text of an <si> or <is>: a plain <t> or rich-text runs <r><t>.
std::string rich_text(const pugi::xml_node& node) {
  std::string out;
  for (auto t : node.select_nodes(".//*[local-name()='t']")) out += t.node().text().get();
  return out;
}

bool is_date_format(int id, const std::string& code) {
  if ((id >= 14 && id <= 22) || (id >= 45 && id <= 47)) return true;
  if (code.empty()) return false;
  // Custom formats: date letters outside quoted text and brackets.
  bool in_quote = false;
  int bracket = 0;
  for (char c : code) {
    if (c == '"') in_quote = !in_quote;
    else if (!in_quote && c == '[') ++bracket;
    else if (!in_quote && c == ']') --bracket;
    else if (!in_quote && bracket == 0 && (c == 'd' || c == 'm' || c == 'y' || c == 'D' || c == 'M' || c == 'Y'))
      return true;
  }
  return false;
}

std::string serial_to_date(double serial) {
  // Excel's 1900 date system counts from 1899-12-30 (its fake 1900-02-29
  // included), so day 1 is 1900-01-01 for all dates after February 1900.
  const int64_t days = static_cast<int64_t>(std::floor(serial));
  const double frac = serial - static_cast<double>(days);
  const int64_t ms = (days - 25569) * 86400000LL + static_cast<int64_t>(std::llround(frac * 86400000.0));
  std::string iso = format_iso8601(from_millis(ms));
  if (frac == 0) return iso.substr(0, 10);
  return iso.substr(0, 19);
}

std::string format_number(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

// "BC12" -> zero-based column 54.
int column_index(const std::string& ref) {
  int col = 0;
  for (char c : ref) {
    if (c < 'A' || c > 'Z') break;
    col = col * 26 + (c - 'A' + 1);
  }
  return col - 1;
}

}  // namespace

ImportResult import_xlsx(std::string_view bytes, std::string_view name, const ImportOptions& options) {
  const std::string file(name);
  Budget unpacked(options.max_unpacked_bytes, file);
  ZipArchive zip(bytes, name, unpacked);
  Budget cell_text(options.max_unpacked_bytes, file);
  auto workbook_xml = zip.read("xl/workbook.xml");
  if (!workbook_xml) throw invalid_input(file + ": not an Excel workbook (no xl/workbook.xml)");
  auto workbook = parse_xml(*workbook_xml, file);

  std::map<std::string, std::string> target_of;  // relationship id -> part path
  if (auto rels_xml = zip.read("xl/_rels/workbook.xml.rels")) {
    auto rels = parse_xml(*rels_xml, file);
    for (auto rel : rels.select_nodes("//*[local-name()='Relationship']")) {
      std::string target = rel.node().attribute("Target").value();
      if (!target.empty() && target[0] == '/') target = target.substr(1);
      else target = "xl/" + target;
      target_of[rel.node().attribute("Id").value()] = target;
    }
  }
  std::vector<std::string> shared;
  if (auto ss_xml = zip.read("xl/sharedStrings.xml")) {
    auto ss = parse_xml(*ss_xml, file);
    for (auto si : ss.select_nodes("//*[local-name()='si']")) shared.push_back(rich_text(si.node()));
  }
  std::vector<bool> style_is_date;
  if (auto styles_xml = zip.read("xl/styles.xml")) {
    auto styles = parse_xml(*styles_xml, file);
    std::map<int, std::string> custom;
    for (auto f : styles.select_nodes("//*[local-name()='numFmts']/*[local-name()='numFmt']"))
      custom[f.node().attribute("numFmtId").as_int()] = f.node().attribute("formatCode").value();
    for (auto xf : styles.select_nodes("//*[local-name()='cellXfs']/*[local-name()='xf']")) {
      const int id = xf.node().attribute("numFmtId").as_int();
      style_is_date.push_back(is_date_format(id, custom.count(id) ? custom[id] : ""));
    }
  }

  ImportResult r;
  r.format = "xlsx";
  int sheet_number = 0;
  for (auto sheet : workbook.select_nodes("//*[local-name()='sheets']/*[local-name()='sheet']")) {
    ++sheet_number;
    const std::string sheet_name = sheet.node().attribute("name").value();
    std::string rid;
    for (auto attr : sheet.node().attributes())
      if (std::string(attr.name()).size() >= 3 && std::string(attr.name()).substr(std::string(attr.name()).size() - 3) == ":id")
        rid = attr.value();
    std::string part = target_of.count(rid) ? target_of[rid] : "xl/worksheets/sheet" + std::to_string(sheet_number) + ".xml";
    auto sheet_xml = zip.read(part);
    if (!sheet_xml) throw invalid_input(file + ": sheet '" + sheet_name + "' is missing (" + part + ")");
    auto doc = parse_xml(*sheet_xml, file + " sheet " + sheet_name);

    std::vector<std::pair<int, std::vector<std::string>>> rows;  // row number, cells by column
    for (auto row : doc.select_nodes("//*[local-name()='sheetData']/*[local-name()='row']")) {
      std::vector<std::string> cells;
      const int row_number = row.node().attribute("r").as_int(static_cast<int>(rows.size()) + 1);
      int next_col = 0;
      for (auto c : row.node().children()) {
        if (std::string(c.name()).find('c') == std::string::npos || std::string(c.name()).back() != 'c') continue;
        const std::string ref = c.attribute("r").value();
        const int col = ref.empty() ? next_col : column_index(ref);
        if (col < 0 || col > 16384) continue;
        next_col = col + 1;
        const std::string type = c.attribute("t").value();
        const std::string v = c.child("v") ? c.child("v").text().get() : "";
        std::string value;
        if (type == "s") {
          const size_t idx = static_cast<size_t>(std::atoll(v.c_str()));
          if (v.empty() || idx >= shared.size())
            throw invalid_input(file + ": sheet '" + sheet_name + "' cell " + ref + " points to a missing shared string");
          value = shared[idx];
        } else if (type == "inlineStr") {
          value = rich_text(c.child("is"));
        } else if (type == "b") {
          value = v == "1" ? "TRUE" : "FALSE";
        } else if (type == "str" || type == "e") {
          value = v;
        } else if (!v.empty()) {
          char* end = nullptr;
          const double number = std::strtod(v.c_str(), &end);
          const size_t style = static_cast<size_t>(c.attribute("s").as_int(0));
          if (end && *end == '\0') {
            value = style < style_is_date.size() && style_is_date[style] ? serial_to_date(number) : format_number(number);
          } else {
            value = v;
          }
        }
        cell_text.charge(value.size(), "the cell text of sheet '" + sheet_name + "'");
        if (cells.size() <= static_cast<size_t>(col)) {
          // Empty cells before a far column (XFD1) cost memory too.
          cell_text.charge((static_cast<size_t>(col) + 1 - cells.size()) * sizeof(std::string),
                           "the cells of sheet '" + sheet_name + "'");
          cells.resize(static_cast<size_t>(col) + 1);
        }
        cells[static_cast<size_t>(col)] = value;
      }
      bool any = false;
      for (const auto& cell : cells) any = any || !cell.empty();
      if (any) rows.emplace_back(row_number, std::move(cells));
    }
    if (rows.empty()) continue;
    // The first row is a header when all its cells are non-numeric text.
    bool header = rows.size() > 1;
    for (const auto& cell : rows[0].second) {
      char* end = nullptr;
      if (!cell.empty()) std::strtod(cell.c_str(), &end);
      if (!cell.empty() && end && *end == '\0') header = false;
    }
    const auto& names = rows[0].second;
    for (size_t i = header ? 1 : 0; i < rows.size(); ++i) {
      std::string content;
      const auto& cells = rows[i].second;
      for (size_t c = 0; c < cells.size(); ++c) {
        if (cells[c].empty()) continue;
        const std::string label = header && c < names.size() && !names[c].empty() ? names[c] : "";
        if (content.size() + label.size() + cells[c].size() + 4 > options.max_memory_bytes) {
          throw too_large(file + ": sheet '" + sheet_name + "' row " + std::to_string(rows[i].first) + " is over " +
                          std::to_string(options.max_memory_bytes >> 10) + " KiB of text");
        }
        if (!content.empty()) content += "; ";
        if (!label.empty()) content += label + ": ";
        content += cells[c];
      }
      Memory m = draft_memory(options, name, content);
      m.provenance.sheet = sheet_name;
      m.provenance.row = rows[i].first;
      r.memories.push_back(std::move(m));
    }
  }
  if (r.memories.empty()) r.warnings.push_back("the workbook has no filled cells");
  return r;
}

}  // namespace kioku
