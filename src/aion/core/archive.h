// TarGzWriter: a gzip-compressed tar archive (POSIX ustar), written to "<path>.partial" and
// renamed into place by finish(), so that an interrupted write never leaves a file that looks
// complete. The file is created with mode 0600 (an archive of node data is for its owner);
// an existing file at `path` is replaced only by finish(). Entries are regular files with
// names of at most 100 bytes. Not thread-safe: one writer per archive, one thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "aion/core/error.h"

namespace aion {

class TarGzWriter {
 public:
  // kIo (naming the path and the reason) when the partial file cannot be created.
  static Result<TarGzWriter> create(const std::filesystem::path& path);
  TarGzWriter(TarGzWriter&&) noexcept;
  TarGzWriter& operator=(TarGzWriter&&) = delete;
  ~TarGzWriter();  // removes the partial file when finish() was not reached

  // Adds a regular file. kInvalidArgument for an empty name, one over 100 bytes or with a
  // ".." part; kIo when writing fails.
  Status add(std::string_view name, std::string_view content, std::int64_t mtime);
  // Writes the end of the archive, flushes it to disk and renames it to the final path.
  Status finish();

 private:
  struct State;
  explicit TarGzWriter(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace aion
