// daneroll's exit codes, documented in daneroll(8). Scripts, certbot hooks
// and Ansible tell outcomes apart by these numbers, so they never change.
#pragma once

namespace daneroll::cli {

inline constexpr int kExitOk = 0;         // done, or nothing to do
inline constexpr int kExitFailed = 1;     // the operation failed, or a check did not pass
inline constexpr int kExitUsage = 2;      // bad arguments or malformed input files
inline constexpr int kExitConfig = 3;     // the configuration is invalid
inline constexpr int kExitWaiting = 4;    // a rollover is waiting (e.g. for 2 x TTL)
inline constexpr int kExitLocked = 5;     // another daneroll holds the lock
inline constexpr int kExitNotSecure = 6;  // dns verify: the resolver says insecure/bogus
inline constexpr int kExitInternal = 70;  // a bug (EX_SOFTWARE)

}  // namespace daneroll::cli
