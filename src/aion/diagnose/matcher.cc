#include "aion/diagnose/matcher.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>

namespace aion::diagnose {

struct Matcher::Impl {
  std::unique_ptr<RE2::Set> set;
  std::vector<std::unique_ptr<RE2>> regexes;  // by set index
  std::vector<const Signature*> owner;        // by set index
};

Matcher::Matcher() : impl_(std::make_unique<Impl>()) {}
Matcher::~Matcher() = default;

std::size_t Matcher::pattern_count() const {
  return impl_->regexes.size();
}

Result<std::unique_ptr<Matcher>> Matcher::build(const Catalog& catalog) {
  std::unique_ptr<Matcher> m(new Matcher());
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_max_mem(256 << 20);
  m->impl_->set = std::make_unique<RE2::Set>(opts, RE2::UNANCHORED);
  for (const auto& s : catalog.signatures()) {
    for (const auto& p : s.patterns) {
      std::string err;
      if (m->impl_->set->Add(p, &err) < 0) {
        return fail(ErrorCode::kCorrupt, s.file + ": " + s.id + ": bad pattern: " + err);
      }
      m->impl_->regexes.push_back(std::make_unique<RE2>(p, opts));
      m->impl_->owner.push_back(&s);
    }
  }
  if (!m->impl_->set->Compile()) {
    return fail(ErrorCode::kInternal, "the signature patterns do not fit RE2's memory budget");
  }
  return m;
}

std::vector<Hit> Matcher::match(std::string_view line) const {
  std::vector<int> idx;
  if (impl_->regexes.empty() ||
      !impl_->set->Match(re2::StringPiece(line.data(), line.size()), &idx)) {
    return {};
  }
  std::sort(idx.begin(), idx.end());
  bool specific = false;
  for (int i : idx) specific = specific || !impl_->owner[static_cast<std::size_t>(i)]->fallback;
  std::vector<Hit> hits;
  for (int i : idx) {
    const Signature* s = impl_->owner[static_cast<std::size_t>(i)];
    if (specific && s->fallback) continue;
    if (!hits.empty() && hits.back().signature == s) continue;
    Hit h{s, {}};
    const RE2& re = *impl_->regexes[static_cast<std::size_t>(i)];
    int groups = re.NumberOfCapturingGroups();
    if (groups > 0) {
      std::vector<re2::StringPiece> sub(static_cast<std::size_t>(groups) + 1);
      if (re.Match(re2::StringPiece(line.data(), line.size()), 0, line.size(), RE2::UNANCHORED,
                   sub.data(), groups + 1)) {
        for (const auto& [name, g] : re.NamedCapturingGroups()) {
          const auto& piece = sub[static_cast<std::size_t>(g)];
          if (piece.data() != nullptr && !piece.empty()) h.captures[name] = std::string(piece);
        }
      }
    }
    hits.push_back(std::move(h));
  }
  return hits;
}

}  // namespace aion::diagnose
