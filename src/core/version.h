// The version of ddpm.cpp, as `ddpm --version` prints it and every PNG's parameters record it.
#pragma once

namespace ddpm {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace ddpm
