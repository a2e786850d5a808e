// Image files ↔ uint8 [C, H, W] tensors. PNG is read and written by stb_image / stb_image_write
// (nothings/stb), linked from Debian's compiled libstb rather than compiled here from the
// single-file headers; JPEG is read by libjpeg (Debian's libjpeg62-turbo), whose decoder checks
// what stb_image 2.27's does not (fuzz/image_fuzzer found two heap overflows in the latter).
#include "io/image.h"

#include <csetjmp>
#include <cstdio>  // FILE, used by jpeglib.h
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <jerror.h>
#include <jpeglib.h>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include "io/atomic_file.h"

namespace ddpm {

namespace {

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open for reading");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(path.string() + ": read failed");
  return bytes;
}

/// [H, W, C] contiguous CPU copy of a validated uint8 [C, H, W] image with C in {1, 3}.
torch::Tensor to_hwc(const torch::Tensor& image) {
  if (!image.defined() || image.scalar_type() != torch::kUInt8 || image.dim() != 3 ||
      (image.size(0) != 1 && image.size(0) != 3) || image.size(1) < 1 || image.size(2) < 1)
    throw std::invalid_argument(
        "encode_png: expected a uint8 [C, H, W] image with C = 1 or 3, found " +
        (image.defined()
             ? std::string(c10::toString(image.scalar_type())) + " " + c10::str(image.sizes())
             : std::string("an undefined tensor")));
  return image.detach().to(torch::kCPU).permute({1, 2, 0}).contiguous();
}

/// Width and height as the header states them, read without decoding: PNG's IHDR, which must be
/// the first chunk (PNG spec 5.6: width and height at bytes 16 and 20), or JPEG's SOFn frame
/// header (ITU T.81 B.2.2: Y and X after the marker, its length and P), found by walking the
/// markers before it. {0, 0} when the header cannot be read this way (the decoder decides then).
/// Checked before any decoder runs, so that a file claiming too many pixels is refused as such
/// even when it is broken further on (libjpeg reads the frame header only on its way to a scan).
std::pair<int64_t, int64_t> claimed_size(const std::string& bytes) {
  auto u8 = [&](size_t at) { return int64_t(static_cast<unsigned char>(bytes[at])); };
  auto be16 = [&](size_t at) { return u8(at) << 8 | u8(at + 1); };
  auto be32 = [&](size_t at) { return be16(at) << 16 | be16(at + 2); };
  if (bytes[0] == '\x89') {
    if (bytes.size() >= 24 && bytes.compare(12, 4, "IHDR") == 0) return {be32(16), be32(20)};
    return {0, 0};
  }
  size_t at = 2;  // after SOI
  while (at + 4 <= bytes.size()) {
    if (u8(at) != 0xff) {  // padding between segments, skipped as the decoders do
      ++at;
      continue;
    }
    const int64_t marker = u8(at + 1);
    if (marker == 0xff) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {  // no length field
      at += 2;
      continue;
    }
    const bool frame =
        marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    if (frame) {
      if (at + 9 > bytes.size()) return {0, 0};
      return {be16(at + 7), be16(at + 5)};  // X (width), Y (height)
    }
    if (marker == 0xd9 || marker == 0xda) return {0, 0};  // end of image or scan before a frame
    at += 2 + size_t(be16(at + 2));
  }
  return {0, 0};
}

/// Refuses an image whose width × height is over `max_pixels`, before its pixels are allocated.
/// Sizes below 2^32 each: the product fits in uint64_t, the comparison avoids forming it.
void check_pixels(const std::string& name, int64_t width, int64_t height, int64_t max_pixels) {
  if (width > 0 && height > 0 && (width > max_pixels || height > max_pixels / width))
    throw std::runtime_error(
        name + ": cannot decode image: header claims " + std::to_string(width) + "x" +
        std::to_string(height) + " = " + std::to_string(uint64_t(width) * uint64_t(height)) +
        " pixels, over the limit of " + std::to_string(max_pixels) + " (kMaxImagePixels)");
}

// ---- JPEG through libjpeg ----

/// More scans than this in one JPEG are refused. Each scan of a progressive JPEG revisits every
/// block of the components it codes, so a small file of many near-empty scans costs time in
/// proportion to scans × pixels (libjpeg-turbo's djpeg offers -maxscans against the same).
/// libjpeg's own progressive script writes 10 scans for colour, 6 for gray.
constexpr int kMaxJpegScans = 500;

/// libjpeg's error manager, extended with where to jump back to and the message (libjpeg's own
/// recipe, example.c: error_exit must not return). Standard layout, `manager` first: libjpeg
/// hands back &manager as cinfo->err.
struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

JpegErrors& jpeg_errors(j_common_ptr info) {
  return *reinterpret_cast<JpegErrors*>(info->err);
}

/// error_exit: the message is kept (never printed) and control returns to jpeg_guarded().
[[noreturn]] void jpeg_fail(j_common_ptr info) {
  JpegErrors& errors = jpeg_errors(info);
  (*info->err->format_message)(info, errors.message);
  std::longjmp(errors.jump, 1);
}

/// emit_message: libjpeg prints nothing. Trace messages (level >= 0) are dropped. A warning
/// (level -1) is corrupt data that libjpeg would decode past: a truncated file ("Premature end
/// of JPEG file", also for a missing EOI) comes out grey below the cut, a bad Huffman or
/// arithmetic code or a lost restart marker as garbage, and scans that break the standard's
/// rules (an inconsistent progression, a sequential scan with progressive parameters) are read
/// as libjpeg guesses. Those end the decoding as errors (stb_image too refused a cut file). Three
/// warnings are about no pixel and are only counted: an unknown JFIF revision, an unknown Adobe
/// colour transform (libjpeg then assumes YCbCr), and bytes skipped between two markers
/// (encoders that pad before EOI write these).
void jpeg_warning(j_common_ptr info, int level) {
  if (level >= 0) return;
  switch (info->err->msg_code) {
    case JWRN_JFIF_MAJOR:
    case JWRN_ADOBE_XFORM:
    case JWRN_EXTRANEOUS_DATA:
      ++info->err->num_warnings;
      return;
    default:
      jpeg_fail(info);
  }
}

void jpeg_silent(j_common_ptr) {}  // output_message: libjpeg never writes to stderr

/// Ends the decoding as jpeg_fail does, with a message of ours (formatted as printf's; no
/// temporary with a destructor may be alive at the call, the longjmp would skip it).
template <typename... Args>
[[noreturn]] void jpeg_fail_with(j_common_ptr info, const char* format, Args... args) {
  JpegErrors& errors = jpeg_errors(info);
  std::snprintf(errors.message, sizeof errors.message, format, args...);
  std::longjmp(errors.jump, 1);
}

/// progress_monitor, called by libjpeg at least once per scan while it reads them.
void jpeg_count_scans(j_common_ptr info) {
  if (reinterpret_cast<j_decompress_ptr>(info)->input_scan_number > kMaxJpegScans)
    jpeg_fail_with(info, "more than %d scans (kMaxJpegScans)", kMaxJpegScans);
}

/// Runs `step`, a sequence of libjpeg calls; false when libjpeg failed (the reason in
/// errors.message). The longjmp back here crosses only libjpeg's frames and the step's, which
/// hold nothing with a destructor.
template <typename Step>
bool jpeg_guarded(JpegErrors& errors, const Step& step) {
  if (setjmp(errors.jump) != 0) return false;
  step();
  return true;
}

/// One libjpeg decompressor; destroyed (its memory freed) however the decoding ends.
struct JpegDecompressor {
  jpeg_decompress_struct info{};
  JpegErrors errors{};
  jpeg_progress_mgr progress{};
  JpegDecompressor() {
    info.err = jpeg_std_error(&errors.manager);
    errors.manager.error_exit = jpeg_fail;
    errors.manager.emit_message = jpeg_warning;
    errors.manager.output_message = jpeg_silent;
    progress.progress_monitor = jpeg_count_scans;
  }
  ~JpegDecompressor() { jpeg_destroy_decompress(&info); }  // also safe on a zeroed struct
  JpegDecompressor(const JpegDecompressor&) = delete;
  JpegDecompressor& operator=(const JpegDecompressor&) = delete;
};

/// stb_image's x·y/255 (stbi__blinn_8x8), exact for x, y in [0, 255].
uint8_t times_over_255(unsigned x, unsigned y) {
  const unsigned t = x * y + 128;
  return uint8_t((t + (t >> 8)) >> 8);
}

/// A JPEG as uint8 [C, H, W]: gray (1 component) or YCbCr/RGB (3), converted by libjpeg to the
/// `channels` asked for (0: 1 for gray, else 3; 1 from colour is libjpeg's luma, Y itself for
/// YCbCr). CMYK and YCCK (4 components, Adobe's inverted inks) become RGB as stb_image made them:
/// R = C·K/255, and so on. The header's size is checked before anything is allocated for it.
torch::Tensor decode_jpeg(const std::string& bytes, const std::string& name, int channels,
                          int64_t max_pixels) {
  JpegDecompressor jpeg;
  jpeg_decompress_struct* info = &jpeg.info;
  const auto fail = [&](const std::string& reason) {
    return std::runtime_error(name + ": cannot decode image: " + reason);
  };
  if (!jpeg_guarded(jpeg.errors, [&] {
        jpeg_create_decompress(info);
        info->progress = &jpeg.progress;
        jpeg_mem_src(info, reinterpret_cast<const unsigned char*>(bytes.data()),
                     static_cast<unsigned long>(bytes.size()));
        jpeg_read_header(info, TRUE);  // up to the first scan; refuses a file without one
      }))
    throw fail(std::string("libjpeg: ") + jpeg.errors.message);

  const int64_t width = info->image_width, height = info->image_height;
  if (width < 1 || height < 1)  // libjpeg refuses these itself; kept for the pixel check below
    throw fail("header claims " + std::to_string(width) + "x" + std::to_string(height) + " pixels");
  check_pixels(name, width, height, max_pixels);
  const J_COLOR_SPACE stored = info->jpeg_color_space;
  const bool inks = stored == JCS_CMYK || stored == JCS_YCCK;
  if (stored != JCS_GRAYSCALE && stored != JCS_YCbCr && stored != JCS_RGB && !inks)
    throw fail("unsupported JPEG: " + std::to_string(info->num_components) +
               " colour components (1 gray, 3 YCbCr or RGB, 4 CMYK or YCCK are read)");
  const int wanted = channels != 0 ? channels : (stored == JCS_GRAYSCALE ? 1 : 3);
  const int decoded = inks ? 4 : wanted;  // components per pixel libjpeg writes
  info->out_color_space = inks ? JCS_CMYK : (wanted == 1 ? JCS_GRAYSCALE : JCS_RGB);
  if (!jpeg_guarded(jpeg.errors, [&] { jpeg_calc_output_dimensions(info); }))
    throw fail(std::string("libjpeg: ") + jpeg.errors.message);
  if (int64_t(info->output_width) != width || int64_t(info->output_height) != height ||
      info->output_components != decoded)
    throw fail("libjpeg would write " + std::to_string(info->output_width) + "x" +
               std::to_string(info->output_height) + "x" + std::to_string(info->output_components) +
               ", expected " + std::to_string(width) + "x" + std::to_string(height) + "x" +
               std::to_string(decoded));

  torch::Tensor pixels = torch::empty({height, width, decoded}, torch::kUInt8);  // [H, W, C]
  std::vector<JSAMPROW> rows(static_cast<size_t>(height));
  for (int64_t y = 0; y < height; ++y)
    rows[size_t(y)] = pixels.data_ptr<uint8_t>() + y * width * decoded;
  if (!jpeg_guarded(jpeg.errors, [&] {
        jpeg_start_decompress(info);  // a progressive file: every scan is read here
        while (info->output_scanline < info->output_height) {
          const JDIMENSION done = info->output_scanline;
          // libjpeg's memory source never suspends: each call returns at least one row.
          if (jpeg_read_scanlines(info, rows.data() + done, info->output_height - done) == 0)
            jpeg_fail_with(reinterpret_cast<j_common_ptr>(info), "%s", "libjpeg returned no rows");
        }
        jpeg_finish_decompress(info);  // reads on to EOI: a missing one is a truncated file
      }))
    throw fail(std::string("libjpeg: ") + jpeg.errors.message);

  if (inks) {
    torch::Tensor rgb = torch::empty({height, width, wanted}, torch::kUInt8);
    const uint8_t* in = pixels.data_ptr<uint8_t>();
    uint8_t* out = rgb.data_ptr<uint8_t>();
    for (int64_t i = 0, n = height * width; i < n; ++i, in += 4, out += wanted) {
      const uint8_t r = times_over_255(in[0], in[3]), g = times_over_255(in[1], in[3]),
                    b = times_over_255(in[2], in[3]);
      if (wanted == 1) {
        out[0] = uint8_t((r * 77 + g * 150 + b * 29) >> 8);  // stb_image's luma (stbi__compute_y)
      } else {
        out[0] = r, out[1] = g, out[2] = b;
      }
    }
    pixels = rgb;
  }
  return pixels.permute({2, 0, 1}).contiguous();  // [C, H, W]
}

/// stb_image's message for the last failure (never empty, whatever the build's options).
std::string stb_reason() {
  const char* reason = stbi_failure_reason();
  // Some of stb_image's failure paths (a truncated PNG among them) set no reason.
  return reason && *reason ? reason : "corrupt or truncated image data";
}

void append(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
}

}  // namespace

torch::Tensor read_image(const std::filesystem::path& path, int channels) {
  if (channels != 0 && channels != 1 && channels != 3)
    throw std::invalid_argument("read_image: channels must be 0 (as stored), 1 or 3, found " +
                                std::to_string(channels));
  return decode_image(read_bytes(path), path.string(), channels);
}

torch::Tensor decode_image(const std::string& bytes, const std::string& name, int channels,
                           int64_t max_pixels) {
  if (channels != 0 && channels != 1 && channels != 3)
    throw std::invalid_argument("decode_image: channels must be 0 (as stored), 1 or 3, found " +
                                std::to_string(channels));
  if (bytes.empty()) throw std::runtime_error(name + ": cannot decode image: the file is empty");
  if (bytes.size() > size_t(INT32_MAX))
    throw std::runtime_error(name + ": file of " + std::to_string(bytes.size()) +
                             " bytes is too large to decode");
  // Only PNG (its 8-byte signature, PNG spec 5.2) and JPEG (SOI marker FF D8, then a marker):
  // stb_image also decodes GIF, PSD, HDR, PIC, PNM, BMP and TGA, which no caller wants.
  static const std::string kPng("\x89PNG\r\n\x1a\n", 8), kJpeg("\xff\xd8\xff", 3);
  if (bytes.compare(0, kPng.size(), kPng) != 0 && bytes.compare(0, kJpeg.size(), kJpeg) != 0)
    throw std::runtime_error(name +
                             ": cannot decode image: not a PNG or JPEG file (expected the "
                             "signature 89 50 4E 47 0D 0A 1A 0A or FF D8 FF)");
  // The header's size, checked before a decoder allocates width × height × channels bytes.
  const auto [claimed_width, claimed_height] = claimed_size(bytes);
  check_pixels(name, claimed_width, claimed_height, max_pixels);
  if (bytes[0] == '\xff') return decode_jpeg(bytes, name, channels, max_pixels);

  // PNG through stb_image.
  const auto* buffer = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int length = int(bytes.size());
  int width = 0, height = 0, stored = 0;
  if (!stbi_info_from_memory(buffer, length, &width, &height, &stored))
    throw std::runtime_error(name + ": cannot decode image: " + stb_reason());
  if (width < 1 || height < 1)
    throw std::runtime_error(name + ": cannot decode image: header claims " +
                             std::to_string(width) + "x" + std::to_string(height) + " pixels");
  check_pixels(name, width, height, max_pixels);
  const int wanted = channels != 0 ? channels : (stored <= 2 ? 1 : 3);
  // Transparency is composited onto white (as a browser shows an icon on a page): gray+alpha and
  // RGBA are decoded with their alpha, then c·α + 255·(1 − α).
  const bool alpha = stored == 2 || stored == 4;
  const int decode_as = alpha ? stored : wanted;

  int decoded_width = 0, decoded_height = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(buffer, length, &decoded_width, &decoded_height, &stored, decode_as),
      stbi_image_free);
  if (!pixels) throw std::runtime_error(name + ": cannot decode image: " + stb_reason());
  if (decoded_width != width || decoded_height != height)
    throw std::runtime_error(name + ": cannot decode image: header says " + std::to_string(width) +
                             "x" + std::to_string(height) + ", the decoder found " +
                             std::to_string(decoded_width) + "x" + std::to_string(decoded_height));
  auto image = torch::from_blob(pixels.get(), {height, width, decode_as}, torch::kUInt8)
                   .permute({2, 0, 1})
                   .clone(at::MemoryFormat::Contiguous);  // [C, H, W], owning its memory
  if (!alpha) return image;
  auto color = image.slice(0, 0, decode_as - 1).to(torch::kInt32);  // [1 or 3, H, W]
  auto a = image.slice(0, decode_as - 1).to(torch::kInt32);         // [1, H, W]
  auto over_white =
      torch::div(color * a + 255 * (255 - a) + 127, 255, "floor").to(torch::kUInt8);  // rounded
  if (over_white.size(0) == wanted) return over_white.contiguous();
  if (wanted == 3) return over_white.repeat({3, 1, 1}).contiguous();
  // RGB → gray as stb_image's stbi__compute_y: (77 r + 150 g + 29 b) >> 8.
  auto c = over_white.to(torch::kInt32);
  return torch::div(c[0] * 77 + c[1] * 150 + c[2] * 29, 256, "floor")
      .to(torch::kUInt8)
      .unsqueeze(0)
      .contiguous();
}

std::string encode_png(const torch::Tensor& image, const PngText& text) {
  const torch::Tensor hwc = to_hwc(image);  // [H, W, C]
  const int height = int(hwc.size(0)), width = int(hwc.size(1)), comp = int(hwc.size(2));
  std::string png;
  if (!stbi_write_png_to_func(append, &png, width, height, comp, hwc.data_ptr(), width * comp))
    throw std::runtime_error("encode_png: stb_image_write failed for a " + c10::str(image.sizes()) +
                             " image");
  return text.empty() ? png : add_png_text(png, text);
}

void write_png(const std::filesystem::path& path, const torch::Tensor& image, const PngText& text) {
  std::string png;
  try {
    png = encode_png(image, text);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path.string() + ": " + e.what());
  }
  write_file_atomic(path, png);
}

}  // namespace ddpm
