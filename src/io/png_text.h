// Text inside PNG files: tEXt chunks (PNG spec §11.3.4.3: keyword of 1–79 Latin-1 bytes, a NUL,
// the text), as stable-diffusion.cpp and the web UIs keep a "parameters" chunk saying how an image
// was made. Written right after IHDR; read back with every length checked, so a hostile file is
// an error naming it, never a read past the end.
//
//   std::string png = add_png_text(encode_png(image), {{"parameters", json.dump()}});
//   auto text = read_png_text(bytes, "samples.png");      // {{"parameters", "..."}}
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace ddpm {

using PngText = std::vector<std::pair<std::string, std::string>>;

/// `png` with a tEXt chunk per entry inserted after IHDR. Throws std::invalid_argument for a
/// keyword that is empty, longer than 79 bytes or holds a NUL, or a text holding a NUL, and
/// std::runtime_error when `png` does not start with a PNG signature and IHDR.
std::string add_png_text(const std::string& png, const PngText& entries);

/// Every tEXt chunk of a PNG file's bytes, in file order. Throws std::runtime_error naming `name`
/// when the bytes are not a PNG or a chunk's length runs past the end.
PngText read_png_text(const std::string& png, const std::string& name);

/// {"parameters": JSON} for a PNG's tEXt, with "ddpm": the version added and non-ASCII escaped
/// (tEXt is Latin-1): what every PNG ddpm writes carries.
PngText png_parameters(nlohmann::json parameters);

/// read_png_text of a file (throws std::runtime_error naming it when it cannot be read).
PngText read_png_text_file(const std::filesystem::path& path);

}  // namespace ddpm
