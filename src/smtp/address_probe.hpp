// The SMTP dialogue with one address: greeting, EHLO, STARTTLS, the TLS
// handshake with DANE, EHLO again, QUIT; and what it learned.
#pragma once

#include <openssl/ssl.h>

#include "daneroll/smtp/probe.hpp"
#include "request.hpp"
#include "socket_address.hpp"

namespace daneroll::smtp {

// Never throws for anything the server does; throws Error(Crypto) only if
// OpenSSL cannot set up a TLS object. `ctx` comes from
// make_dane_client_context() and may be shared by concurrent probes.
AddressResult probe_one(const CheckedRequest& request, SSL_CTX* ctx, const SocketAddress& address);

}  // namespace daneroll::smtp
