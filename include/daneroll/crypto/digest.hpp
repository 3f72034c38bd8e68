// The two digests TLSA matching types use.
#pragma once

#include "daneroll/common/bytes.hpp"

namespace daneroll {

Bytes sha256(ByteView data);
Bytes sha512(ByteView data);

}  // namespace daneroll
