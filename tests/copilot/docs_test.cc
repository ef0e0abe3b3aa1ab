// DocIndex over small man page, markdown and catalog trees written by the tests, and over
// the repository's own docs/ and data/.
#include "aion/copilot/docs.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>

#include "support/temp_dir.h"

namespace aion::copilot {
namespace {

namespace fs = std::filesystem;
using aion::testing::TempDir;

// A section 5 page in the shape man-pages and procps write them: comments, fonts,
// escapes, a tagged list and a no-fill example.
constexpr const char* kWidgetPage = R"(.\" Written for this test.
.TH WIDGET.CONF 5 "2024-01-01" "widget" "File Formats"
.SH NAME
widget.conf \- configuration of the widget daemon
.SH DESCRIPTION
.B widget.conf
holds the settings of
.BR widgetd (8).
Each line sets one knob; the daemon applies the
\fIfrobnication\fR level at start\(emand again on SIGHUP.
.PP
To tune the daemon for throughput, raise
.I quux
above 10.
.TP
.B \-\-verbose
Logs every frobnication.
.SH EXAMPLES
.nf
quux = 12
level = high
.fi
.SH "SEE ALSO"
.BR sysctl (8)
)";

// A page in BSD mdoc, as OpenSSH writes them.
constexpr const char* kMdocPage = R"(.Dd $Mdocdate: January 1 2024 $
.Dt GADGET 1
.Os
.Sh NAME
.Nm gadget
.Nd zorbulate the gadget cache
.Sh DESCRIPTION
.Nm
zorbulates the cache.
.Bl -tag -width Ds
.It Fl z Ar level
Sets the zorbulation level.
.El
)";

constexpr const char* kGuide = R"(# Widget guide

Intro text about widgets.

## Rollback

To undo a change, run `widget rollback`; the previous generation is restored.

## Limits

### Memory

The cache never grows past its quota of glimmerstones.
```
# not a heading inside a fence
```
)";

constexpr const char* kCatalog = R"(schema_version = 1

[[signature]]
id = "demo-xid-79"
title = "Xid 79: GPU has fallen off the bus"
meaning = "The GPU stopped responding on PCIe."
action = "Drain the GPU and reset it."
weight = 0.9

[[signature]]
id = "demo-ecc"
title = "Uncorrectable ECC error"
meaning = "A double-bit error in framebuffer memory."
)";

void write_gz(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(gzwrite(f, text.data(), static_cast<unsigned>(text.size())),
            static_cast<int>(text.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

// Moves a file's mtime forward, as an editor saving it a little later would.
void touch_later(const fs::path& path) {
  fs::last_write_time(path, fs::last_write_time(path) + std::chrono::seconds(5));
}

class DocsIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_gz(tmp_ / "man/man5/widget.conf.5.gz", kWidgetPage);
    tmp_.write("man/man1/gadget.1", kMdocPage);
    // A redirect page and a translation: neither is indexed.
    write_gz(tmp_ / "man/man1/widgetctl.1.gz", ".\\\" alias\n.so man5/widget.conf.5\n");
    tmp_.write("man/de/man1/gadget.1", ".SH NAME\ngadget \\- Zwischenspeicher zorbulieren\n");
    tmp_.write("docs/guide.md", kGuide);
    tmp_.write("data/signatures/demo.toml", kCatalog);
    tmp_.write("data/profiles/plain.toml",
               "name = \"plain\"\nsummary = \"a profile without entries\"\n"
               "[[setting]]\nkey = \"sysctl.vm.swappiness\"\nvalue = 7\n");
  }

  std::vector<DocSource> sources() const {
    return {{"man", tmp_ / "man"}, {"markdown", tmp_ / "docs"}, {"catalog", tmp_ / "data"}};
  }

  DocIndex open_index() {
    auto index = DocIndex::open(tmp_ / "index");
    EXPECT_TRUE(index.has_value()) << index.error().message();
    return std::move(*index);
  }

  UpdateStats update(DocIndex& index) {
    auto stats = index.update(sources());
    EXPECT_TRUE(stats.has_value()) << stats.error().message();
    return stats.value_or(UpdateStats{});
  }

  static std::vector<DocHit> search(const DocIndex& index, std::string_view q,
                                    std::size_t limit = 5) {
    auto hits = index.search(q, limit);
    EXPECT_TRUE(hits.has_value()) << hits.error().message();
    return hits.value_or(std::vector<DocHit>{});
  }

  TempDir tmp_{"copilot-docs"};
};

TEST_F(DocsIndexTest, ManPageHitCitesPageSectionAndTitle) {
  DocIndex index = open_index();
  update(index);
  const auto hits = search(index, "frobnication level");
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].doc, "widget.conf(5)");
  EXPECT_EQ(hits[0].section, "DESCRIPTION");
  EXPECT_EQ(hits[0].title, "widget.conf - configuration of the widget daemon");
  EXPECT_EQ(hits[0].path, (tmp_ / "man/man5/widget.conf.5.gz").string());
  EXPECT_GT(hits[0].score, 0);
}

TEST_F(DocsIndexTest, TroffMarkupIsStrippedFromSnippets) {
  DocIndex index = open_index();
  update(index);
  const auto hits = search(index, "frobnication SIGHUP");
  ASSERT_FALSE(hits.empty());
  const std::string& s = hits[0].snippet;
  EXPECT_NE(s.find("frobnication level at start\u2014and again on SIGHUP"), std::string::npos) << s;
  EXPECT_EQ(s.find("\\f"), std::string::npos) << s;
  EXPECT_EQ(s.find(".B"), std::string::npos) << s;
  EXPECT_LE(s.size(), 310u);
}

TEST_F(DocsIndexTest, NoFillSectionsKeepTheirLines) {
  DocIndex index = open_index();
  update(index);
  const auto hits = search(index, "quux", 5);
  auto it = std::find_if(hits.begin(), hits.end(),
                         [](const DocHit& h) { return h.section == "EXAMPLES"; });
  ASSERT_NE(it, hits.end());
  EXPECT_EQ(it->snippet, "quux = 12\nlevel = high");
}

TEST_F(DocsIndexTest, MdocPagesAreReadToo) {
  DocIndex index = open_index();
  update(index);
  const auto hits = search(index, "zorbulation level");
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].doc, "gadget(1)");
  EXPECT_EQ(hits[0].section, "DESCRIPTION");
  EXPECT_EQ(hits[0].title, "gadget - zorbulate the gadget cache");
  EXPECT_NE(hits[0].snippet.find("-z level"), std::string::npos) << hits[0].snippet;
}

TEST_F(DocsIndexTest, TranslatedPagesAndRedirectsAreNotIndexed) {
  DocIndex index = open_index();
  const UpdateStats stats = update(index);
  EXPECT_EQ(stats.files_seen, 6u);  // 3 man pages (one a redirect), 1 markdown, 2 catalogs
  EXPECT_EQ(stats.files_skipped, 1u);
  EXPECT_TRUE(search(index, "Zwischenspeicher").empty());
  for (const auto& h : search(index, "widget", 20)) EXPECT_NE(h.doc, "widgetctl(1)");
}

TEST_F(DocsIndexTest, MarkdownHitCitesFileAndHeading) {
  DocIndex index = open_index();
  update(index);
  auto hits = search(index, "undo a change");
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].doc, "docs/guide.md");
  EXPECT_EQ(hits[0].section, "Rollback");
  EXPECT_EQ(hits[0].title, "Widget guide");
  hits = search(index, "glimmerstones");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].section, "Memory");
  EXPECT_TRUE(search(index, "fence").size() == 1);  // "# not a heading" stays in Memory
}

TEST_F(DocsIndexTest, CatalogEntriesAreDocumentsOfTheirOwn) {
  DocIndex index = open_index();
  update(index);
  auto hits = search(index, "Xid 79 fallen off the bus");
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].doc, "data/signatures/demo.toml");
  EXPECT_EQ(hits[0].section, "demo-xid-79");
  EXPECT_EQ(hits[0].title, "Xid 79: GPU has fallen off the bus");
  hits = search(index, "swappiness");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].doc, "data/profiles/plain.toml");
  EXPECT_EQ(hits[0].section, "plain");
  EXPECT_EQ(hits[0].title, "a profile without entries");
}

TEST_F(DocsIndexTest, StemmingMatchesOtherFormsOfAWord) {
  DocIndex index = open_index();
  update(index);
  // The page says "To tune the daemon"; the question says "tuning".
  const auto hits = search(index, "tuning the widget daemon");
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].doc, "widget.conf(5)");
  EXPECT_NE(hits[0].snippet.find("tune"), std::string::npos) << hits[0].snippet;
}

TEST_F(DocsIndexTest, QueryNamingAPageFavoursThatPage) {
  // janitor(1) says "stale lock files" more often; the question names sweep.
  tmp_.write("man/man1/sweep.1",
             ".TH SWEEP 1\n.SH NAME\nsweep \\- tidy the spool\n.SH DESCRIPTION\n"
             "Removes stale lock files.\n");
  tmp_.write("man/man1/janitor.1",
             ".TH JANITOR 1\n.SH NAME\njanitor \\- nightly chores\n.SH DESCRIPTION\n"
             "Runs sweep every night: sweep finds stale lock files, sweep removes stale lock "
             "files, sweep logs the stale lock files it removed.\n");
  DocIndex index = open_index();
  update(index);
  const auto hits = search(index, "sweep stale lock files");
  ASSERT_GE(hits.size(), 2u);
  EXPECT_EQ(hits[0].doc, "sweep(1)");
  EXPECT_EQ(hits[1].doc, "janitor(1)");
}

TEST_F(DocsIndexTest, SnippetOfALongParagraphIsTheWindowAroundTheMatch) {
  std::string para;
  for (int i = 0; i < 60; ++i) para += "filler words about nothing in particular, ";
  para += "the quasar setting moves the hot path; ";
  for (int i = 0; i < 60; ++i) para += "more filler words that say nothing, ";
  tmp_.write("docs/long.md", "# Long\n\n## Body\n\n" + para + "\n");
  DocIndex index = open_index();
  update(index);
  const auto hits = search(index, "quasar");
  ASSERT_EQ(hits.size(), 1u);
  const std::string& s = hits[0].snippet;
  EXPECT_NE(s.find("the quasar setting moves the hot path"), std::string::npos) << s;
  EXPECT_TRUE(s.starts_with("...")) << s;
  EXPECT_TRUE(s.ends_with("...")) << s;
  EXPECT_LE(s.size(), 306u) << s;
}

TEST_F(DocsIndexTest, EmptyAndStopwordQueriesGiveNoHits) {
  DocIndex index = open_index();
  update(index);
  EXPECT_TRUE(search(index, "").empty());
  EXPECT_TRUE(search(index, "   ").empty());
  EXPECT_TRUE(search(index, "how do I do that?").empty());
  EXPECT_TRUE(search(index, "widget", 0).empty());
  // Operators the query parser cannot make sense of are read as words.
  EXPECT_FALSE(search(index, "frobnication AND (").empty());
}

TEST_F(DocsIndexTest, SecondUpdateOverUnchangedFilesIndexesNothing) {
  DocIndex index = open_index();
  const UpdateStats first = update(index);
  EXPECT_EQ(first.files_indexed, 5u);  // all but the redirect
  EXPECT_GT(first.sections, 5u);
  const std::size_t size = index.size();
  const UpdateStats second = update(index);
  EXPECT_EQ(second.files_seen, first.files_seen);
  EXPECT_EQ(second.files_indexed, 0u);
  EXPECT_EQ(second.files_skipped, 0u);  // the redirect is remembered, not read again
  EXPECT_EQ(second.sections, 0u);
  EXPECT_EQ(second.files_removed, 0u);
  EXPECT_EQ(index.size(), size);
}

TEST_F(DocsIndexTest, BookkeepingSurvivesReopening) {
  {
    DocIndex index = open_index();
    update(index);
  }
  DocIndex index = open_index();
  EXPECT_EQ(update(index).files_indexed, 0u);
  EXPECT_FALSE(search(index, "glimmerstones").empty());
}

TEST_F(DocsIndexTest, ChangedFileIsReindexedAlone) {
  DocIndex index = open_index();
  update(index);
  std::string guide = kGuide;
  guide.replace(guide.find("glimmerstones"), 13, "moonpebbles00");  // same size
  tmp_.write("docs/guide.md", guide);
  touch_later(tmp_ / "docs/guide.md");
  const UpdateStats stats = update(index);
  EXPECT_EQ(stats.files_indexed, 1u);
  EXPECT_EQ(stats.sections, 3u);  // the intro, Rollback and Memory (Limits is empty)
  EXPECT_TRUE(search(index, "glimmerstones").empty());
  const auto hits = search(index, "moonpebbles00");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].section, "Memory");
  EXPECT_EQ(search(index, "rollback").size(), 1u);  // not indexed twice
}

TEST_F(DocsIndexTest, DeletedFileLosesItsHits) {
  DocIndex index = open_index();
  update(index);
  const std::size_t size = index.size();
  ASSERT_FALSE(search(index, "frobnication").empty());
  fs::remove(tmp_ / "man/man5/widget.conf.5.gz");
  const UpdateStats stats = update(index);
  EXPECT_EQ(stats.files_removed, 1u);
  EXPECT_EQ(stats.files_indexed, 0u);
  EXPECT_TRUE(search(index, "frobnication").empty());
  EXPECT_LT(index.size(), size);
}

TEST_F(DocsIndexTest, MissingSourceRootIsSkipped) {
  DocIndex index = open_index();
  auto stats = index.update({{"man", tmp_ / "nowhere"}, {"markdown", tmp_ / "docs"}});
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  EXPECT_EQ(stats->files_seen, 1u);
}

TEST_F(DocsIndexTest, OversizedFilesAreSkippedAndCounted) {
  tmp_.write("docs/huge.md", "# Huge\n" + std::string((4u << 20) + 1, 'x'));
  DocIndex index = open_index();
  const UpdateStats stats = update(index);
  EXPECT_EQ(stats.files_skipped, 2u);  // the huge file and the redirect page
  EXPECT_TRUE(search(index, "huge").empty());
}

TEST_F(DocsIndexTest, LongSectionsAreIndexedInPartsCitingTheSection) {
  std::string body = "The firstword opens the section.\n";
  while (body.size() < (150u << 10)) body += "a line of filler text that goes on and on\n";
  body += "The lastword closes it.\n";
  DocIndex index = open_index();
  update(index);
  tmp_.write("docs/big.md", "# Big\n\n## Everything\n\n" + body);
  const UpdateStats stats = update(index);
  EXPECT_EQ(stats.files_indexed, 1u);
  EXPECT_EQ(stats.sections, 3u);  // 150 KiB in parts of at most 64 KiB
  for (const char* word : {"firstword", "lastword"}) {
    const auto hits = search(index, word);
    ASSERT_EQ(hits.size(), 1u) << word;
    EXPECT_EQ(hits[0].doc, "docs/big.md");
    EXPECT_EQ(hits[0].section, "Everything");
    EXPECT_NE(hits[0].snippet.find(word), std::string::npos);
  }
}

TEST_F(DocsIndexTest, CatalogThatIsNotTomlIsIndexedAsText) {
  tmp_.write("data/broken.toml", "[[signature]\nid = \"half-written\nmeaning = splinterwood\n");
  DocIndex index = open_index();
  update(index);
  const auto hits = search(index, "splinterwood");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].doc, "data/broken.toml");
  EXPECT_EQ(hits[0].section, "broken");
}

TEST_F(DocsIndexTest, DirectorySymlinkLoopsAreNotFollowed) {
  fs::create_directory_symlink(tmp_ / "docs", tmp_ / "docs/loop");
  fs::create_symlink(tmp_ / "docs/guide.md", tmp_ / "docs/alias.md");
  DocIndex index = open_index();
  const UpdateStats stats = update(index);
  EXPECT_EQ(stats.files_seen, 6u);
  EXPECT_EQ(search(index, "glimmerstones").size(), 1u);
}

TEST_F(DocsIndexTest, CorruptIndexDirectoryIsACleanError) {
  const fs::path dir = tmp_.mkdir("broken-index");
  for (const char* name : {"iamglass", "postlist.glass", "termlist.glass", "docdata.glass",
                           "position.glass", "flintlock"}) {
    tmp_.write(fs::path("broken-index") / name, "this is not a Xapian table\n");
  }
  auto index = DocIndex::open(dir);
  ASSERT_FALSE(index.has_value());
  EXPECT_EQ(index.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(index.error().message().find(dir.string()), std::string::npos);
  EXPECT_NE(index.error().message().find("delete " + dir.string() + " to rebuild it"),
            std::string::npos)
      << index.error().message();
}

TEST_F(DocsIndexTest, SecondWriterGetsAReadOnlyView) {
  DocIndex writer = open_index();
  update(writer);
  auto reader = DocIndex::open(tmp_ / "index");
  ASSERT_TRUE(reader.has_value()) << reader.error().message();
  EXPECT_FALSE(search(*reader, "glimmerstones").empty());
  auto stats = reader->update(sources());
  ASSERT_FALSE(stats.has_value());
  EXPECT_EQ(stats.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(stats.error().message().find("another process"), std::string::npos);
}

// A daemon reading the index never takes its write lock, so the updater is never refused.
TEST_F(DocsIndexTest, ReadOnlyOpenNeverBlocksTheUpdater) {
  auto missing = DocIndex::open_read_only(tmp_ / "index");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(fs::exists(tmp_ / "index"));  // and it made nothing
  {
    DocIndex first = open_index();
    update(first);
  }
  auto reader = DocIndex::open_read_only(tmp_ / "index");
  ASSERT_TRUE(reader.has_value()) << reader.error().message();
  EXPECT_FALSE(search(*reader, "glimmerstones").empty());
  DocIndex writer = open_index();
  EXPECT_TRUE(writer.update(sources()).has_value());
  EXPECT_EQ(reader->update(sources()).error().code(), ErrorCode::kUnavailable);
}

TEST_F(DocsIndexTest, ProgressCountsEveryFile) {
  DocIndex index = open_index();
  std::size_t last_done = 0, last_total = 0, calls = 0;
  auto stats = index.update(sources(), [&](std::size_t done, std::size_t total) {
    ++calls;
    last_done = done;
    last_total = total;
  });
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(calls, 6u);  // every file found, the redirect included
  EXPECT_EQ(last_done, last_total);
}

TEST(DocsSources, DefaultsAreManPagesDocsAndData) {
  const auto s = default_sources("/host", "/opt/aion/docs", "/opt/aion/data");
  ASSERT_EQ(s.size(), 8u);
  EXPECT_EQ(s[0].kind, "man");
  EXPECT_EQ(s[0].root, fs::path("/host/usr/share/man"));
  EXPECT_EQ(s[1].root, fs::path("/host/usr/local/share/man"));
  EXPECT_EQ(s[2].kind, "markdown");
  EXPECT_EQ(s[2].root, fs::path("/opt/aion/docs"));
  EXPECT_EQ(s[3].kind, "catalog");
  EXPECT_EQ(s[3].root, fs::path("/opt/aion/data/signatures"));
  for (const auto& src : s) EXPECT_EQ(src.root.string().find("copilot"), std::string::npos);
}

// The repository's own manuals and catalogs answer the questions they were written for.
TEST(DocsRepo, FindsSignaturesAndManualsOfThisRepository) {
  TempDir tmp("copilot-docs-repo");
  auto index = DocIndex::open(tmp / "index");
  ASSERT_TRUE(index.has_value()) << index.error().message();
  const fs::path src = AION_SOURCE_DIR;
  auto stats = index->update({{"markdown", src / "docs"}, {"catalog", src / "data"}});
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  EXPECT_GT(stats->files_indexed, 20u);

  auto hits = index->search("GPU fallen off the bus Xid 79");
  ASSERT_TRUE(hits.has_value()) << hits.error().message();
  ASSERT_FALSE(hits->empty());
  EXPECT_EQ((*hits)[0].doc, "data/signatures/nvidia_xid.toml");
  EXPECT_EQ((*hits)[0].section, "nvidia-xid-79");

  hits = index->search("numa balancing");
  ASSERT_TRUE(hits.has_value()) << hits.error().message();
  EXPECT_TRUE(std::any_of(hits->begin(), hits->end(),
                          [](const DocHit& h) { return h.doc == "docs/tuning.md"; }));
}

}  // namespace
}  // namespace aion::copilot
