#include "daneroll/smtp/probe.hpp"

#include <algorithm>
#include <future>

#include "address_probe.hpp"
#include "daneroll/common/error.hpp"
#include "daneroll/tlsa/dane_verify.hpp"
#include "request.hpp"

namespace daneroll::smtp {

std::string_view status_name(ProbeStatus status) {
    switch (status) {
        case ProbeStatus::Verified:
            return "verified";
        case ProbeStatus::NoDane:
            return "no-dane";
        case ProbeStatus::NoUsableRecords:
            return "no-usable-records";
        case ProbeStatus::DaneMismatch:
            return "dane-mismatch";
        case ProbeStatus::NoStarttls:
            return "no-starttls";
        case ProbeStatus::ConnectFailed:
            return "connect-failed";
        case ProbeStatus::Timeout:
            return "timeout";
        case ProbeStatus::TlsHandshakeFailed:
            return "tls-handshake-failed";
        case ProbeStatus::SmtpError:
            return "smtp-error";
    }
    return "unknown";
}

std::string_view key_preference_name(KeyPreference pref) {
    switch (pref) {
        case KeyPreference::Any:
            return "any";
        case KeyPreference::Ecdsa:
            return "ecdsa";
        case KeyPreference::Rsa:
            return "rsa";
    }
    return "unknown";
}

bool ProbeReport::all_verified() const {
    return !results.empty() && std::all_of(results.begin(), results.end(),
                                           [](const AddressResult& r) { return r.verified(); });
}

std::vector<const AddressResult*> ProbeReport::failures() const {
    std::vector<const AddressResult*> out;
    for (const auto& r : results) {
        if (!r.verified()) {
            out.push_back(&r);
        }
    }
    return out;
}

ProbeReport probe(const ProbeRequest& request) {
    const auto start = std::chrono::steady_clock::now();
    const CheckedRequest req = check_request(request);
    if (request.addresses.empty()) {
        fail(ErrorKind::Input, "no address to probe for " + req.host);
    }
    // Every literal is checked before the first connection, so a typo in
    // the last address does not leave the others half-probed.
    std::vector<SocketAddress> addresses;
    addresses.reserve(request.addresses.size());
    for (const auto& a : request.addresses) {
        addresses.push_back(parse_socket_address(a, req.port));
    }
    // One context for all: SSL_CTX is safe to share once set up, and
    // creating one costs more than a loopback probe's handshake.
    const ossl::SslCtxPtr ctx = make_dane_client_context();

    // One thread per address: the probe takes as long as the slowest
    // address, which the per-address deadline bounds.
    std::vector<std::future<AddressResult>> running;
    running.reserve(addresses.size());
    for (const auto& a : addresses) {
        running.push_back(std::async(std::launch::async,
                                     [&req, &ctx, &a] { return probe_one(req, ctx.get(), a); }));
    }
    ProbeReport report;
    report.host = req.host;
    report.port = req.port;
    report.ehlo_name = req.ehlo_name;
    report.key_preference = req.key_preference;
    report.records = req.records;
    // get() rethrows a worker's Error(Crypto); the futures still running are
    // waited for by their destructors before it propagates.
    for (auto& f : running) {
        report.results.push_back(f.get());
    }
    report.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    return report;
}

AddressResult probe_address(const ProbeRequest& request, std::string_view address) {
    const CheckedRequest req = check_request(request);
    const SocketAddress a = parse_socket_address(address, req.port);
    const ossl::SslCtxPtr ctx = make_dane_client_context();
    return probe_one(req, ctx.get(), a);
}

}  // namespace daneroll::smtp
