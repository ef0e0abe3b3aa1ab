// Validators: pure checks run on a detector's candidate value, so that expressions can stay
// loose and fast while what is reported stays right (a Luhn-valid card, an ID whose check
// digit holds, a random-looking token, an IP address that is not a version string).
// Each takes the value, the whole text and the value's offset in it (for context checks),
// and the word lists of the DetectorSet. Stateless; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include "aion/privacy/detectors.h"

namespace aion::privacy {

struct Candidate {
  std::string_view value;
  std::string_view text;   // the text the value was found in (for context)
  std::size_t offset = 0;  // where value starts in text
};

// True when `name` is a validator validate() knows ("" included).
bool is_validator(std::string_view name);
// Runs the detector's validator on a candidate; true keeps it.
bool validate(const Detector& d, const Candidate& c, const DetectorSet& lists);

// The building blocks, exposed for tests.
bool luhn_valid(std::string_view digits);
bool cn_resident_id_valid(std::string_view id);  // 18 characters, ISO 7064 MOD 11-2
double shannon_bits_per_char(std::string_view s);
bool jwt_header_has_alg(std::string_view token);

}  // namespace aion::privacy
