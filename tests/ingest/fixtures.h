// Test documents made by code, never copied: a minimal PDF with a correct
// cross-reference table, and .xlsx workbooks zipped with libzip.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace kioku::testing {

// One page per string; plain ASCII text drawn with a standard font.
std::string make_pdf(const std::vector<std::string>& pages);

// parts: path inside the zip -> content.
std::string make_zip(const std::map<std::string, std::string>& parts);

struct Sheet {
  std::string name;
  std::string sheet_xml;  // the <sheetData> inner XML
};
// A workbook with shared strings and a date style (style 1 = numFmt 14, style
// 2 = custom "yyyy-mm-dd hh:mm").
std::string make_xlsx(const std::vector<Sheet>& sheets, const std::vector<std::string>& shared_strings);

}  // namespace kioku::testing
