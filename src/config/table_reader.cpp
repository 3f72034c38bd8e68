#include "table_reader.hpp"

#include <algorithm>
#include <limits>

#include "daneroll/common/duration.hpp"
#include "daneroll/common/error.hpp"

namespace daneroll::config {

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1);
    std::vector<std::size_t> cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        prev[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a number";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::table:
            return "a table";
        default:
            return "a date/time";
    }
}

}  // namespace

std::string location(const std::string& source, const toml::source_region& region) {
    if (region.begin.line == 0) {
        return source + ": ";
    }
    return source + ":" + std::to_string(region.begin.line) + ":" +
           std::to_string(region.begin.column) + ": ";
}

std::optional<std::string> closest_match(std::string_view word,
                                         const std::set<std::string, std::less<>>& candidates) {
    // Typos keep the start of a word more often than its end, so on equal
    // distance the longer common prefix wins ("comb_file" -> "combined_file").
    auto common_prefix = [&](const std::string& c) {
        std::size_t n = 0;
        while (n < word.size() && n < c.size() && word[n] == c[n]) {
            ++n;
        }
        return n;
    };
    std::optional<std::string> best;
    std::size_t best_distance = std::numeric_limits<std::size_t>::max();
    std::size_t best_prefix = 0;
    for (const auto& c : candidates) {
        const std::size_t d = edit_distance(word, c);
        const std::size_t prefix = common_prefix(c);
        if (d < best_distance || (d == best_distance && prefix > best_prefix)) {
            best_distance = d;
            best_prefix = prefix;
            best = c;
        }
    }
    const std::size_t limit = std::max<std::size_t>(2, word.size() / 2);
    if (best && best_distance <= limit) {
        return best;
    }
    return std::nullopt;
}

TableReader::TableReader(const toml::table& table, std::string path, const std::string& source)
    : table_(table), path_(std::move(path)), source_(source) {}

std::string TableReader::child(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

int TableReader::line() const {
    return static_cast<int>(table_.source().begin.line);
}

void TableReader::error_at(std::string_view key, const std::string& message) const {
    const toml::node* n = table_.get(key);
    const auto& region = n != nullptr ? n->source() : table_.source();
    fail(ErrorKind::Config, location(source_, region) + child(key) + ": " + message);
}

void TableReader::error_here(const std::string& message) const {
    fail(ErrorKind::Config, location(source_, table_.source()) +
                                (path_.empty() ? std::string("top level") : path_) + ": " +
                                message);
}

const toml::node* TableReader::get(std::string_view key) {
    known_.emplace(key);
    return table_.get(key);
}

std::optional<std::string> TableReader::string(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) {
        return std::nullopt;
    }
    if (const auto* s = n->as_string()) {
        return s->get();
    }
    error_at(key, "expected a string, found " + type_name(*n));
}

std::optional<std::int64_t> TableReader::integer(std::string_view key, std::int64_t min,
                                                 std::int64_t max) {
    const toml::node* n = get(key);
    if (n == nullptr) {
        return std::nullopt;
    }
    const auto* i = n->as_integer();
    if (i == nullptr) {
        error_at(key, "expected an integer, found " + type_name(*n));
    }
    if (i->get() < min || i->get() > max) {
        error_at(key, std::to_string(i->get()) + " is out of range " + std::to_string(min) + "-" +
                          std::to_string(max));
    }
    return i->get();
}

std::optional<bool> TableReader::boolean(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) {
        return std::nullopt;
    }
    if (const auto* b = n->as_boolean()) {
        return b->get();
    }
    error_at(key, "expected true or false, found " + type_name(*n));
}

std::optional<std::vector<std::string>> TableReader::strings(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) {
        return std::nullopt;
    }
    const auto* arr = n->as_array();
    if (arr == nullptr) {
        error_at(key, "expected an array of strings, found " + type_name(*n));
    }
    std::vector<std::string> out;
    for (const auto& el : *arr) {
        const auto* s = el.as_string();
        if (s == nullptr) {
            fail(ErrorKind::Config, location(source_, el.source()) + child(key) +
                                        ": expected only strings in the array, found " +
                                        type_name(el));
        }
        out.push_back(s->get());
    }
    return out;
}

std::optional<std::chrono::seconds> TableReader::duration(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) {
        return std::nullopt;
    }
    if (const auto* i = n->as_integer()) {
        if (i->get() < 0) {
            error_at(key, "a duration cannot be negative");
        }
        return std::chrono::seconds(i->get());
    }
    if (const auto* s = n->as_string()) {
        if (auto d = parse_duration(s->get())) {
            return d;
        }
        error_at(key, "'" + s->get() +
                          "' is not a duration (examples: \"90d\", \"12h\", "
                          "\"1h30m\", \"45s\")");
    }
    error_at(key, "expected a duration such as \"30d\", found " + type_name(*n));
}

const toml::table* TableReader::table(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) {
        return nullptr;
    }
    if (const auto* t = n->as_table()) {
        return t;
    }
    error_at(key, "expected a table, found " + type_name(*n));
}

void TableReader::finish() const {
    for (const auto& [key, node] : table_) {
        if (known_.count(key.str()) != 0) {
            continue;
        }
        std::string msg = location(source_, key.source()) + child(key.str()) + ": unknown key";
        if (auto hint = closest_match(key.str(), known_)) {
            msg += "; did you mean '" + *hint + "'?";
        } else {
            std::string list;
            for (const auto& k : known_) {
                list += (list.empty() ? "" : ", ") + k;
            }
            msg += " (known keys here: " + list + ")";
        }
        fail(ErrorKind::Config, msg);
    }
}

}  // namespace daneroll::config
