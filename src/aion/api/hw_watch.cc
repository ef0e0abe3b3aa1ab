#include "aion/api/hw_watch.h"

#include <spdlog/spdlog.h>

#include "aion/core/clock.h"
#include "aion/core/json.h"
#include "aion/hw/inventory_json.h"

namespace aion::api {
namespace {

constexpr store::Migration kMigrations[] = {
    {"hw", 1, "create hw_snapshots",
     "CREATE TABLE hw_snapshots (id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL,"
     " inventory TEXT NOT NULL)"},
};

}  // namespace

HwWatch::HwWatch(store::Store& store, store::EventLog& events, HostFs fs,
                 hw::DiscoveryOptions options)
    : store_(store), events_(events), fs_(std::move(fs)), options_(std::move(options)) {}

HwWatch::~HwWatch() {
  stop();
}

std::span<const store::Migration> HwWatch::migrations() {
  return kMigrations;
}

Result<std::string> HwWatch::latest_json() {
  return store_.with([&](store::Database& db) -> Result<std::string> {
    auto st = db.prepare("SELECT time_ms, inventory FROM hw_snapshots ORDER BY id DESC LIMIT 1");
    if (!st) return std::unexpected(st.error());
    auto row = (*st)->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return fail(ErrorCode::kNotFound, "no hardware snapshot stored yet");
    std::int64_t ms = (*st)->column_int(0);
    std::string inv = (*st)->column_text(1);
    (*st)->reset();
    Json j = {{"time", format_rfc3339(Clock::Wall(std::chrono::milliseconds(ms)))},
              {"time_ms", ms},
              {"inventory", Json::parse(inv, nullptr, false)}};
    return j.dump();
  });
}

Result<std::vector<hw::HwChange>> HwWatch::check() {
  std::lock_guard lock(check_mu_);
  hw::Inventory now = hw::discover(fs_, options_);
  std::vector<hw::HwChange> changes;
  bool first = false;
  auto previous = latest_json();
  if (!previous) {
    if (previous.error().code() != ErrorCode::kNotFound) return std::unexpected(previous.error());
    first = true;
  } else {
    Json j = Json::parse(*previous, nullptr, false);
    auto before = hw::inventory_from_json(j.is_object() ? j["inventory"].dump() : "");
    if (before) {
      changes = hw::diff(*before, now);
    } else {
      spdlog::warn("event=hw_snapshot_unreadable reason=\"{}\"", before.error().message());
      first = true;
    }
  }
  for (const auto& c : changes) {
    Json data = {{"device", c.device}};
    events_.record({.kind = "hw_change",
                    .severity = c.severity,
                    .source = "hw",
                    .message = c.message,
                    .data_json = data.dump()});
    spdlog::log(c.severity == "info" ? spdlog::level::info : spdlog::level::warn,
                "event=hw_change severity={} device={} message=\"{}\"", c.severity, c.device,
                c.message);
  }
  for (const auto& w : now.warnings)
    spdlog::warn("event=hw_warning device={} message=\"{}\"", w.device, w.message);
  if (first || !changes.empty()) {
    std::string text = hw::to_json(now, -1);
    auto st = store_.with([&](store::Database& db) -> Status {
      auto ins = db.prepare("INSERT INTO hw_snapshots(time_ms, inventory) VALUES (?1, ?2)");
      if (!ins) return std::unexpected(ins.error());
      (*ins)->bind(1, to_unix_ms(Clock::system().wall())).bind(2, text);
      if (auto r = (*ins)->run(); !r) return r;
      // Keep the last 100 snapshots.
      return db.exec(
          "DELETE FROM hw_snapshots WHERE id <= (SELECT max(id) - 100 FROM hw_snapshots)");
    });
    if (!st) return std::unexpected(st.error());
  }
  spdlog::info("event=hw_checked accelerators={} nics={} changes={} warnings={}",
               now.accelerators.size(), now.nics.size(), changes.size(), now.warnings.size());
  return changes;
}

void HwWatch::start(std::chrono::seconds interval) {
  if (interval.count() <= 0 || thread_.joinable()) return;
  thread_ = std::thread([this, interval] {
    std::unique_lock lock(wait_mu_);
    while (!wake_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      if (auto r = check(); !r)
        spdlog::error("event=hw_check_failed reason=\"{}\"", r.error().message());
      lock.lock();
    }
  });
}

void HwWatch::stop() {
  {
    std::lock_guard lock(wait_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void add_hw_routes(Router& router, HwWatch& watch) {
  router.add({"GET", "/v1/hw/snapshot", Role::kViewer,
              "The newest stored hardware snapshot (what aion hw diff compares with)",
              [&watch](Request&) {
                auto j = watch.latest_json();
                if (!j) return Response::from_error(j.error());
                return Response::json_text(200, *j);
              }});
  router.add(
      {"POST", "/v1/hw/rescan", Role::kOperator,
       "Discover the hardware now; changes become hw_change events", [&watch](Request&) {
         auto changes = watch.check();
         if (!changes) return Response::from_error(changes.error());
         Json out = Json::array();
         for (const auto& c : *changes) {
           out.push_back({{"severity", c.severity}, {"device", c.device}, {"message", c.message}});
         }
         return Response::json_text(200, Json{{"changes", out}}.dump());
       }});
}

}  // namespace aion::api
