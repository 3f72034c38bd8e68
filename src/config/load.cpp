// Reads and validates daneroll.toml. The schema is documented in
// docs/configuration.md; each reader below is the single place a key is
// interpreted.
#include <algorithm>
#include <set>
#include <sstream>

#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "daneroll/config/config.hpp"
#include "daneroll/config/tsig_key_file.hpp"
#include "daneroll/crypto/certificate.hpp"
#include "daneroll/tlsa/compute.hpp"
#include "endpoint_parse.hpp"
#include "table_reader.hpp"

namespace daneroll::config {

namespace fs = std::filesystem;

namespace {

struct Context {
    std::string source;
    fs::path base_dir;
    bool check_files = true;

    [[nodiscard]] fs::path resolve(const std::string& p) const {
        const fs::path path(p);
        return path.is_absolute() ? path : base_dir / path;
    }
};

template <typename E, std::size_t N>
E parse_enum(TableReader& r, std::string_view key,
             const std::array<std::pair<std::string_view, E>, N>& names, E fallback) {
    const auto value = r.string(key);
    if (!value) {
        return fallback;
    }
    std::string expected;
    for (const auto& [name, e] : names) {
        if (name == *value) {
            return e;
        }
        expected += (expected.empty() ? "'" : ", '") + std::string(name) + "'";
    }
    r.error_at(key, "'" + *value + "' is not one of " + expected);
}

constexpr std::array<std::pair<std::string_view, LogLevel>, 4> kLogLevels{
    {{"error", LogLevel::Error},
     {"warn", LogLevel::Warn},
     {"info", LogLevel::Info},
     {"debug", LogLevel::Debug}}};
constexpr std::array<std::pair<std::string_view, Scheme>, 2> kSchemes{
    {{"current+next", Scheme::CurrentNext}, {"current+issuer", Scheme::CurrentIssuer}}};
constexpr std::array<std::pair<std::string_view, SourceType>, 3> kSources{
    {{"acme", SourceType::Acme},
     {"certbot", SourceType::Certbot},
     {"command", SourceType::Command}}};
constexpr std::array<std::pair<std::string_view, MtaType>, 3> kMtas{
    {{"postfix", MtaType::Postfix}, {"exim", MtaType::Exim}, {"command", MtaType::Command}}};
constexpr std::array<std::pair<std::string_view, Challenge>, 2> kChallenges{
    {{"http-01", Challenge::Http01}, {"dns-01", Challenge::Dns01}}};

template <typename E, std::size_t N>
std::string_view enum_name(const std::array<std::pair<std::string_view, E>, N>& names, E v) {
    for (const auto& [name, e] : names) {
        if (e == v) {
            return name;
        }
    }
    return "?";
}

std::optional<Endpoint> endpoint(TableReader& r, std::string_view key, std::uint16_t default_port) {
    const auto text = r.string(key);
    if (!text) {
        return std::nullopt;
    }
    std::string why;
    auto ep = parse_endpoint(*text, default_port, why);
    if (!ep) {
        r.error_at(key, why);
    }
    return ep;
}

std::vector<Endpoint> endpoints(TableReader& r, std::string_view key, std::uint16_t default_port) {
    std::vector<Endpoint> out;
    const auto texts = r.strings(key);
    if (!texts) {
        return out;
    }
    for (const auto& t : *texts) {
        std::string why;
        auto ep = parse_endpoint(t, default_port, why);
        if (!ep) {
            r.error_at(key, "'" + t + "': " + why);
        }
        if (std::find(out.begin(), out.end(), *ep) != out.end()) {
            r.error_at(key, "'" + t + "' is listed twice");
        }
        out.push_back(*ep);
    }
    return out;
}

fs::path absolute_path(TableReader& r, std::string_view key, const std::string& value) {
    if (value.empty() || value.front() != '/') {
        r.error_at(key, "'" + value + "' must be an absolute path");
    }
    return fs::path(value).lexically_normal();
}

void require_argv(TableReader& r, std::string_view key, const std::vector<std::string>& argv) {
    if (argv.empty()) {
        r.error_at(key, "the command is empty");
    }
    if (argv.front().empty() || argv.front().front() != '/') {
        r.error_at(key, "the program '" + argv.front() +
                            "' must be an absolute path (commands run without a shell or PATH)");
    }
}

Global read_global(const toml::table* t, const Context& ctx) {
    Global g;
    if (t == nullptr) {
        return g;
    }
    TableReader r(*t, "daneroll", ctx.source);
    if (auto v = r.string("state_dir")) {
        g.state_dir = absolute_path(r, "state_dir", *v);
    }
    g.log_level = parse_enum(r, "log_level", kLogLevels, g.log_level);
    g.resolver = endpoint(r, "resolver", 53);
    if (g.resolver && !g.resolver->is_ip_literal()) {
        r.error_at("resolver", "must be an IP address (a resolver cannot be found by name)");
    }
    if (auto v = r.integer("default_ttl", 1, 2147483647)) {
        g.default_ttl = static_cast<std::uint32_t>(*v);
    }
    if (auto v = r.integer("max_tlsa_records", 1, 100)) {
        g.max_tlsa_records = static_cast<std::size_t>(*v);
    }
    if (auto v = r.duration("dns_timeout")) {
        if (v->count() < 1 || v->count() > 60) {
            r.error_at("dns_timeout", "must be between 1s and 60s");
        }
        g.dns_timeout = *v;
    }
    if (auto v = r.integer("dns_retries", 0, 10)) {
        g.dns_retries = static_cast<int>(*v);
    }
    r.finish();
    return g;
}

Acme read_acme(const toml::table* t, const Context& ctx, const Global& g) {
    Acme a;
    a.account_key = g.state_dir / "acme" / "account.key";
    if (t == nullptr) {
        return a;
    }
    TableReader r(*t, "acme", ctx.source);
    if (auto v = r.string("directory")) {
        if (v->rfind("https://", 0) != 0) {
            r.error_at("directory", "the ACME directory must be an https:// URL");
        }
        a.directory = *v;
    }
    if (auto v = r.string("account_key")) {
        a.account_key = absolute_path(r, "account_key", *v);
    }
    if (auto v = r.strings("contact")) {
        for (const auto& c : *v) {
            if (c.rfind("mailto:", 0) != 0 || c.size() <= 7) {
                r.error_at("contact", "'" + c + "' must be a mailto: URL");
            }
        }
        a.contact = *v;
    }
    a.agree_tos = r.boolean("agree_tos").value_or(false);
    if (auto v = r.string("ca_bundle")) {
        a.ca_bundle = ctx.resolve(*v);
        if (ctx.check_files && !fs::exists(*a.ca_bundle)) {
            r.error_at("ca_bundle", a.ca_bundle->string() + " does not exist");
        }
    }
    a.eab_kid = r.string("eab_kid");
    if (auto v = r.string("eab_hmac_key_file")) {
        a.eab_hmac_key_file = ctx.resolve(*v);
        if (ctx.check_files) {
            try {
                require_private_file(*a.eab_hmac_key_file);
            } catch (const Error& e) {
                r.error_at("eab_hmac_key_file", e.what());
            }
        }
    }
    if (a.eab_kid.has_value() != a.eab_hmac_key_file.has_value()) {
        r.error_here("external account binding needs both eab_kid and eab_hmac_key_file");
    }
    a.preferred_chain = r.string("preferred_chain");
    r.finish();
    return a;
}

TsigKey read_tsig_key(const std::string& id, const toml::table& t, const Context& ctx) {
    TableReader r(t, "tsig." + id, ctx.source);
    TsigKey k;
    k.id = id;
    const auto file = r.string("file");
    const auto wanted = r.string("name");
    r.finish();
    if (!file) {
        r.error_here(
            "missing 'file': the TSIG key file (tsig-keygen output, or one line "
            "'hmac-sha256:name:base64'); secrets are never written in this config");
    }
    k.file = ctx.resolve(*file);
    if (!ctx.check_files) {
        k.name = wanted.value_or(id) + ".";
        k.algorithm = "hmac-sha256";
        return k;
    }
    std::vector<TsigKeyMaterial> keys;
    try {
        require_private_file(k.file);
        keys = parse_tsig_key_file(read_file(k.file, 64U << 10U), k.file.string());
    } catch (const Error& e) {
        r.error_at("file", e.what());
    }
    const TsigKeyMaterial* chosen = nullptr;
    if (wanted) {
        if (wanted->empty()) {
            r.error_at("name", "the key name is empty");
        }
        const std::string want = wanted->back() == '.' ? *wanted : *wanted + ".";
        for (const auto& m : keys) {
            if (m.name == want) {
                chosen = &m;
            }
        }
        if (chosen == nullptr) {
            r.error_at("name", k.file.string() + " holds no key named '" + *wanted + "'");
        }
    } else if (keys.size() == 1) {
        chosen = &keys.front();
    } else {
        r.error_here(k.file.string() + " holds " + std::to_string(keys.size()) +
                     " keys; set 'name' to choose one");
    }
    k.name = chosen->name;
    k.algorithm = chosen->algorithm;
    k.secret = chosen->secret;
    return k;
}

Zone read_zone(const std::string& raw_name, const toml::table& t, const Context& ctx,
               const std::vector<TsigKey>& keys) {
    TableReader r(t, "zone." + raw_name, ctx.source);
    Zone z;
    z.line = r.line();
    try {
        z.name = normalize_host_name(raw_name, "zone");
    } catch (const Error& e) {
        r.error_here(e.what());
    }
    const auto key = r.string("tsig_key");
    z.servers = endpoints(r, "servers", 53);
    z.primary = endpoint(r, "primary", 53);
    r.finish();
    if (!key) {
        r.error_here("missing 'tsig_key': the [tsig.<id>] key that signs updates to this zone");
    }
    if (std::none_of(keys.begin(), keys.end(), [&](const TsigKey& k) { return k.id == *key; })) {
        std::set<std::string, std::less<>> ids;
        for (const auto& k : keys) {
            ids.insert(k.id);
        }
        std::string msg = "no [tsig." + *key + "] is defined";
        if (auto hint = closest_match(*key, ids)) {
            msg += "; did you mean '" + *hint + "'?";
        }
        r.error_at("tsig_key", msg);
    }
    z.tsig_key = *key;
    return z;
}

std::vector<std::string> placeholders(const std::string& s) {
    std::vector<std::string> out;
    for (std::size_t pos = s.find('{'); pos != std::string::npos; pos = s.find('{', pos + 1)) {
        const auto close = s.find('}', pos);
        if (close == std::string::npos) {
            out.emplace_back(s.substr(pos));
            break;
        }
        out.push_back(s.substr(pos, close - pos + 1));
    }
    return out;
}

void require_placeholders(TableReader& r, std::string_view key, const std::string& value,
                          const std::set<std::string>& allowed) {
    for (const auto& p : placeholders(value)) {
        if (allowed.count(p) == 0) {
            std::string list;
            for (const auto& a : allowed) {
                list += (list.empty() ? "" : ", ") + a;
            }
            r.error_at(key, "unknown placeholder '" + p + "' (known: " + list + ")");
        }
    }
}

CertificateSource read_source(const toml::table& t, const std::string& path, const Context& ctx) {
    TableReader r(t, path, ctx.source);
    CertificateSource s;
    s.type = parse_enum(r, "type", kSources, s.type);
    const bool has_challenge = t.contains("challenge");
    s.challenge = parse_enum(r, "challenge", kChallenges, s.challenge);
    if (auto v = r.string("webroot")) {
        s.webroot = absolute_path(r, "webroot", *v);
    }
    s.http_listen = endpoint(r, "listen", 80);
    if (auto v = r.string("lineage")) {
        s.lineage = absolute_path(r, "lineage", *v);
    }
    s.command = r.strings("command").value_or(std::vector<std::string>{});
    r.finish();
    if (!t.contains("type")) {
        r.error_here("missing 'type': one of 'acme', 'certbot', 'command'");
    }

    auto only_for = [&](bool present, std::string_view key, std::string_view type) {
        if (present) {
            r.error_at(key, "is only used with type = \"" + std::string(type) + "\"");
        }
    };
    if (s.type != SourceType::Acme) {
        only_for(has_challenge, "challenge", "acme");
        only_for(s.webroot.has_value(), "webroot", "acme");
        only_for(s.http_listen.has_value(), "listen", "acme");
    }
    if (s.type != SourceType::Certbot) {
        only_for(s.lineage.has_value(), "lineage", "certbot");
    }
    if (s.type != SourceType::Command) {
        only_for(!s.command.empty(), "command", "command");
    }
    switch (s.type) {
        case SourceType::Acme:
            if (s.challenge == Challenge::Http01 &&
                s.webroot.has_value() == s.http_listen.has_value()) {
                r.error_here(
                    "http-01 needs exactly one of 'webroot' (a directory your web server "
                    "serves at /.well-known/acme-challenge/) or 'listen' (address:port "
                    "for daneroll's own listener)");
            }
            if (s.challenge == Challenge::Dns01 && (s.webroot || s.http_listen)) {
                r.error_here(
                    "dns-01 uses the zone's TSIG key; 'webroot' and 'listen' are for "
                    "http-01");
            }
            break;
        case SourceType::Certbot:
            if (!s.lineage) {
                r.error_here(
                    "type \"certbot\" needs 'lineage', e.g. "
                    "\"/etc/letsencrypt/live/mx1.example.com\"");
            }
            break;
        case SourceType::Command: {
            require_argv(r, "command", s.command);
            const std::set<std::string> allowed{"{csr}",   "{chain}",     "{cert}",   "{issuer}",
                                                "{names}", "{algorithm}", "{service}"};
            bool csr = false;
            bool chain = false;
            for (const auto& a : s.command) {
                require_placeholders(r, "command", a, allowed);
                csr = csr || a.find("{csr}") != std::string::npos;
                chain = chain || a.find("{chain}") != std::string::npos;
            }
            if (!csr || !chain) {
                r.error_at("command",
                           "must use both {csr} (the request file daneroll writes) "
                           "and {chain} (where the command writes the PEM chain)");
            }
            break;
        }
    }
    return s;
}

Mta read_mta(const toml::table& t, const std::string& path, const Context& ctx,
             std::size_t algorithm_count) {
    TableReader r(t, path, ctx.source);
    Mta m;
    m.type = parse_enum(r, "type", kMtas, m.type);
    const std::set<std::string> allowed{"{algorithm}"};
    auto file_template = [&](std::string_view key) {
        auto v = r.string(key);
        if (!v) {
            return std::string();
        }
        absolute_path(r, key, *v);
        require_placeholders(r, key, *v, allowed);
        if (algorithm_count > 1 && v->find("{algorithm}") == std::string::npos) {
            r.error_at(key,
                       "with several algorithms the path must contain {algorithm}, so each "
                       "key gets its own file");
        }
        return *v;
    };
    m.combined_file = file_template("combined_file");
    m.key_file = file_template("key_file");
    m.chain_file = file_template("chain_file");
    m.install = r.strings("install").value_or(std::vector<std::string>{});
    const auto reload = r.strings("reload");
    if (auto v = r.string("backup_suffix")) {
        if (v->empty() || v->find('/') != std::string::npos) {
            r.error_at("backup_suffix", "must be a non-empty file name suffix without '/'");
        }
        m.backup_suffix = *v;
    }
    if (auto v = r.string("key_group")) {
        if (v->empty()) {
            r.error_at("key_group", "must name a group");
        }
        if (ctx.check_files) {
            try {
                group_id(*v);
            } catch (const Error& e) {
                r.error_at("key_group", e.what());
            }
        }
        m.key_group = *v;
    }
    r.finish();
    if (!t.contains("type")) {
        r.error_here("missing 'type': one of 'postfix', 'exim', 'command'");
    }

    const bool separate = !m.key_file.empty() || !m.chain_file.empty();
    if (separate && (m.key_file.empty() || m.chain_file.empty())) {
        r.error_here("'key_file' and 'chain_file' go together");
    }
    if (separate && !m.combined_file.empty()) {
        r.error_here("use either 'combined_file' or 'key_file' + 'chain_file', not both");
    }
    switch (m.type) {
        case MtaType::Postfix:
            if (!separate && m.combined_file.empty()) {
                r.error_here(
                    "postfix needs 'combined_file' (for smtpd_tls_chain_files) or "
                    "'key_file' + 'chain_file'");
            }
            m.reload = reload.value_or(std::vector<std::string>{"/usr/sbin/postfix", "reload"});
            break;
        case MtaType::Exim:
            if (!separate) {
                r.error_here(
                    "exim needs 'key_file' and 'chain_file' (tls_privatekey and "
                    "tls_certificate)");
            }
            // Exim reads its certificate files for each TLS session, so it
            // needs no reload unless the operator says otherwise.
            m.reload = reload.value_or(std::vector<std::string>{});
            break;
        case MtaType::Command:
            if (!separate) {
                r.error_here(
                    "type \"command\" needs 'key_file' and 'chain_file' (staged for the "
                    "install command)");
            }
            require_argv(r, "install", m.install);
            m.reload = reload.value_or(std::vector<std::string>{});
            break;
    }
    if (m.type != MtaType::Command && !m.install.empty()) {
        r.error_at("install", "is only used with type = \"command\"");
    }
    if (!m.reload.empty()) {
        require_argv(r, "reload", m.reload);
    }
    for (const auto& a : m.install) {
        require_placeholders(r, "install", a, {"{key}", "{chain}", "{algorithm}", "{service}"});
    }
    return m;
}

Probe read_probe(const toml::table* t, const std::string& path, const Context& ctx) {
    Probe p;
    if (t == nullptr) {
        return p;
    }
    TableReader r(*t, path, ctx.source);
    if (auto v = r.strings("addresses")) {
        for (const auto& a : *v) {
            if (!is_ip_address(a)) {
                r.error_at("addresses", "'" + a + "' is not an IPv4 or IPv6 address");
            }
        }
        p.addresses = *v;
    }
    if (auto v = r.string("ehlo_name")) {
        try {
            p.ehlo_name = normalize_host_name(*v, "ehlo_name");
        } catch (const Error& e) {
            r.error_at("ehlo_name", e.what());
        }
    }
    if (auto v = r.duration("timeout")) {
        if (v->count() < 1 || v->count() > 300) {
            r.error_at("timeout", "must be between 1s and 300s");
        }
        p.timeout = *v;
    }
    r.finish();
    return p;
}

std::vector<TlsaRecord> read_issuer_entries(TableReader& r, std::string_view key,
                                            const std::vector<std::string>& entries,
                                            const Context& ctx) {
    std::vector<TlsaRecord> out;
    for (const auto& e : entries) {
        if (!e.empty() && (e.front() >= '0' && e.front() <= '9')) {
            try {
                TlsaRecord rec = TlsaRecord::parse(e);
                if (rec.usage != tlsa::kDaneTa) {
                    r.error_at(key, "'" + rec.short_string() +
                                        "': issuer records must have usage 2 (DANE-TA)");
                }
                validate_for_publication(rec);
                out.push_back(rec);
            } catch (const Error& err) {
                if (err.kind() == ErrorKind::Config) {
                    throw;
                }
                r.error_at(key, err.what());
            }
            continue;
        }
        if (!ctx.check_files) {
            continue;
        }
        const fs::path file = ctx.resolve(e);
        try {
            const auto certs = load_certificates(file);
            for (const auto& c : certs) {
                out.push_back(tlsa_from_certificate(c, tlsa::kDaneTa, tlsa::kSelectorSpki,
                                                    tlsa::kMatchSha256));
            }
        } catch (const Error& err) {
            r.error_at(key, "issuer certificate file: " + std::string(err.what()));
        }
    }
    return out;
}

Service read_service(const std::string& id, const toml::table& t, const Context& ctx,
                     const Global& g, const std::vector<Zone>& zones) {
    const std::string path = "service." + id;
    TableReader r(t, path, ctx.source);
    Service s;
    s.id = id;
    s.line = r.line();
    const auto host = r.string("host");
    if (!host) {
        r.error_here("missing 'host': the MX host name, e.g. \"mx1.example.com\"");
    }
    try {
        s.host = normalize_host_name(*host, "host");
    } catch (const Error& e) {
        r.error_at("host", e.what());
    }
    if (auto v = r.integer("port", 1, 65535)) {
        s.port = static_cast<std::uint16_t>(*v);
    }
    const auto zone = r.string("zone");
    const auto algorithms =
        r.strings("algorithms").value_or(std::vector<std::string>{"ecdsa-p256"});
    s.scheme = parse_enum(r, "scheme", kSchemes, s.scheme);
    s.ttl = static_cast<std::uint32_t>(r.integer("ttl", 1, 2147483647).value_or(g.default_ttl));
    s.rotation_period = r.duration("rotation_period").value_or(s.rotation_period);
    s.renew_before = r.duration("renew_before").value_or(s.renew_before);
    const auto names = r.strings("names");
    const toml::table* issuers = r.table("issuers");
    const toml::table* source = r.table("source");
    const toml::table* mta = r.table("mta");
    const toml::table* probe = r.table("probe");
    r.finish();

    // Zone: named, or the longest configured zone that contains the host.
    if (zone) {
        std::string zname;
        try {
            zname = normalize_host_name(*zone, "zone");
        } catch (const Error& e) {
            r.error_at("zone", e.what());
        }
        if (std::none_of(zones.begin(), zones.end(),
                         [&](const Zone& z) { return z.name == zname; })) {
            r.error_at("zone", "no [zone.\"" + zname + "\"] is defined");
        }
        s.zone = zname;
    } else {
        for (const auto& z : zones) {
            const bool inside =
                s.host == z.name ||
                (s.host.size() > z.name.size() &&
                 s.host.compare(s.host.size() - z.name.size(), z.name.size(), z.name) == 0 &&
                 s.host[s.host.size() - z.name.size() - 1] == '.');
            if (inside && z.name.size() > s.zone.size()) {
                s.zone = z.name;
            }
        }
        if (s.zone.empty()) {
            r.error_at("host", "no configured [zone.\"...\"] contains " + s.host +
                                   "; add the zone or set 'zone'");
        }
    }
    const std::string owner = s.tlsa_owner();
    const std::string owner_no_dot = owner.substr(0, owner.size() - 1);
    if (owner_no_dot != s.zone && (owner_no_dot.size() <= s.zone.size() ||
                                   owner_no_dot.compare(owner_no_dot.size() - s.zone.size() - 1,
                                                        s.zone.size() + 1, "." + s.zone) != 0)) {
        r.error_at("zone", "the TLSA owner " + owner + " is not inside zone " + s.zone);
    }

    bool have_rsa = false;
    bool have_ec = false;
    for (const auto& a : algorithms) {
        const auto alg = parse_key_algorithm(a);
        const auto mta_algs = mta_key_algorithms();
        if (!alg || std::find(mta_algs.begin(), mta_algs.end(), *alg) == mta_algs.end()) {
            r.error_at("algorithms", "'" + a +
                                         "' is not one of rsa2048, rsa3072, rsa4096, "
                                         "ecdsa-p256, ecdsa-p384");
        }
        bool& family = is_rsa(*alg) ? have_rsa : have_ec;
        if (family) {
            r.error_at("algorithms",
                       "at most one RSA and one ECDSA algorithm: an MTA serves one "
                       "certificate per key type");
        }
        family = true;
        s.algorithms.push_back(*alg);
    }
    if (s.algorithms.empty()) {
        r.error_at("algorithms", "needs at least one algorithm");
    }
    if (s.renew_before.count() <= 0 || s.rotation_period.count() <= 0) {
        r.error_here("'rotation_period' and 'renew_before' must be positive");
    }
    if (s.rotation_period < std::chrono::seconds(4LL * s.ttl)) {
        r.error_at("rotation_period", "must be at least 4 x ttl (" + std::to_string(4LL * s.ttl) +
                                          "s): each rollover waits 2 x ttl before deploying");
    }

    s.names = names.value_or(std::vector<std::string>{s.host});
    for (auto& n : s.names) {
        try {
            n = normalize_host_name(n, "name");
        } catch (const Error& e) {
            r.error_at("names", e.what());
        }
    }
    if (std::find(s.names.begin(), s.names.end(), s.host) == s.names.end()) {
        r.error_at("names", "must include the host " + s.host +
                                " (DANE-TA senders check the certificate against it)");
    }

    if (issuers != nullptr) {
        if (s.scheme != Scheme::CurrentIssuer) {
            r.error_at("issuers", "is only used with scheme = \"current+issuer\"");
        }
        TableReader ir(*issuers, path + ".issuers", ctx.source);
        for (const auto alg : s.algorithms) {
            const std::string key(key_algorithm_name(alg));
            if (auto entries = ir.strings(key)) {
                s.issuers[alg] = read_issuer_entries(ir, key, *entries, ctx);
                if (entries->empty()) {
                    ir.error_at(key, "needs at least one issuer certificate or \"2 1 1 <hex>\"");
                }
            }
        }
        ir.finish();
    }
    if (s.scheme == Scheme::CurrentIssuer) {
        for (const auto alg : s.algorithms) {
            if (s.issuers.count(alg) == 0) {
                r.error_here("scheme \"current+issuer\" needs [" + path + ".issuers] with " +
                             std::string(key_algorithm_name(alg)) +
                             " = [...]: the issuing CA certificates (or \"2 1 1 <hex>\") to keep "
                             "published");
            }
        }
    }

    if (source == nullptr) {
        r.error_here("missing [" + path +
                     ".source]: where certificates come from (type = "
                     "\"acme\", \"certbot\" or \"command\")");
    }
    s.source = read_source(*source, path + ".source", ctx);
    if (s.source.lineage) {
        TableReader sr(*source, path + ".source", ctx.source);
        require_placeholders(sr, "lineage", s.source.lineage->string(), {"{algorithm}"});
        if (s.algorithms.size() > 1 &&
            s.source.lineage->string().find("{algorithm}") == std::string::npos) {
            sr.error_at("lineage",
                        "with several algorithms each needs its own certbot lineage: "
                        "put {algorithm} in the path (certbot --cert-name "
                        "mx1-ecdsa-p256, mx1-rsa2048)");
        }
    }
    if (mta == nullptr) {
        r.error_here("missing [" + path +
                     ".mta]: how the certificate is installed (type = "
                     "\"postfix\", \"exim\" or \"command\")");
    }
    s.mta = read_mta(*mta, path + ".mta", ctx, s.algorithms.size());
    s.probe = read_probe(probe, path + ".probe", ctx);
    return s;
}

void check_cross_references(const Config& c, const Context& ctx) {
    std::set<std::string> seen;
    for (const auto& s : c.services) {
        for (const auto alg : s.algorithms) {
            const std::string key =
                s.host + ":" + std::to_string(s.port) + "/" + std::string(key_algorithm_name(alg));
            if (!seen.insert(key).second) {
                fail(ErrorKind::Config, ctx.source + ":" + std::to_string(s.line) + ": service." +
                                            s.id + ": " + s.host + " port " +
                                            std::to_string(s.port) + " with " +
                                            std::string(key_algorithm_name(alg)) +
                                            " is already rolled by another service");
            }
        }
    }
    if (std::any_of(c.services.begin(), c.services.end(),
                    [](const Service& s) { return s.source.type == SourceType::Acme; }) &&
        !c.acme.agree_tos) {
        fail(ErrorKind::Config, ctx.source +
                                    ": acme.agree_tos: a service uses the ACME source; "
                                    "set agree_tos = true in [acme] after reading the "
                                    "CA's terms of service");
    }
}

}  // namespace

std::string_view to_string(LogLevel v) {
    return enum_name(kLogLevels, v);
}
std::string_view to_string(Scheme v) {
    return enum_name(kSchemes, v);
}
std::string_view to_string(SourceType v) {
    return enum_name(kSources, v);
}
std::string_view to_string(MtaType v) {
    return enum_name(kMtas, v);
}
std::string_view to_string(Challenge v) {
    return enum_name(kChallenges, v);
}

std::string Service::tlsa_owner() const {
    return tlsa_owner_name(host, port);
}

std::string Service::expand(const std::string& tmpl, KeyAlgorithm alg) {
    std::string out = tmpl;
    const std::string name(key_algorithm_name(alg));
    for (auto pos = out.find("{algorithm}"); pos != std::string::npos;
         pos = out.find("{algorithm}", pos + name.size())) {
        out.replace(pos, 11, name);
    }
    return out;
}

const Zone& Config::zone_of(const Service& s) const {
    for (const auto& z : zones) {
        if (z.name == s.zone) {
            return z;
        }
    }
    fail(ErrorKind::Internal, "service " + s.id + " refers to unknown zone " + s.zone);
}

const TsigKey& Config::key_of(const Zone& z) const {
    for (const auto& k : tsig_keys) {
        if (k.id == z.tsig_key) {
            return k;
        }
    }
    fail(ErrorKind::Internal, "zone " + z.name + " refers to unknown key " + z.tsig_key);
}

const Service* Config::find_service(std::string_view id) const {
    for (const auto& s : services) {
        if (s.id == id) {
            return &s;
        }
    }
    return nullptr;
}

Config parse_config(std::string_view text, const std::string& source_name,
                    const std::filesystem::path& base_dir, bool check_files) {
    const Context ctx{source_name, base_dir, check_files};
    toml::table root;
    try {
        root = toml::parse(text, source_name);
    } catch (const toml::parse_error& e) {
        fail(ErrorKind::Config,
             location(source_name, e.source()) + "TOML syntax: " + std::string(e.description()));
    }
    TableReader top(root, "", source_name);
    Config c;
    c.global = read_global(top.table("daneroll"), ctx);
    c.acme = read_acme(top.table("acme"), ctx, c.global);
    const toml::table* tsig = top.table("tsig");
    const toml::table* zones = top.table("zone");
    const toml::table* services = top.table("service");
    top.finish();

    auto each_table = [&](const toml::table* parent, const char* kind, auto&& fn) {
        if (parent == nullptr) {
            return;
        }
        for (const auto& [key, node] : *parent) {
            const auto* t = node.as_table();
            if (t == nullptr) {
                fail(ErrorKind::Config, location(source_name, key.source()) + kind + "." +
                                            std::string(key.str()) + ": expected a table [" + kind +
                                            "." + std::string(key.str()) + "]");
            }
            fn(std::string(key.str()), *t);
        }
    };
    each_table(tsig, "tsig", [&](const std::string& id, const toml::table& t) {
        c.tsig_keys.push_back(read_tsig_key(id, t, ctx));
    });
    each_table(zones, "zone", [&](const std::string& name, const toml::table& t) {
        Zone z = read_zone(name, t, ctx, c.tsig_keys);
        for (const auto& other : c.zones) {
            if (other.name == z.name) {
                fail(ErrorKind::Config, source_name + ":" + std::to_string(z.line) + ": zone " +
                                            z.name + " is defined twice");
            }
        }
        c.zones.push_back(std::move(z));
    });
    each_table(services, "service", [&](const std::string& id, const toml::table& t) {
        c.services.push_back(read_service(id, t, ctx, c.global, c.zones));
    });
    if (c.services.empty()) {
        fail(ErrorKind::Config, source_name + ": no [service.<name>] is defined; nothing to do");
    }
    check_cross_references(c, ctx);
    return c;
}

Config load_config(const std::filesystem::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        fail(ErrorKind::Config, path.string() + ": no such file (give another with -c FILE)");
    }
    const auto perms = fs::status(path, ec).permissions();
    if ((perms & (fs::perms::group_write | fs::perms::others_write)) != fs::perms::none) {
        fail(ErrorKind::Config, path.string() +
                                    " is writable by group or others, and it names "
                                    "commands daneroll runs as root; run: chmod "
                                    "go-w " +
                                    path.string());
    }
    const std::string text = read_file(path, 1U << 20U);
    Config c = parse_config(text, path.string(), fs::absolute(path).parent_path(), true);
    c.file = path;
    return c;
}

}  // namespace daneroll::config
