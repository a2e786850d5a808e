#include "data/transforms.h"

#include "test_util.h"

namespace ddpm {
namespace {

torch::Tensor all_pixel_values(int64_t channels) {
  // [2, C, 16, 16]: every uint8 value in every channel, in different orders per channel.
  auto values = torch::arange(256, torch::kInt64).to(torch::kUInt8).view({1, 1, 16, 16});
  auto image = values.repeat({2, channels, 1, 1});
  image[1] = image[1].flip({1});
  return image;
}

TEST(Normalization, StringTable) {
  EXPECT_EQ(parse_enum<Normalization>("[-1,1]"), Normalization::minus_one_one);
  EXPECT_EQ(parse_enum<Normalization>("mean-std"), Normalization::mean_std);
  EXPECT_EQ(to_string(Normalization::minus_one_one), "[-1,1]");
  try {
    parse_enum<Normalization>("minmax");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[-1,1], mean-std"), std::string::npos) << e.what();
  }
}

TEST(Normalization, MinusOneOneIsExactAndRoundTrips) {
  auto images = all_pixel_values(3);
  NormalizationParams params;  // [-1,1]
  auto x = normalize(images, params);
  EXPECT_EQ(x.scalar_type(), torch::kFloat32);
  EXPECT_EQ(x.min().item<float>(), -1.0f);
  EXPECT_EQ(x.max().item<float>(), 1.0f);
  EXPECT_TRUE(test::tensors_close(x, images.to(torch::kFloat64) / 127.5 - 1, 1e-6));
  EXPECT_TRUE(denormalize_to_uint8(x, params).equal(images));
  // Out-of-range samples clamp to the pixel range.
  auto far = torch::tensor({-3.0f, -1.0f, 0.0f, 1.0f, 3.0f}).view({1, 1, 1, 5});
  EXPECT_TRUE(denormalize_to_uint8(far, params)
                  .equal(torch::tensor({0, 0, 128, 255, 255}, torch::kUInt8).view({1, 1, 1, 5})));
}

TEST(Normalization, MeanStdFitsLikeKerasAndRoundTrips) {
  auto g = at::detail::createCPUGenerator(3);
  auto images = torch::randint(0, 256, {6, 3, 8, 8}, g, torch::kUInt8);
  images.select(1, 2).clamp_max_(100);  // channels with different statistics
  auto params = fit_normalization(Normalization::mean_std, images);
  ASSERT_EQ(params.mean.size(), 3u);
  ASSERT_EQ(params.stddev.size(), 3u);
  auto unit = images.to(torch::kFloat64) / 255.0;
  for (int64_t c = 0; c < 3; ++c) {
    auto channel = unit.select(1, c);
    EXPECT_NEAR(params.mean[c], channel.mean().item<double>(), 1e-12);
    EXPECT_NEAR(params.stddev[c], channel.std(/*unbiased=*/false).item<double>(), 1e-12);
  }
  auto x = normalize(images, params);
  EXPECT_TRUE(test::tensors_close(x.mean({0, 2, 3}), torch::zeros({3}), 1e-5));
  EXPECT_TRUE(test::tensors_close(x.std({0, 2, 3}, /*unbiased=*/false), torch::ones({3}), 1e-5));
  EXPECT_TRUE(denormalize_to_uint8(x, params).equal(images));

  auto all = all_pixel_values(3);
  EXPECT_TRUE(denormalize_to_uint8(normalize(all, params), params).equal(all));
  // [C, H, W] works too.
  EXPECT_TRUE(denormalize_to_uint8(normalize(all[0], params), params).equal(all[0]));
}

TEST(Normalization, ErrorsSayWhatWasExpected) {
  auto params = fit_normalization(Normalization::mean_std, all_pixel_values(3));
  auto gray = all_pixel_values(1);
  try {
    normalize(gray, params);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("3 mean value(s)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(normalize(gray.to(torch::kFloat32), NormalizationParams{}), std::invalid_argument);
  EXPECT_THROW(denormalize_to_uint8(gray, NormalizationParams{}), std::invalid_argument);
  EXPECT_THROW(normalize(torch::zeros({4}, torch::kUInt8), NormalizationParams{}),
               std::invalid_argument);
  params.stddev[1] = 0;
  EXPECT_THROW(normalize(all_pixel_values(3), params), std::invalid_argument);
}

TEST(Hflip, FlipsExactlyTheChosenImages) {
  const int64_t n = 64;
  auto images = torch::arange(n * 2 * 3 * 5, torch::kInt64).remainder(251).to(torch::kUInt8);
  images = images.view({n, 2, 3, 5});
  auto generator = at::detail::createCPUGenerator(11);
  auto replay = generator.clone();
  auto flipped = random_hflip(images, generator);
  auto mask = hflip_mask(n, replay);
  const int64_t count = mask.sum().item<int64_t>();
  EXPECT_GT(count, 0);
  EXPECT_LT(count, n);
  for (int64_t i = 0; i < n; ++i) {
    auto expected = mask[i].item<bool>() ? images[i].flip({2}) : images[i];
    EXPECT_TRUE(flipped[i].equal(expected)) << "image " << i;
  }
  // Both generators advanced by the same draws.
  EXPECT_TRUE(torch::rand({4}, generator).equal(torch::rand({4}, replay)));
}

TEST(Resize, CenterCropPadAndAntialiasedResize) {
  auto image = torch::arange(2 * 4 * 6, torch::kInt64).to(torch::kUInt8).view({2, 4, 6});
  EXPECT_TRUE(center_crop_square(image).equal(image.slice(2, 1, 5)));
  EXPECT_TRUE(
      center_crop_square(image.transpose(1, 2)).equal(image.transpose(1, 2).slice(1, 1, 5)));

  auto small = torch::full({3, 1, 28, 28}, 9, torch::kUInt8);
  auto padded = pad_to_size(small, 32);
  EXPECT_EQ(padded.sizes(), (std::vector<int64_t>{3, 1, 32, 32}));
  EXPECT_TRUE(padded.slice(2, 2, 30).slice(3, 2, 30).equal(small));
  EXPECT_EQ(padded.sum().item<int64_t>(), small.sum().item<int64_t>());  // zeros elsewhere
  EXPECT_THROW(pad_to_size(small, 31), std::invalid_argument);
  EXPECT_THROW(pad_to_size(small, 24), std::invalid_argument);

  // A constant image stays constant; [C, H, W] and [N, C, H, W] both work.
  auto flat = torch::full({3, 40, 40}, 77, torch::kUInt8);
  auto resized = resize_antialiased(flat, 16);
  EXPECT_EQ(resized.sizes(), (std::vector<int64_t>{3, 16, 16}));
  EXPECT_TRUE(resized.eq(77).all().item<bool>());
  EXPECT_EQ(resize_antialiased(flat.unsqueeze(0), 64).sizes(),
            (std::vector<int64_t>{1, 3, 64, 64}));
  EXPECT_TRUE(resize_antialiased(flat, 40).equal(flat));

  // Dots every 4th pixel: plain bilinear at 1/4 scale samples between them and sees only black;
  // the antialiasing filter averages them in (like PIL), giving about 255/16 everywhere.
  auto dots = torch::zeros({1, 16, 16}, torch::kUInt8);
  dots.slice(1, 0, 16, 4).slice(2, 0, 16, 4).fill_(255);
  auto down = resize_antialiased(dots, 4).to(torch::kFloat64);
  EXPECT_GT(down.min().item<double>(), 0.0);
  EXPECT_NEAR(down.mean().item<double>(), 255.0 / 16, 4.0);
}

}  // namespace
}  // namespace ddpm
