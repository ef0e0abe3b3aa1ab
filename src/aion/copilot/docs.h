// DocIndex: a local full-text index (Xapian) over the documentation a node's operator asks
// about: the man pages installed on the machine, aion's own manuals (docs/*.md) and its data
// catalogs (fault signatures, playbooks, tuning profiles, compatibility tables). The index
// lives under the state directory and is updated incrementally: a file whose size and mtime
// are unchanged is not read again; a file that is gone is dropped.
//
// Each hit names the document and the section it comes from, so that an answer can cite it
// ("man 5 sysctl.conf, DESCRIPTION", "docs/tuning.md, Rollback").
// Not thread-safe: one DocIndex per thread (Xapian databases are not shared between threads).
// Across processes, one DocIndex at a time may write a directory (Xapian's lock); others
// opening it meanwhile get a read-only view.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aion/core/error.h"

namespace aion::copilot {

// Where documents come from. kind: "man" (a man page tree such as /usr/share/man: troff,
// gzip or plain, split at .SH; only the untranslated manN directories), "markdown" (*.md
// under root, split at #, ## and ### headings), "catalog" (*.toml data files under root, one
// document per [[table]] entry with an id or name, else one for the whole file). A root
// that does not exist holds no documents. Symbolic links are not followed.
struct DocSource {
  std::string kind;
  std::filesystem::path root;
};

struct DocHit {
  std::string doc;      // "sysctl.conf(5)", "docs/tuning.md", "data/signatures/nvidia_xid.toml"
  std::string section;  // "DESCRIPTION", "Rollback", "nvidia-xid-79"
  std::string title;    // the page's or entry's one-line title
  std::string snippet;  // a few lines around the best match, plain text
  std::string path;     // the file it came from
  double score = 0;
};

struct UpdateStats {
  std::size_t files_seen = 0;
  std::size_t files_indexed = 0;  // new or changed
  std::size_t files_removed = 0;
  std::size_t files_skipped = 0;  // over 4 MiB, unreadable, or man page redirects (.so)
  std::size_t sections = 0;       // sections (Xapian documents) added
  double seconds = 0;
};

class DocIndex {
 public:
  // Opens (creating when missing) the index in `dir`. kCorrupt with what to do when the
  // directory holds something that is not a readable index. When another DocIndex (in this
  // or another process) has it open, this one is read-only: search() works, update() fails
  // with kUnavailable.
  static Result<DocIndex> open(const std::filesystem::path& dir);
  // Opens an index that exists for searching only, never taking the write lock (a daemon
  // reading the index `aion ask --reindex` keeps up to date). kNotFound when there is none.
  static Result<DocIndex> open_read_only(const std::filesystem::path& dir);
  DocIndex(DocIndex&&) noexcept;
  DocIndex& operator=(DocIndex&&) noexcept;
  ~DocIndex();

  // Brings the index up to date with `sources`: afterwards it holds exactly the files they
  // hold now. A file whose size and mtime are those recorded is not read; a new or changed
  // one is (re)indexed; one no longer found (deleted, grown over 4 MiB, or under a source no
  // longer listed) is dropped. A file that cannot be read or parsed is skipped, not an
  // error (a catalog that is not valid TOML is indexed as plain text). A section longer
  // than 64 KiB is indexed in parts of at most 64 KiB, each citing the section. Changes are
  // committed in batches of a few thousand sections, so an update that fails part way
  // leaves a consistent index that the next update completes.
  // `progress(done, total)` is called as files are examined (may be empty). Errors:
  // kUnavailable when this DocIndex is read-only; kCorrupt or kIo (naming the directory and
  // what to do) when Xapian cannot write the index.
  Result<UpdateStats> update(const std::vector<DocSource>& sources,
                             const std::function<void(std::size_t, std::size_t)>& progress = {});
  // The best `limit` sections for a free-text query (stemmed English, any word may match,
  // common English words ignored, a page's title and section names weigh more than its
  // body), best first, at most two sections of one document. A query that is empty or only
  // common words gives no hits, not an error.
  Result<std::vector<DocHit>> search(std::string_view query, std::size_t limit = 5) const;
  // Sections in the index.
  std::size_t size() const;

 private:
  struct Impl;
  explicit DocIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The sources a node has: the man pages under host root's /usr/share/man (and
// /usr/local/share/man), aion's docs and the catalogs of its data directory (signatures,
// playbooks, profiles, environment and hardware tables).
std::vector<DocSource> default_sources(const std::filesystem::path& host_root,
                                       const std::filesystem::path& docs_dir,
                                       const std::filesystem::path& data_dir);

}  // namespace aion::copilot
