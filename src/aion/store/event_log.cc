#include "aion/store/event_log.h"

#include <spdlog/spdlog.h>

namespace aion::store {
namespace {

constexpr Migration kMigrations[] = {
    {"events", 1, "create events",
     "CREATE TABLE events ("
     " id INTEGER PRIMARY KEY AUTOINCREMENT,"
     " time_ms INTEGER NOT NULL,"
     " kind TEXT NOT NULL,"
     " severity TEXT NOT NULL,"
     " source TEXT NOT NULL,"
     " message TEXT NOT NULL,"
     " data TEXT NOT NULL DEFAULT '{}');"
     "CREATE INDEX events_kind ON events(kind, id);"},
};

}  // namespace

EventLog::EventLog(Store& store, const Clock& clock) : store_(store), clock_(clock) {}

std::span<const Migration> EventLog::migrations() {
  return kMigrations;
}

Status EventLog::load() {
  return store_.with([&](Database& db) -> Status {
    auto st = db.prepare("SELECT coalesce(max(id), 0) FROM events");
    if (!st) return std::unexpected(st.error());
    auto row = (*st)->step();
    if (!row) return std::unexpected(row.error());
    last_id_ = (*st)->column_int(0);
    (*st)->reset();
    return {};
  });
}

Result<std::int64_t> EventLog::append(Event e) {
  if (e.time_ms == 0) e.time_ms = to_unix_ms(clock_.wall());
  return store_.with([&](Database& db) -> Result<std::int64_t> {
    auto st = db.prepare(
        "INSERT INTO events(time_ms, kind, severity, source, message, data) VALUES (?1, ?2, ?3, "
        "?4, ?5, ?6)");
    if (!st) return std::unexpected(st.error());
    (*st)
        ->bind(1, e.time_ms)
        .bind(2, e.kind)
        .bind(3, e.severity)
        .bind(4, e.source)
        .bind(5, e.message)
        .bind(6, e.data_json);
    if (auto r = (*st)->run(); !r) return std::unexpected(r.error());
    std::int64_t id = db.last_insert_rowid();
    last_id_.store(id, std::memory_order_release);
    return id;
  });
}

void EventLog::record(Event e) {
  std::string kind = e.kind;
  if (auto id = append(std::move(e)); !id) {
    spdlog::warn("event=event_not_recorded kind={} error=\"{}\"", kind, id.error().message());
  }
}

Result<std::int64_t> EventLog::prune(const Retention& retention, std::int64_t now_ms) {
  auto gone =
      store::prune(store_, {.table = "events", .time_column = "time_ms"}, retention, now_ms);
  if (!gone) return std::unexpected(gone.error());
  return static_cast<std::int64_t>(gone->size());
}

Result<std::vector<Event>> EventLog::list(const EventQuery& q) {
  return store_.with([&](Database& db) -> Result<std::vector<Event>> {
    // A cursor pages forward; no cursor reads the tail.
    auto st = q.since_id
                  ? db.prepare(
                        "SELECT id, time_ms, kind, severity, source, message, data FROM events"
                        " WHERE id > ?1 AND (?2 = '' OR kind = ?2) ORDER BY id LIMIT ?3")
                  : db.prepare(
                        "SELECT id, time_ms, kind, severity, source, message, data FROM ("
                        " SELECT * FROM events WHERE id > ?1 AND (?2 = '' OR kind = ?2)"
                        " ORDER BY id DESC LIMIT ?3) ORDER BY id");
    if (!st) return std::unexpected(st.error());
    (*st)->bind(1, q.since_id.value_or(0)).bind(2, q.kind).bind(3, q.limit);
    std::vector<Event> out;
    Result<bool> row;
    while ((row = (*st)->step()) && *row) {
      Event e;
      e.id = (*st)->column_int(0);
      e.time_ms = (*st)->column_int(1);
      e.kind = (*st)->column_text(2);
      e.severity = (*st)->column_text(3);
      e.source = (*st)->column_text(4);
      e.message = (*st)->column_text(5);
      e.data_json = (*st)->column_text(6);
      out.push_back(std::move(e));
    }
    (*st)->reset();
    if (!row) return std::unexpected(row.error());
    return out;
  });
}

}  // namespace aion::store
