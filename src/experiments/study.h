// The study (issue #4): the four Keras-DDIM variants bk, bbno, bbano and bgano (configs/*.json)
// trained through the same Trainer with the same data, seed and step budget, then compared on one
// page. Layout of the output folder:
//
//   DIR/<variant>/                        a run directory each (ddpm train's layout; resumable)
//   DIR/<variant>/figures/{ema,raw}_ddim20_strip.png   DDIM-20, every step (x_t and x̂_0 rows)
//   DIR/<variant>/figures/{ema,raw}_ddim50.png, _ddim100.png, _ddpm1000.png   final grids
//   DIR/loss.png, DIR/loss.csv           every variant's loss, raw and smoothed (TensorBoard 0.99)
//   DIR/index.html, DIR/study.json       the page (study_report.h) and the numbers behind it
//
// Every figure of every variant and weight set starts from the same x_T (drawn from the seed), and
// every DDPM chain from the same noise stream, so that differences are the models'.
//
//   StudyConfig c;  c.data = "fashion-mnist";  c.budget = 2000;
//   StudyResult r = run_study(c, "study/", events, &stop);
#pragma once
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/plot.h"
#include "samplers/denoise_fn.h"
#include "training/trainer.h"

namespace ddpm {

struct StudyConfig {
  /// Data source for every variant: "fashion-mnist" or a folder (ddpm train --data).
  std::string data = "fashion-mnist";
  /// The presets to train, in page order; the study's four by default.
  std::vector<std::string> variants = {"bk", "bbno", "bbano", "bgano"};
  /// Optimizer steps per variant; 0 keeps the presets' own (20000).
  int64_t budget = 0;
  /// Seed of every variant's training and of the figures' x_T.
  uint64_t seed = 0;
  /// Image side; 0 follows the data (32 for Fashion-MNIST).
  int64_t image_size = 0;
  /// Images per step; 0 keeps the presets' (64).
  int64_t batch_size = 0;
  /// JSON merge patch over every variant's config (a --config file), e.g. a smaller model for a
  /// quick look. It may not name a preset.
  nlohmann::json patch = nlohmann::json::object();
  /// Images in each final grid (DDIM-50, DDIM-100, DDPM); a square number fills the grid.
  int64_t grid_images = 16;
  /// Rows of the per-step strip: the first of the grid's x_T.
  int64_t strip_images = 4;
  /// DDIM steps of the per-step strip (the Keras example plots 20) and of the final grids.
  int64_t strip_steps = 20;
  std::vector<int64_t> ddim_grid_steps = {50, 100};
  /// Steps of the DDPM grid; 0 runs the whole chain (DDPM-1000 for the presets' T).
  int64_t ddpm_steps = 0;
  /// TensorBoard smoothing weight of the loss plot.
  double smoothing = 0.99;
  /// "auto", "cpu", "cuda" or "cuda:N"; CPU threads (0: every core).
  std::string device = "auto";
  int64_t threads = 0;
};

/// One picture of the comparison, for both weight sets.
struct StudyFigureKind {
  std::string key;    ///< file stem, "ddim20_strip"
  std::string title;  ///< "DDIM-20, every step"
  std::string notes;  ///< one line on what it shows
};

struct StudyVariant {
  std::string name;           ///< the preset
  int64_t steps = 0;          ///< optimizer steps trained
  bool reused = false;        ///< the run was already complete in DIR and was not retrained
  double final_loss = 0;      ///< last log row
  double final_smoothed = 0;  ///< last smoothed value
  double train_seconds = 0;   ///< as the checkpoint records it
  int64_t parameters = 0;
  /// figures[weights][kind key] = path relative to DIR ("bk/figures/ema_ddim50.png").
  std::map<std::string, std::map<std::string, std::string>> figures;
  /// The trainer's last periodic grid, relative to DIR ("" when there is none).
  std::string latest_training_grid;
};

struct StudyResult {
  StudyConfig config;
  std::filesystem::path dir;
  std::vector<StudyFigureKind> figure_kinds;
  std::vector<StudyVariant> variants;
  int64_t image_size = 0, channels = 0;
  int64_t train_images = 0, validation_images = 0;
  int64_t num_train_timesteps = 0;
  /// The variants' loss curves as loss.png draws them; the page draws the same as its chart.
  Plot loss_plot;
  bool interrupted = false;  ///< stopped by *stop; the runs resume on the next call
};

struct StudyEvents {
  /// A stage starts: "training bk (1/4)", "figures bk ema", …
  std::function<void(const std::string& message)> on_stage;
  std::function<void(const std::string& variant, const TrainProgress&)> on_train;
  /// Every sampler step of a figure; `what` names it ("bk ema DDPM-1000").
  std::function<void(const std::string& what, const SamplerStep&)> on_sample;
};

/// Trains (or resumes, or reuses when complete) every variant into DIR/<variant>, renders the
/// figures and the loss plot, and writes index.html and study.json. A run already in DIR whose
/// config differs from this study's (other than the step budget) is an error naming the key.
/// Returns early with interrupted = true when *stop turns true (training checkpoints first).
StudyResult run_study(const StudyConfig& config, const std::filesystem::path& dir,
                      const StudyEvents& events = {}, const std::atomic<bool>* stop = nullptr);

}  // namespace ddpm
