/* stb_image and stb_image_write compiled here, from Debian's libstb-dev headers, so that the
 * fuzzers' sanitizers and coverage reach inside the decoder (the main build links libstb.so). */
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
