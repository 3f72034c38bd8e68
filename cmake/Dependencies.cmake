# Every library is a Debian 12 package (see scripts/install-deps.sh).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL 3.0 REQUIRED)
find_package(CURL 7.88 REQUIRED)
find_package(tomlplusplus 3.3 REQUIRED CONFIG)
find_package(nlohmann_json 3.11 REQUIRED CONFIG)
find_package(CLI11 2.1 REQUIRED CONFIG)
find_package(fmt 9 REQUIRED CONFIG)
# ldns ships only a pkg-config file, named "ldns" (not "libldns").
pkg_check_modules(LDNS REQUIRED IMPORTED_TARGET ldns>=1.8)
if(DANEROLL_BUILD_TESTS)
  find_package(GTest 1.12 REQUIRED CONFIG)
  # Botan is the independent oracle for tests only; production uses OpenSSL.
  pkg_check_modules(BOTAN REQUIRED IMPORTED_TARGET botan-2>=2.19)
endif()
