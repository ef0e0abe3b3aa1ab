#include "aion/store/store.h"

namespace aion::store {

Status Store::backup_to(const std::filesystem::path& dest, bool overwrite) {
  return backup_to(dest, BackupOptions{.overwrite = overwrite});
}

Status Store::backup_to(const std::filesystem::path& dest, const BackupOptions& options) {
  // path() never changes, so reading it needs no lock.
  if (path() == ":memory:") {
    return with([&](Database& db) { return db.backup_to(dest, options); });
  }
  // A read-only connection of its own: WAL lets it copy a snapshot while the store's
  // connection keeps writing. The file was checked when the store opened it.
  auto source = Database::open({.path = path(), .read_only = true, .check_integrity = false});
  if (!source) return std::unexpected(source.error().context("backing up the state database"));
  return (*source)->backup_to(dest, options);
}

}  // namespace aion::store
