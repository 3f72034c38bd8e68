// Typed, located access to one TOML table. Every key read is remembered, so
// finish() can reject any key nobody asked for, with a "did you mean" hint:
// the schema is exactly what the loader reads.
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace daneroll::config {

class TableReader {
  public:
    TableReader(const toml::table& table, std::string path, const std::string& source);

    std::optional<std::string> string(std::string_view key);
    std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max);
    std::optional<bool> boolean(std::string_view key);
    std::optional<std::vector<std::string>> strings(std::string_view key);
    // A duration: a string like "90d" / "1h30m" or an integer of seconds.
    std::optional<std::chrono::seconds> duration(std::string_view key);
    // A sub-table; nullptr if absent. A non-table value is an error.
    const toml::table* table(std::string_view key);

    // Rejects every key that was not read.
    void finish() const;

    [[nodiscard]] const std::string& path() const { return path_; }
    [[nodiscard]] std::string child(std::string_view key) const;
    [[nodiscard]] int line() const;

    [[noreturn]] void error_at(std::string_view key, const std::string& message) const;
    [[noreturn]] void error_here(const std::string& message) const;

  private:
    const toml::node* get(std::string_view key);

    const toml::table& table_;
    std::string path_;
    const std::string& source_;
    std::set<std::string, std::less<>> known_;
};

// "file:line:column: " for a source region.
std::string location(const std::string& source, const toml::source_region& region);

// The closest of `candidates` to `word` if it is plausibly a typo.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::set<std::string, std::less<>>& candidates);

}  // namespace daneroll::config
