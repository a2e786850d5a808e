// 64-bit FNV-1a (Fowler–Noll–Vo): tiny, well spread, and the same on every platform. Used to
// split folders by file name and to recognise weights (a cache key, not a security measure).
//
//   uint64_t h = fnv1a("cat.png");
//   std::string key = file_fnv1a_hex("autoencoder/diffusion_pytorch_model.safetensors");
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace ddpm {

/// FNV-1a over `bytes`, continuing from `seed` (the FNV offset basis by default).
uint64_t fnv1a(std::string_view bytes, uint64_t seed = 14695981039346656037ull);

/// 16 hex digits of fnv1a over a file's bytes (read in blocks). Throws std::runtime_error naming
/// the file when it cannot be read.
std::string file_fnv1a_hex(const std::filesystem::path& path);

}  // namespace ddpm
