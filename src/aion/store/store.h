// Store: the daemon's shared handle on the state database. Thread-safe: with(), backup_to()
// and path() (fixed at construction) may be called from any thread.
//
// One connection behind a mutex: with() runs a function on the Database while holding it, so
// transactions and the statement cache are never used by two threads at once, and a
// transaction begun inside with() must end inside the same call. Writers therefore take
// turns; keep the functions short (no network or child-process waits inside).
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "aion/store/database.h"

namespace aion::store {

class Store {
 public:
  explicit Store(std::unique_ptr<Database> db) : db_(std::move(db)) {}

  template <class F>
  auto with(F&& f) {
    std::lock_guard lock(mu_);
    return std::forward<F>(f)(*db_);
  }

  // Database::backup_to for the whole store. A file database is copied through a connection
  // of its own, so other threads keep using the store while the copy runs.
  Status backup_to(const std::filesystem::path& dest, bool overwrite = false);
  Status backup_to(const std::filesystem::path& dest, const BackupOptions& options);

  const std::filesystem::path& path() const { return db_->path(); }

 private:
  std::mutex mu_;  // guards every use of *db_ (its connection, statements, transactions)
  std::unique_ptr<Database> db_;
};

}  // namespace aion::store
