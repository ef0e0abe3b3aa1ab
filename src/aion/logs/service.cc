#include "aion/logs/service.h"

#include <time.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "aion/core/json.h"
#include "aion/core/paths.h"
#include "aion/logs/file_tail.h"
#include "aion/logs/journal.h"
#include "aion/logs/kmsg.h"

namespace aion::logs {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kBatch = 2048;  // records per source per poll

std::int64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

Status write_atomic(const fs::path& file, const std::string& text) {
  fs::path tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return std::unexpected(errno_error(errno, "writing " + tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) return fail(ErrorCode::kIo, "renaming " + tmp.string() + ": " + ec.message());
  return {};
}

// A line with nothing but blanks (and the masks' placeholder byte, which input never keeps).
bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
           c == kPlaceholder;
  });
}

}  // namespace

ConfigSchema logs_config_schema() {
  ConfigSchema s;
  s.boolean("logs.enabled", true, "Read and mine the node's logs (kernel, journal, files)")
      .boolean("logs.kmsg", true, "Read the kernel log from /dev/kmsg (resumes by sequence number)")
      .boolean("logs.journal", true, "Read the systemd journal (resumes from a saved cursor)")
      .strings("logs.files", {}, "Log files to follow, absolute host paths (rotation is handled)")
      .string("logs.state_dir", "",
              "Where templates.json and cursors.json are kept (default: <state_dir>/logs)")
      .string("logs.masks", "", "Variable-masking rules (default: <data dir>/logs/masks.toml)")
      .integer("logs.poll_interval_ms", 1000, "Milliseconds between reads of idle sources", 10,
               60000)
      .integer("logs.save_interval_s", 60,
               "Seconds between saves of templates and read positions: at most this much is "
               "read again after a crash",
               1, 3600)
      .integer("logs.recent_lines", 1000, "Parsed lines kept in memory for /v1/logs/recent", 0,
               1000000)
      .integer("logs.max_template_events_per_min", 30,
               "At most this many `log_template` events a minute; the rest are counted in one", 0,
               100000)
      .number("logs.similarity", 0.6,
              "Share (0-1) of a template's constant words a line must share to join it");
  return s;
}

std::string_view to_string(LineOrigin origin) {
  switch (origin) {
    case LineOrigin::kKernel: return "kernel";
    case LineOrigin::kJournal: return "journal";
    case LineOrigin::kFile: return "file";
    case LineOrigin::kUser: break;
  }
  return "user";
}

Result<LogOptions> logs_options(const Config& c, const fs::path& state_dir, const HostFs& fs) {
  LogOptions o;
  o.enabled = c.get_bool("logs.enabled");
  o.kmsg = c.get_bool("logs.kmsg");
  o.journal = c.get_bool("logs.journal");
  o.files = c.get_strings("logs.files");
  for (const auto& f : o.files) {
    if (f.empty() || f.front() != '/') {
      return fail(ErrorCode::kConfig,
                  c.source() + ": logs.files: expected absolute paths, found '" + f + "'");
    }
  }
  std::string dir = c.get_string("logs.state_dir");
  o.state_dir = dir.empty() ? state_dir / "logs" : fs::path(dir);
  std::string masks = c.get_string("logs.masks");
  o.masks_file = masks.empty() ? data_dir() / "logs" / "masks.toml" : fs::path(masks);
  o.poll_interval = std::chrono::milliseconds(c.get_int("logs.poll_interval_ms"));
  o.save_interval = std::chrono::seconds(c.get_int("logs.save_interval_s"));
  o.recent_lines = static_cast<std::size_t>(c.get_int("logs.recent_lines"));
  o.max_template_events_per_min = static_cast<int>(c.get_int("logs.max_template_events_per_min"));
  o.miner.similarity = c.get_double("logs.similarity");
  if (o.miner.similarity <= 0 || o.miner.similarity > 1) {
    return fail(ErrorCode::kConfig, c.source() + ": logs.similarity: expected a number in (0, 1]");
  }
  if (!fs.is_live()) {
    // A recorded machine: its own journal files, never the live one.
    if (fs.is_dir("/var/log/journal")) {
      o.journal_dir = fs.resolve("/var/log/journal");
    } else {
      o.journal = false;
    }
  }
  return o;
}

struct LogService::Sources {
  std::unique_ptr<KmsgReader> kmsg;
  std::unique_ptr<JournalReader> journal;
  std::vector<std::unique_ptr<FileTail>> files;
  // Positions as of the lines given to the miner (guarded by mu_).
  std::optional<std::uint64_t> kmsg_seq;
  std::string boot_id;        // this boot's /proc/sys/kernel/random/boot_id
  std::string saved_boot_id;  // the boot kmsg_seq was saved in
  std::uint64_t kmsg_missed_reported = 0;
  std::string journal_cursor;
  std::map<std::string, FileCursor> file_cursors;
  std::vector<std::string> open;
  // The readers' counters as of the last poll, for stats() (guarded by mu_): the readers
  // themselves are the reader thread's, which updates them without the lock.
  std::uint64_t kmsg_missed = 0, kmsg_malformed = 0;
  std::uint64_t file_rotations = 0, file_truncations = 0, file_oversized = 0;

  // Copies the readers' counters; with mu_ held, after a read and before its lines go out.
  void note_counters() {
    kmsg_missed = kmsg ? kmsg->missed() : 0;
    kmsg_malformed = kmsg ? kmsg->malformed() : 0;
    file_rotations = file_truncations = file_oversized = 0;
    for (const auto& f : files) {
      file_rotations += f->rotations();
      file_truncations += f->truncations();
      file_oversized += f->oversized();
    }
  }
};

LogService::LogService(LogOptions options, HostFs fs, EventSink events, const Clock& clock)
    : options_(std::move(options)),
      fs_(std::move(fs)),
      events_(std::move(events)),
      clock_(clock),
      sources_(std::make_unique<Sources>()) {}

LogService::~LogService() {
  stop();
}

void LogService::on_line(LineHook hook) {
  hooks_.push_back(std::move(hook));
}

Status LogService::start() {
  if (!options_.enabled) return {};
  auto masks = MaskSet::load(options_.masks_file);
  if (!masks) return std::unexpected(masks.error());
  std::lock_guard start_lock(mu_);
  miner_ = std::make_unique<TemplateMiner>(std::move(*masks), options_.miner);
  std::error_code ec;
  fs::create_directories(options_.state_dir, ec);
  if (ec) {
    return fail(ErrorCode::kIo, "creating " + options_.state_dir.string() + ": " + ec.message());
  }
  if (auto st = miner_->load(options_.state_dir / "templates.json");
      !st && st.error().code() != ErrorCode::kNotFound) {
    return st;
  }
  // Read positions saved with those templates.
  Sources& s = *sources_;
  {
    std::ifstream in(options_.state_dir / "cursors.json");
    std::stringstream ss;
    ss << in.rdbuf();
    Json j = Json::parse(ss.str(), nullptr, false);
    if (j.is_object()) {
      if (j.contains("kmsg_seq") && j["kmsg_seq"].is_number_unsigned()) {
        s.kmsg_seq = j["kmsg_seq"].get<std::uint64_t>();
      }
      if (j.contains("boot_id") && j["boot_id"].is_string()) {
        s.saved_boot_id = j["boot_id"].get<std::string>();
      }
      s.journal_cursor = j.value("journal", "");
      const Json& files = j["files"];
      if (files.is_object()) {
        for (auto it = files.begin(); it != files.end(); ++it) {
          s.file_cursors[it.key()] = {it->value("inode", std::uint64_t{0}),
                                      it->value("offset", std::uint64_t{0})};
        }
      }
    }
  }
  boot_wall_ms_ = to_unix_ms(clock_.wall()) - monotonic_ms();
  // Kernel sequence numbers start again at every boot: a number saved in another boot would
  // skip the new boot's first records (those of the fault that made someone reboot).
  if (auto boot = fs_.read_attr("/proc/sys/kernel/random/boot_id")) s.boot_id = *boot;
  if (s.kmsg_seq && !s.saved_boot_id.empty() && s.saved_boot_id != s.boot_id) {
    spdlog::info("event=kmsg_new_boot saved_seq={} reading=\"the new boot's ring buffer\"",
                 *s.kmsg_seq);
    s.kmsg_seq.reset();
  }
  if (options_.kmsg) {
    auto k = std::make_unique<KmsgReader>(fs_);
    if (auto st = k->open(s.kmsg_seq); st) {
      s.kmsg = std::move(k);
      s.open.push_back("kmsg");
    } else {
      spdlog::warn("event=log_source_unavailable source=kmsg reason=\"{}\"", st.error().message());
    }
  }
  if (options_.journal) {
    auto j = JournalReader::open(s.journal_cursor, options_.journal_dir, s.kmsg != nullptr);
    if (j) {
      s.journal = std::move(*j);
      s.open.push_back("journal");
    } else {
      spdlog::warn("event=log_source_unavailable source=journal reason=\"{}\"",
                   j.error().message());
    }
  }
  for (const auto& f : options_.files) {
    std::optional<FileCursor> resume;
    if (auto it = s.file_cursors.find(f); it != s.file_cursors.end()) resume = it->second;
    s.files.push_back(std::make_unique<FileTail>(fs_, f, resume));
    s.open.push_back(f);
  }
  spdlog::info("event=logs_started sources=\"{}\" templates={}", fmt::join(s.open, ","),
               miner_->size());
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
  return {};
}

void LogService::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(wake_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (auto st = save(); !st) {
    spdlog::error("event=logs_save_failed reason=\"{}\"", st.error().message());
  }
}

void LogService::loop() {
  auto last_save = std::chrono::steady_clock::now();
  while (true) {
    bool busy = poll_once();
    if (std::chrono::steady_clock::now() - last_save >= options_.save_interval) {
      if (auto st = save(); !st) {
        spdlog::error("event=logs_save_failed reason=\"{}\"", st.error().message());
      }
      last_save = std::chrono::steady_clock::now();
    }
    std::unique_lock lock(wake_mu_);
    if (stopping_) return;
    if (!busy) wake_.wait_for(lock, options_.poll_interval, [this] { return stopping_; });
    if (stopping_) return;
  }
}

bool LogService::poll_once() {
  Sources& s = *sources_;
  bool busy = false;
  if (s.kmsg) {
    auto records = s.kmsg->read(kBatch);
    if (!records) {
      spdlog::error("event=log_source_failed source=kmsg reason=\"{}\"", records.error().message());
      std::lock_guard lock(mu_);
      s.kmsg.reset();
      s.note_counters();
    } else {
      {
        std::lock_guard lock(mu_);
        s.note_counters();
      }
      busy = busy || records->size() >= kBatch;
      for (auto& r : *records) {
        LogLine who;
        who.origin = r.facility == 0 ? LineOrigin::kKernel : LineOrigin::kUser;
        who.transport = r.facility == 0 ? "kernel" : "kmsg";
        ingest("kmsg", r.message, boot_wall_ms_ + static_cast<std::int64_t>(r.ts_usec / 1000),
               r.priority, {}, who);
        std::lock_guard lock(mu_);
        s.kmsg_seq = r.seq;
      }
      std::uint64_t missed = s.kmsg->missed();
      if (missed > s.kmsg_missed_reported) {
        std::uint64_t lost = missed - s.kmsg_missed_reported;
        s.kmsg_missed_reported = missed;
        if (events_) {
          events_("log_gap", "warning",
                  "kmsg: " + std::to_string(lost) +
                      " kernel log records were overwritten before aiond could read them",
                  Json{{"source", "kmsg"}, {"missed", lost}, {"missed_total", missed}}.dump());
        }
      }
    }
  }
  if (s.journal) {
    auto entries = s.journal->read(kBatch);
    if (!entries) {
      spdlog::error("event=log_source_failed source=journal reason=\"{}\"",
                    entries.error().message());
      std::lock_guard lock(mu_);
      s.journal.reset();
    } else {
      busy = busy || entries->size() >= kBatch;
      for (auto& e : *entries) {
        LogLine who;
        who.origin = e.transport == "kernel" ? LineOrigin::kKernel : LineOrigin::kJournal;
        who.transport = e.transport;
        who.uid = e.uid;
        who.pid = e.pid;
        ingest("journal", e.message, e.time_ms, e.priority, e.unit.empty() ? e.identifier : e.unit,
               who);
        std::lock_guard lock(mu_);
        s.journal_cursor = e.cursor;
      }
      std::lock_guard lock(mu_);
      if (!s.journal->cursor().empty()) s.journal_cursor = s.journal->cursor();
    }
  }
  for (auto& f : s.files) {
    auto lines = f->poll(kBatch);
    {
      std::lock_guard lock(mu_);
      s.note_counters();
    }
    if (!lines) continue;
    busy = busy || lines->size() >= kBatch;
    std::int64_t now = to_unix_ms(clock_.wall());
    LogLine who;
    who.origin = LineOrigin::kFile;
    for (auto& l : *lines) ingest(f->path(), l, now, 6, {}, who);
    std::lock_guard lock(mu_);
    s.file_cursors[f->path()] = f->cursor();
  }
  return busy;
}

LogLine LogService::ingest(std::string_view source, std::string_view content, std::int64_t time_ms,
                           int priority, std::string_view unit, const LogLine& who) {
  LogLine line;
  line.origin = who.origin;
  line.transport = who.transport;
  line.uid = who.uid;
  line.pid = who.pid;
  line.source = std::string(source);
  line.time_ms = time_ms;
  line.priority = priority;
  line.unit = std::string(unit);
  line.content = std::string(content);
  std::string announce, announce_data;
  if (blank(content)) {
    // Nothing to mine (template 0). Mined, it would make an empty template that the miner's
    // own load() rejects as corrupt, and aiond would not start again with that state.
    {
      std::lock_guard lock(mu_);
      if (!miner_) return line;
      ++blank_lines_;
      if (options_.recent_lines > 0) {
        recent_.push_back(line);
        while (recent_.size() > options_.recent_lines) recent_.pop_front();
      }
    }
    for (const auto& h : hooks_) h(line);
    return line;
  }
  {
    std::lock_guard lock(mu_);
    if (!miner_) return line;
    ParsedLine p = miner_->add(content, time_ms, source);
    line.template_id = p.template_id;
    line.template_text = std::move(p.template_text);
    line.params = std::move(p.params);
    line.new_template = p.new_template;
    if (options_.recent_lines > 0) {
      recent_.push_back(line);
      while (recent_.size() > options_.recent_lines) recent_.pop_front();
    }
    if (line.new_template) {
      std::int64_t now = to_unix_ms(clock_.wall());
      if (now - event_window_start_ms_ >= 60'000) {
        if (suppressed_events_ > 0) {
          announce = std::to_string(suppressed_events_) +
                     " more log templates were seen for the first time (aion logs templates)";
          announce_data = Json{{"suppressed", suppressed_events_}}.dump();
        }
        event_window_start_ms_ = now;
        events_in_window_ = 0;
        suppressed_events_ = 0;
      }
      if (events_in_window_ < options_.max_template_events_per_min) {
        ++events_in_window_;
        if (events_ && !announce.empty()) events_("log_template", "info", announce, announce_data);
        announce = "first time seen: " + line.template_text;
        // The origin travels with the event so that the API shows it only to whom may read
        // the line itself (see api/visibility.h).
        announce_data = Json{{"template_id", line.template_id},
                             {"template", line.template_text},
                             {"source", line.source},
                             {"origin", to_string(line.origin)},
                             {"uid", line.uid},
                             {"example", line.content.substr(0, 1024)}}
                            .dump(-1, ' ', false, Json::error_handler_t::replace);
      } else {
        ++suppressed_events_;
      }
    }
  }
  if (events_ && !announce.empty()) events_("log_template", "info", announce, announce_data);
  for (const auto& h : hooks_) h(line);
  return line;
}

std::vector<Template> LogService::templates() const {
  std::lock_guard lock(mu_);
  return miner_ ? miner_->templates() : std::vector<Template>{};
}

std::vector<LogLine> LogService::recent(std::size_t limit) const {
  std::lock_guard lock(mu_);
  std::size_t n = std::min(limit, recent_.size());
  return std::vector<LogLine>(recent_.end() - static_cast<std::ptrdiff_t>(n), recent_.end());
}

LogStats LogService::stats() const {
  std::lock_guard lock(mu_);
  LogStats st;
  if (miner_) {
    st.lines = miner_->lines();
    st.templates = miner_->size();
  }
  const Sources& s = *sources_;
  st.sources = s.open;
  st.kmsg_missed = s.kmsg_missed;
  st.kmsg_malformed = s.kmsg_malformed;
  st.file_rotations = s.file_rotations;
  st.file_truncations = s.file_truncations;
  st.file_oversized = s.file_oversized;
  st.blank_lines = blank_lines_;
  return st;
}

Status LogService::save() const {
  std::lock_guard lock(mu_);
  if (!miner_ || !options_.enabled) return {};
  if (auto st = miner_->save(options_.state_dir / "templates.json"); !st) return st;
  const Sources& s = *sources_;
  Json files = Json::object();
  for (const auto& [path, c] : s.file_cursors)
    files[path] = {{"inode", c.inode}, {"offset", c.offset}};
  Json j{{"schema_version", 1}, {"journal", s.journal_cursor}, {"files", std::move(files)}};
  j["kmsg_seq"] = s.kmsg_seq ? Json(*s.kmsg_seq) : Json(nullptr);
  if (!s.boot_id.empty()) j["boot_id"] = s.boot_id;
  return write_atomic(options_.state_dir / "cursors.json", j.dump(2));
}

}  // namespace aion::logs
