// Store: the daemon's shared handle on the state database. One connection behind a mutex:
// with() runs a function on the Database while holding it, so transactions and the
// statement cache are never used by two threads at once. Thread-safe.
#pragma once

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
    return f(*db_);
  }

  const std::filesystem::path& path() const { return db_->path(); }

 private:
  std::mutex mu_;
  std::unique_ptr<Database> db_;
};

}  // namespace aion::store
