#include <gtest/gtest.h>

#include "daneroll/monitor/health.hpp"

namespace daneroll::monitor {
namespace {

using std::chrono::hours;

const TimePoint kNow = TimePoint(std::chrono::seconds(1800000000));

HealthReport healthy() {
    HealthReport r;
    r.at = kNow;
    DnsHealth d;
    d.service = "mx1";
    d.owner = "_25._tcp.mx1.example.test.";
    d.security = "secure";
    d.servers = 2;
    d.servers_agree = true;
    d.records = 2;
    d.earliest_signature_expiry = kNow + hours(24 * 10);
    r.dns.push_back(d);
    UnitHealth u;
    u.service = "mx1";
    u.algorithm = "ecdsa-p256";
    u.phase = "stable";
    u.cert_not_after = kNow + hours(24 * 60);
    u.last_success = kNow - hours(1);
    u.records_owned = 2;
    u.addresses = {{"192.0.2.25", true, "verified", ""}, {"2001:db8::25", true, "verified", ""}};
    r.units.push_back(u);
    return r;
}

Level judged(HealthReport r) {
    judge(r, Thresholds{});
    return r.level();
}

TEST(Monitor, HealthyIsOkWithPerfdata) {
    auto r = healthy();
    judge(r, Thresholds{});
    EXPECT_EQ(r.level(), Level::Ok);
    const auto line = nagios_line(r, Thresholds{});
    EXPECT_EQ(line.rfind("DANEROLL OK - 1 unit(s), 2 address check(s) DANE-verified |", 0), 0U)
        << line;
    EXPECT_NE(line.find("'mx1/ecdsa-p256 cert_days'=60.00;14.00;3.00"), std::string::npos) << line;
    EXPECT_NE(line.find("'mx1/ecdsa-p256 tick_age'=3600s;7200;21600"), std::string::npos) << line;
    EXPECT_NE(line.find("'mx1 rrsig_days'=10.00;3.00;1.00"), std::string::npos) << line;
}

TEST(Monitor, EachProblemHasItsLevel) {
    auto r = healthy();
    r.units[0].addresses[1] = {"2001:db8::25", false, "dane-mismatch",
                               "no matching DANE TLSA records"};
    EXPECT_EQ(judged(r), Level::Critical);

    r = healthy();
    r.units[0].cert_not_after = kNow + hours(24 * 10);
    EXPECT_EQ(judged(r), Level::Warning);
    r.units[0].cert_not_after = kNow + hours(24 * 2);
    EXPECT_EQ(judged(r), Level::Critical);
    r.units[0].cert_not_after = kNow - hours(1);  // expired
    EXPECT_EQ(judged(r), Level::Critical);

    r = healthy();
    r.units[0].last_success = kNow - hours(3);
    EXPECT_EQ(judged(r), Level::Warning);
    r.units[0].last_success = kNow - hours(7);
    EXPECT_EQ(judged(r), Level::Critical);
    r.units[0].last_success.reset();
    EXPECT_EQ(judged(r), Level::Warning);

    r = healthy();
    r.units[0].phase = "failed";
    r.units[0].failure = "the probe after the reload failed";
    EXPECT_EQ(judged(r), Level::Critical);

    r = healthy();
    r.units[0].phase = "unmanaged";
    EXPECT_EQ(judged(r), Level::Warning);

    r = healthy();
    r.dns[0].security = "bogus";
    EXPECT_EQ(judged(r), Level::Critical);
    r.dns[0].security = "insecure";
    EXPECT_EQ(judged(r), Level::Critical);

    r = healthy();
    r.dns[0].servers_agree = false;
    EXPECT_EQ(judged(r), Level::Warning);
    r.dns[0].earliest_signature_expiry = kNow + hours(12);
    EXPECT_EQ(judged(r), Level::Critical);
}

TEST(Monitor, SourceWarningOfTheLastTickIsAWarning) {
    // certbot made its own key under current+next (see decide()).
    auto r = healthy();
    r.units[0].source_warnings = {"the certificate source delivered a chain for key aaaa"};
    judge(r, Thresholds{});
    EXPECT_EQ(r.level(), Level::Warning);
    const auto line = nagios_line(r, Thresholds{});
    EXPECT_NE(line.find("mx1/ecdsa-p256: the certificate source delivered a chain for key aaaa"),
              std::string::npos)
        << line;
}

TEST(Monitor, StatusLineNamesTheWorstProblems) {
    auto r = healthy();
    r.units[0].addresses[0] = {"192.0.2.25", false, "timeout", "no answer in 10s"};
    r.units[0].cert_not_after = kNow + hours(24 * 10);  // a warning, not shown beside a critical
    judge(r, Thresholds{});
    const auto line = nagios_line(r, Thresholds{});
    EXPECT_EQ(line.rfind("DANEROLL CRITICAL - mx1/ecdsa-p256 192.0.2.25: timeout", 0), 0U) << line;
    EXPECT_EQ(line.find("certificate expires"), std::string::npos) << line;
}

TEST(Monitor, PrometheusTextHasOneSeriesPerFact) {
    auto r = healthy();
    r.units[0].addresses[1].verified = false;
    judge(r, Thresholds{});
    const auto text = prometheus_text(r);
    EXPECT_NE(text.find("daneroll_probe_verified{service=\"mx1\",algorithm=\"ecdsa-p256\","
                        "address=\"192.0.2.25\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("address=\"2001:db8::25\"} 0\n"), std::string::npos) << text;
    EXPECT_NE(text.find("daneroll_certificate_expiry_timestamp_seconds{service=\"mx1\","
                        "algorithm=\"ecdsa-p256\"} 1805184000\n"),
              std::string::npos)
        << text;
    EXPECT_NE(
        text.find("daneroll_phase{service=\"mx1\",algorithm=\"ecdsa-p256\",phase=\"stable\"} 1"),
        std::string::npos);
    EXPECT_NE(
        text.find(
            "daneroll_seconds_since_last_success{service=\"mx1\",algorithm=\"ecdsa-p256\"} 3600"),
        std::string::npos);
    EXPECT_NE(text.find("daneroll_records_published{service=\"mx1\",algorithm=\"ecdsa-p256\"} 2"),
              std::string::npos);
    EXPECT_NE(text.find("daneroll_dns_secure{service=\"mx1\"} 1"), std::string::npos);
    EXPECT_NE(text.find("daneroll_check_level 2"), std::string::npos);
    // Every series is preceded by its HELP and TYPE lines.
    EXPECT_NE(text.find("# TYPE daneroll_probe_verified gauge"), std::string::npos);
}

}  // namespace
}  // namespace daneroll::monitor
