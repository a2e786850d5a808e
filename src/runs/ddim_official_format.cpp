// ermongroup/ddim: models/diffusion.py (Model, ResnetBlock, AttnBlock, Downsample, Upsample,
// get_timestep_embedding), runners/diffusion.py (get_beta_schedule, train's saved states, sample),
// functions/denoising.py (generalized_steps), configs/*.yml.
#include "runs/ddim_official_format.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "io/torch_pickle.h"
#include "runs/state_dict_mapping.h"

namespace ddpm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "ermongroup/ddim's Model";

[[noreturn]] void fail(const std::string& origin, const std::string& what) {
  throw std::invalid_argument(origin + ": " + what);
}

const json& section(const json& yml, const std::string& origin, const std::string& name) {
  if (!yml.is_object()) fail(origin, "expected a mapping of sections (data, model, diffusion)");
  auto it = yml.find(name);
  if (it == yml.end() || !it->is_object())
    fail(origin, "has no '" + name +
                     "' section (ermongroup/ddim's config.yml has data, model, "
                     "diffusion, training, sampling, optim)");
  return *it;
}

/// Is `v` of the type `T` reads (no conversions: 1.0 is not an integer, "3" not a number)?
template <typename T>
bool holds(const json& v) {
  if constexpr (std::is_same_v<T, bool>)
    return v.is_boolean();
  else if constexpr (std::is_integral_v<T>)
    return v.is_number_integer();
  else if constexpr (std::is_floating_point_v<T>)
    return v.is_number();
  else if constexpr (std::is_same_v<T, std::string>)
    return v.is_string();
  else
    return v.is_array() &&
           std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_number_integer(); });
}

template <typename T>
const char* type_words() {
  if constexpr (std::is_same_v<T, bool>)
    return "true or false";
  else if constexpr (std::is_integral_v<T>)
    return "an integer";
  else if constexpr (std::is_floating_point_v<T>)
    return "a number";
  else if constexpr (std::is_same_v<T, std::string>)
    return "a string";
  else
    return "a list of integers";
}

template <typename T>
T get(const json& s, const std::string& origin, const std::string& path, const std::string& key) {
  auto it = s.find(key);
  if (it == s.end()) fail(origin, path + "." + key + " is missing");
  if (!holds<T>(*it))
    fail(origin,
         fmt::format("{}.{}: expected {}, found {}", path, key, type_words<T>(), it->dump()));
  return it->get<T>();
}

template <typename T>
T get_or(const json& s, const std::string& origin, const std::string& path, const std::string& key,
         T fallback) {
  return s.contains(key) ? get<T>(s, origin, path, key) : fallback;
}

/// runners/diffusion.py get_beta_schedule, in float64 as numpy computes it.
ScheduleConfig schedule_from(const json& d, const std::string& origin) {
  const auto kind = get<std::string>(d, origin, "diffusion", "beta_schedule");
  const double start = get<double>(d, origin, "diffusion", "beta_start");
  const double end = get<double>(d, origin, "diffusion", "beta_end");
  const int64_t T = get<int64_t>(d, origin, "diffusion", "num_diffusion_timesteps");
  if (T < 1 || T > kMaxTrainTimesteps)
    fail(origin, fmt::format("diffusion.num_diffusion_timesteps = {} is out of range (1 to {})", T,
                             kMaxTrainTimesteps));
  if (!(start > 0 && end >= start && end < 1))
    fail(origin, fmt::format("diffusion.beta_start {} and beta_end {} must satisfy 0 < start <= "
                             "end < 1",
                             start, end));
  ScheduleConfig s;
  s.num_train_timesteps = T;
  std::vector<double> betas(static_cast<size_t>(T));
  auto lin = [&](double a, double b, int64_t i) {  // np.linspace(a, b, T)[i]
    return T == 1 ? a : a + (b - a) * double(i) / double(T - 1);
  };
  if (kind == "linear") {
    // BetaSchedule::linear stores the T = 1000 values and scales them by 1000/T.
    s.beta_schedule = BetaSchedule::linear;
    s.beta_start = start * 1000.0 / double(T);
    s.beta_end = end * 1000.0 / double(T);
    return s;
  }
  for (int64_t i = 0; i < T; ++i) {
    if (kind == "quad")
      betas[size_t(i)] = std::pow(lin(std::sqrt(start), std::sqrt(end), i), 2);
    else if (kind == "const")
      betas[size_t(i)] = end;
    else if (kind == "jsd")  // 1/T, 1/(T−1), ..., 1
      betas[size_t(i)] = 1.0 / lin(double(T), 1.0, i);
    else if (kind == "sigmoid")
      betas[size_t(i)] = 1.0 / (1.0 + std::exp(-lin(-6.0, 6.0, i))) * (end - start) + start;
    else
      fail(origin, "diffusion.beta_schedule = '" + kind +
                       "' is not one of ermongroup/ddim's (allowed: linear, quad, const, jsd, "
                       "sigmoid)");
  }
  if (kind == "jsd" && T > 1 && betas.back() >= 1.0)
    fail(origin,
         "diffusion.beta_schedule jsd ends at beta = 1 (alpha_bar = 0), which this "
         "project's schedule refuses");
  s.trained_betas = betas;
  return s;
}

/// The attention levels: attn_resolutions are image sizes (curr_res in Model.__init__).
std::vector<bool> attention_levels(const json& m, const std::string& origin, int64_t image_size,
                                   size_t levels) {
  const auto res = get<std::vector<int64_t>>(m, origin, "model", "attn_resolutions");
  std::vector<bool> at(levels, false);
  for (int64_t r : res) {
    bool found = false;
    for (size_t l = 0; l < levels; ++l)
      if ((image_size >> l) == r && (image_size % (int64_t(1) << l)) == 0) at[l] = found = true;
    if (!found) {
      std::vector<int64_t> reached;
      for (size_t l = 0; l < levels; ++l) reached.push_back(image_size >> l);
      fail(origin, fmt::format("model.attn_resolutions holds {}, a resolution no level of this "
                               "network has (data.image_size {} gives {})",
                               r, image_size, fmt::join(reached, ", ")));
    }
  }
  return at;
}

}  // namespace

bool is_ddim_official_folder(const fs::path& dir) {
  return fs::is_regular_file(dir / "config.yml");
}

fs::path ddim_official_weights_file(const fs::path& dir) {
  if (fs::is_regular_file(dir / "ckpt.pth")) return dir / "ckpt.pth";
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".ckpt") found.push_back(e.path());
  if (found.size() == 1) return found.front();
  if (found.empty())
    throw std::runtime_error(dir.string() +
                             ": config.yml (ermongroup/ddim) without weights: expected ckpt.pth "
                             "(a training checkpoint) or one *.ckpt state dict beside it");
  std::vector<std::string> names;
  for (const auto& p : found) names.push_back(p.filename().string());
  std::sort(names.begin(), names.end());
  throw std::runtime_error(fmt::format("{}: several *.ckpt files ({}); keep one beside config.yml",
                                       dir.string(), fmt::join(names, ", ")));
}

RunConfig ddim_official_config(const json& yml, const std::string& origin) {
  const json& data = section(yml, origin, "data");
  const json& m = section(yml, origin, "model");
  const json& d = section(yml, origin, "diffusion");

  const int64_t image_size = get<int64_t>(data, origin, "data", "image_size");
  const int64_t channels = get<int64_t>(data, origin, "data", "channels");
  const int64_t in_channels = get<int64_t>(m, origin, "model", "in_channels");
  const int64_t out_ch = get<int64_t>(m, origin, "model", "out_ch");
  if (in_channels != channels)
    fail(origin, fmt::format("model.in_channels = {} contradicts data.channels = {}", in_channels,
                             channels));
  if (out_ch != in_channels)
    fail(origin, fmt::format("model.out_ch = {} differs from model.in_channels = {}: the network "
                             "predicts the noise, one channel per image channel",
                             out_ch, in_channels));
  const std::string type = get_or<std::string>(m, origin, "model", "type", "simple");
  if (type != "simple")
    fail(origin, "model.type = '" + type +
                     "' is not supported (allowed: simple; 'bayesian' adds a learned logvar "
                     "table this project does not use)");
  if (!get_or<bool>(m, origin, "model", "resamp_with_conv", true))
    fail(origin,
         "model.resamp_with_conv = false (average-pool down, conv-free up) is not "
         "supported (allowed: true, DDPM's network)");
  if (!get_or<bool>(data, origin, "data", "rescaled", true) ||
      get_or<bool>(data, origin, "data", "logit_transform", false))
    fail(origin,
         "data.rescaled must be true and data.logit_transform false: the models here "
         "work on images in [-1, 1]");

  RunConfig c;
  c.preset = "ermongroup-ddim";
  UNetConfig& u = c.model;
  u.sample_size = image_size;
  u.in_channels = u.out_channels = in_channels;
  const int64_t ch = get<int64_t>(m, origin, "model", "ch");
  const auto mult = get<std::vector<int64_t>>(m, origin, "model", "ch_mult");
  if (mult.empty()) fail(origin, "model.ch_mult is empty");
  u.block_out_channels.clear();
  for (int64_t k : mult) u.block_out_channels.push_back(ch * k);
  u.layers_per_block = get<int64_t>(m, origin, "model", "num_res_blocks");
  const auto attn = attention_levels(m, origin, image_size, mult.size());
  u.down_block_types.clear();
  u.up_block_types.clear();
  for (size_t l = 0; l < mult.size(); ++l)
    u.down_block_types.push_back(attn[l] ? DownBlockType::attention : DownBlockType::plain);
  for (size_t l = mult.size(); l-- > 0;)
    u.up_block_types.push_back(attn[l] ? UpBlockType::attention : UpBlockType::plain);
  u.add_attention = true;    // mid.attn_1
  u.attention_head_dim = 0;  // AttnBlock: one head over all channels
  u.norm_num_groups = 32;    // Normalize: GroupNorm(32, C, eps=1e-6)
  u.norm_eps = 1e-6;
  u.flip_sin_to_cos = false;  // get_timestep_embedding: [sin, cos], log(10⁴)/(half − 1)
  u.freq_shift = 1;
  u.downsample_padding = 0;  // Downsample: pad (0, 1, 0, 1), stride-2 conv without padding
  u.dropout = get_or<double>(m, origin, "model", "dropout", 0.0);
  try {
    validate(u);
  } catch (const std::invalid_argument& e) {
    fail(origin, std::string("the network of model.* cannot be built: ") + e.what());
  }
  c.schedule = schedule_from(d, origin);
  c.prediction_type = PredictionType::epsilon;
  c.data.image_size = image_size;
  c.data.channels = channels;
  c.data.normalization = Normalization::minus_one_one;

  // The repository's sampler: generalized_steps (DDIM) over range(0, T, T // N), eta 0, no
  // clipping, each step to the next entry; DDPM's variance as model.var_type.
  SamplerConfig& s = c.sampling.sampler;
  s = default_sampler_config(SamplerKind::ddim);
  s.timestep_spacing = TimestepSpacing::uniform;
  s.clip_sample = false;
  s.ddim_prev_timestep = PrevTimestep::next_in_sequence;
  const std::string var = get_or<std::string>(m, origin, "model", "var_type", "fixedlarge");
  if (var == "fixedlarge")
    s.variance_type = VarianceType::fixed_large;
  else if (var == "fixedsmall")
    s.variance_type = VarianceType::fixed_small;
  else
    fail(origin, "model.var_type = '" + var + "' (allowed: fixedlarge, fixedsmall)");
  return c;
}

TensorMap ddim_official_weights(const fs::path& file, const json& yml, WeightsKind weights,
                                const TensorMap& expected) {
  const std::string where = file.string();
  const c10::IValue value = read_torch_pickle(file);
  TensorMap original;
  if (value.isList()) {
    // runners/diffusion.py train: states = [model.state_dict(), optimizer.state_dict(), epoch,
    // step] + [ema_helper.state_dict()] when config.model.ema.
    const auto list = value.toListRef();
    const bool ema_config = yml.contains("model") && yml["model"].value("ema", false);
    if (list.size() != 4 && list.size() != 5)
      throw std::runtime_error(fmt::format(
          "{}: a list of {}, not ermongroup/ddim's training checkpoint [model, optimizer, epoch, "
          "step(, ema)]",
          where, list.size()));
    if (ema_config && list.size() != 5)
      throw std::runtime_error(where +
                               ": config.yml says model.ema = true but the checkpoint holds no "
                               "EMA shadow (4 entries, not 5)");
    const bool use_ema = weights == WeightsKind::ema && ema_config;
    original = tensor_dict(list[use_ema ? 4 : 0], where + (use_ema ? " [4] (EMA shadow)" : " [0]"));
  } else {
    original = tensor_dict(value, where);
  }
  TensorMap stripped;  // nn.DataParallel's prefix (the runner wraps the model in it)
  for (auto& [name, t] : original)
    stripped[name.rfind("module.", 0) == 0 ? name.substr(7) : name] = t;

  // The module list of Model.__init__, mapped to UNet2DModel's.
  std::vector<ModuleMapping> map{{"temb.dense.0", "time_embedding.linear_1"},
                                 {"temb.dense.1", "time_embedding.linear_2"},
                                 {"conv_in", "conv_in"},
                                 {"norm_out", "conv_norm_out"},
                                 {"conv_out", "conv_out"}};
  auto resnet = [&](const std::string& from, const std::string& to) {
    for (const char* n : {"norm1", "conv1", "norm2", "conv2"})
      map.push_back({from + "." + n, to + "." + n});
    map.push_back({from + ".temb_proj", to + ".time_emb_proj"});
    if (expected.count(to + ".conv_shortcut.weight"))
      map.push_back({from + ".nin_shortcut", to + ".conv_shortcut"});
  };
  auto attention = [&](const std::string& from, const std::string& to) {
    map.push_back({from + ".norm", to + ".group_norm"});
    map.push_back({from + ".q", to + ".to_q", TensorTransform::conv1x1_to_linear});
    map.push_back({from + ".k", to + ".to_k", TensorTransform::conv1x1_to_linear});
    map.push_back({from + ".v", to + ".to_v", TensorTransform::conv1x1_to_linear});
    map.push_back({from + ".proj_out", to + ".to_out.0", TensorTransform::conv1x1_to_linear});
  };
  RunConfig config = ddim_official_config(yml, where);
  const UNetConfig& u = config.model;
  const int64_t L = num_levels(u);
  for (int64_t l = 0; l < L; ++l) {
    const std::string down = fmt::format("down.{}", l), ours = fmt::format("down_blocks.{}", l);
    for (int64_t j = 0; j < u.layers_per_block; ++j) {
      resnet(fmt::format("{}.block.{}", down, j), fmt::format("{}.resnets.{}", ours, j));
      if (u.down_block_types[size_t(l)] == DownBlockType::attention)
        attention(fmt::format("{}.attn.{}", down, j), fmt::format("{}.attentions.{}", ours, j));
    }
    if (l != L - 1) map.push_back({down + ".downsample.conv", ours + ".downsamplers.0.conv"});
    // self.up.insert(0, up): up.l is resolution level l; UNet2DModel's up_blocks go lowest first.
    const std::string up = fmt::format("up.{}", l),
                      up_ours = fmt::format("up_blocks.{}", L - 1 - l);
    for (int64_t j = 0; j <= u.layers_per_block; ++j) {
      resnet(fmt::format("{}.block.{}", up, j), fmt::format("{}.resnets.{}", up_ours, j));
      if (u.up_block_types[size_t(L - 1 - l)] == UpBlockType::attention)
        attention(fmt::format("{}.attn.{}", up, j), fmt::format("{}.attentions.{}", up_ours, j));
    }
    if (l != 0) map.push_back({up + ".upsample.conv", up_ours + ".upsamplers.0.conv"});
  }
  resnet("mid.block_1", "mid_block.resnets.0");
  attention("mid.attn_1", "mid_block.attentions.0");
  resnet("mid.block_2", "mid_block.resnets.1");
  return convert_state_dict(stripped, map, expected, where, kFormat);
}

}  // namespace ddpm
