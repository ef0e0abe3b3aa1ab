// How big the stress tests run. Under AddressSanitizer every allocation and memory access
// costs several times more, and the suite runs on the same two cores as the release one: the
// stress tests (ten million samples, a flood of 200,000 log lines, ten thousand bad requests)
// run at a tenth of their size there. The release suite checks the stated scale; the
// sanitizer suite checks that the same code paths are memory-safe, which a tenth shows as
// well. Constants only; thread-safe.
#pragma once

namespace aion::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr int kStressDivisor = 10;
#else
inline constexpr int kStressDivisor = 1;
#endif

}  // namespace aion::testing
