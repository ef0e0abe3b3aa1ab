// Property: on random texts with planted secrets and personal data, the redacted text never
// contains a planted value and restoring it gives back the input exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <random>

#include "aion/privacy/redactor.h"

namespace aion::privacy {
namespace {

std::string pick(std::mt19937& rng, std::string_view alphabet, int n) {
  std::string s;
  std::uniform_int_distribution<std::size_t> d(0, alphabet.size() - 1);
  for (int i = 0; i < n; ++i) s += alphabet[d(rng)];
  return s;
}

constexpr std::string_view kAlnum =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kHex = "0123456789abcdef";

std::string luhn_card(std::mt19937& rng) {
  std::string d = "4" + pick(rng, "0123456789", 14);
  for (char c = '0'; c <= '9'; ++c) {
    std::string t = d + c;
    int sum = 0;
    bool dbl = false;
    for (auto it = t.rbegin(); it != t.rend(); ++it) {
      int v = *it - '0';
      if (dbl && (v *= 2) > 9) v -= 9;
      sum += v;
      dbl = !dbl;
    }
    if (sum % 10 == 0) return t;
  }
  return d;
}

// Planted values and the context each needs.
std::pair<std::string, std::string> plant(std::mt19937& rng) {
  switch (std::uniform_int_distribution<int>(0, 9)(rng)) {
    case 0: {
      auto v = "ghp_" + pick(rng, kAlnum, 36);
      return {"token " + v, v};
    }
    case 1: {
      auto v = "AKIA" + pick(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16);
      return {v, v};
    }
    case 2: {
      auto v = pick(rng, "abcdefghijklmnopqrstuvwxyz", 6) + "@example.net";
      return {"mail " + v, v};
    }
    case 3: {
      auto v = "10." + std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) + "." +
               std::to_string(1 + rng() % 254);
      return {"from " + v + " port", v};
    }
    case 4: {
      auto v = "hf_" + pick(rng, kAlnum, 34);
      return {"HF_TOKEN=" + v, v};
    }
    case 5: {
      auto v = luhn_card(rng);
      return {"card " + v, v};
    }
    case 6: {
      auto v = "sk_live_" + pick(rng, kAlnum, 24);
      return {"stripe " + v, v};
    }
    case 7: {
      auto v = pick(rng, kHex, 40);
      return {"WANDB_API_KEY=" + v, v};
    }
    case 8: {
      auto v = "Pw" + pick(rng, kAlnum, 10);
      return {"password=" + v, v};
    }
    default: {
      auto v = "node" + std::to_string(rng() % 100) + ".dc1.example.org";
      return {"ssh to " + v, v};
    }
  }
}

std::string filler(std::mt19937& rng) {
  static constexpr std::string_view kWords[] = {"the",
                                                "job",
                                                "<",
                                                ">",
                                                "<EMAIL_1>",
                                                "<IP_",
                                                "1>",
                                                "step",
                                                "loss=0.25",
                                                "\n",
                                                "\t",
                                                "::",
                                                "0000:3b:00.0",
                                                "v1.2.3",
                                                "sha256:",
                                                "{",
                                                "}",
                                                "\"",
                                                "'",
                                                "=",
                                                ":",
                                                "@",
                                                "/home/",
                                                "-p",
                                                "\r\n",
                                                "é",
                                                "\xff"};
  std::string s;
  const int n = std::uniform_int_distribution<int>(0, 4)(rng);
  for (int i = 0; i < n; ++i) {
    s += kWords[rng() % std::size(kWords)];
    s += ' ';
  }
  return s;
}

TEST(Property, RedactedTextHoldsNoPlantedValueAndRestoresExactly) {
  auto set = DetectorSet::load_dir(std::filesystem::path(AION_SOURCE_DIR) / "data/privacy");
  ASSERT_TRUE(set.has_value()) << set.error().message();
  auto r = Redactor::create(std::move(*set), Policy{});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  std::mt19937 rng(20261206);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string text;
    std::vector<std::string> planted;
    const int k = std::uniform_int_distribution<int>(1, 5)(rng);
    for (int i = 0; i < k; ++i) {
      text += filler(rng);
      auto [ctx, value] = plant(rng);
      text += ctx;
      planted.push_back(value);
      text += (rng() % 3 == 0) ? "\n" : " ";
    }
    text += filler(rng);
    PlaceholderMap map;
    auto out = r->redact(text, map);
    for (const auto& v : planted) {
      ASSERT_EQ(out.text.find(v), std::string::npos) << "planted '" << v << "' survived in:\n"
                                                     << text << "\n->\n"
                                                     << out.text;
    }
    ASSERT_EQ(map.restore(out.text), text) << "restore differs for:\n" << text;
    ASSERT_EQ(std::count(out.text.begin(), out.text.end(), '\n'),
              std::count(text.begin(), text.end(), '\n'));
  }
}

}  // namespace
}  // namespace aion::privacy
