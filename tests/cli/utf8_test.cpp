// Unit tests of the UTF-8 clean-up used by bounded-run --json (cli/utf8.cpp),
// against what Python's bytes.decode("utf-8", errors="ignore") returns.
#include "utf8.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using bounded_subprocess::cli::drop_invalid_utf8;

TEST(Utf8, ValidTextIsUnchanged) {
  const std::string text = "plain ASCII, caf\xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x98\x80, \xF4\x8F\xBF\xBF";
  EXPECT_EQ(drop_invalid_utf8(text), text);
  EXPECT_EQ(drop_invalid_utf8(std::string("a\0b", 3)), std::string("a\0b", 3));  // NUL is valid
  EXPECT_EQ(drop_invalid_utf8(""), "");
}

TEST(Utf8, StrayBytesAreDropped) {
  EXPECT_EQ(drop_invalid_utf8("a\x80z"), "az");          // lone continuation
  EXPECT_EQ(drop_invalid_utf8("a\xFF\xFEz"), "az");      // never valid
  EXPECT_EQ(drop_invalid_utf8("a\xC0\xAFz"), "az");      // overlong lead bytes C0, C1
  EXPECT_EQ(drop_invalid_utf8("a\xF5\x80\x80\x80z"), "az");  // lead beyond U+10FFFF
}

TEST(Utf8, CutSequenceDropsItsPrefixAndKeepsWhatFollows) {
  EXPECT_EQ(drop_invalid_utf8("\xE2\x82"), "");                  // cut by the end
  EXPECT_EQ(drop_invalid_utf8("\xE2\x82z"), "z");                // cut by ASCII
  EXPECT_EQ(drop_invalid_utf8("\xE2\xC3\xA9"), "\xC3\xA9");      // cut by a valid lead
  EXPECT_EQ(drop_invalid_utf8("\xF0\x9F\x98"), "");
  EXPECT_EQ(drop_invalid_utf8("\xF0\x9F\x98\xE2\x82\xAC"), "\xE2\x82\xAC");
}

TEST(Utf8, OverlongSurrogateAndOutOfRangeFormsAreDropped) {
  EXPECT_EQ(drop_invalid_utf8("\xE0\x80\xAF"), "");        // overlong 3-byte
  EXPECT_EQ(drop_invalid_utf8("\xF0\x80\x80\xAF"), "");    // overlong 4-byte
  EXPECT_EQ(drop_invalid_utf8("\xED\xA0\x80"), "");        // U+D800
  EXPECT_EQ(drop_invalid_utf8("\xED\xBF\xBF"), "");        // U+DFFF
  EXPECT_EQ(drop_invalid_utf8("\xF4\x90\x80\x80"), "");    // U+110000
  EXPECT_EQ(drop_invalid_utf8("\xED\x9F\xBF"), "\xED\x9F\xBF");  // U+D7FF is fine
  EXPECT_EQ(drop_invalid_utf8("\xE0\xA0\x80"), "\xE0\xA0\x80");  // U+0800 is fine
}

TEST(Utf8, TailCaptureStartingMidCharacter) {
  // A tail capture may begin inside a character: its continuation bytes go.
  EXPECT_EQ(drop_invalid_utf8("\x82\xAC" "euro"), "euro");
  EXPECT_EQ(drop_invalid_utf8("\x98\x80\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
}

TEST(Utf8, EveryByteValueAlone) {
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    EXPECT_EQ(drop_invalid_utf8(one), b < 0x80 ? one : "") << "byte " << b;
  }
}

}  // namespace
