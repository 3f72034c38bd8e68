# Project-wide warning and sanitizer flags, applied through an interface
# target so third-party code is not affected. (-Wnull-dereference is left
# out: with GCC 12 at -O2 it reports false positives inside libstdc++ as
# inlined into CLI11.)
add_library(daneroll_flags INTERFACE)
target_compile_options(daneroll_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Wunused -Woverloaded-virtual -Wconversion -Wsign-conversion
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(DANEROLL_WERROR)
  target_compile_options(daneroll_flags INTERFACE -Werror)
endif()
# The OpenSSL 3.0 API level: deprecated 1.1 APIs (EC_KEY, RSA_*) warn.
# OPENSSL_NO_DEPRECATED must not be set: <ldns/keys.h> needs RSA/DSA types.
target_compile_definitions(daneroll_flags INTERFACE OPENSSL_API_COMPAT=30000)
if(DANEROLL_SANITIZE)
  target_compile_options(daneroll_flags INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(daneroll_flags INTERFACE -fsanitize=address,undefined)
endif()
