/* stb_image and stb_image_write compiled here, from Debian's libstb-dev headers, so that the
 * fuzzers' sanitizers and coverage reach inside the decoder (the main build links libstb.so).
 * decode_image gives stb_image PNG only (JPEG goes to libjpeg): its other decoders are left out. */
#define STBI_ONLY_PNG
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
