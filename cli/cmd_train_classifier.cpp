// ddpm train-classifier: train the Fashion-MNIST feature classifier (eval/fashion_classifier.h)
// whose features give the in-domain Fréchet distance, and save its weights.
#include <chrono>

#include <fmt/format.h>

#include "commands.h"
#include "data/dataset.h"
#include "eval/classifier_training.h"
#include "progress.h"
#include "runs/threads.h"

namespace ddpm::cli {

namespace {

struct TrainClassifierFlags {
  std::string out = "fashion_mnist_classifier.safetensors";
  ClassifierTrainingOptions options;
  int64_t limit = 0;
  int64_t threads = 0;
};

constexpr double kRequiredAccuracy = 0.90;  // issue #5: the shipped weights must reach this

}  // namespace

Run add_train_classifier(CLI::App& app) {
  auto flags = std::make_shared<TrainClassifierFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "train-classifier",
      "Train the Fashion-MNIST classifier whose features give the in-domain FD/KID");
  cmd->footer(
      "Trains on the 60000 Fashion-MNIST training images (28x28 zero-padded to 32x32, [-1,1]) and "
      "reports accuracy on the 10000 test images. The repository ships the result as "
      "assets/fashion_mnist_classifier.safetensors; see docs/evaluation.md.");
  cmd->add_option("--out", f.out, "Weights file to write (.safetensors)");
  cmd->add_option("--epochs", f.options.epochs, "Passes over the training images")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch-size", f.options.batch_size, "Images per Adam step")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--lr", f.options.lr, "Peak Adam learning rate (cosine-decayed to 0)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", f.options.seed, "Seed of the initial weights and the shuffles");
  cmd->add_option("--limit", f.limit, "Train on only the first N images (quick tests)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--threads", f.threads, "CPU threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);

  return [flags]() -> int {
    auto& f = *flags;
    configure_cpu_threads(f.threads);
    DataConfig config;  // fashion-mnist, 32x32, [-1,1]
    Dataset data = load_dataset(config);
    auto train = data.train, labels = *data.train_labels;
    if (f.limit > 0 && f.limit < train.size(0)) {
      train = train.slice(0, 0, f.limit);
      labels = labels.slice(0, 0, f.limit);
    }
    if (f.options.batch_size > train.size(0))
      throw std::invalid_argument(fmt::format("--batch-size {} exceeds the {} training images",
                                              f.options.batch_size, train.size(0)));
    fmt::print("training the Fashion-MNIST classifier on {} images, {} epochs\n", train.size(0),
               f.options.epochs);
    ProgressLine line;
    ClassifierTrainingEvents events;
    const auto start = std::chrono::steady_clock::now();
    events.on_step = [&](int64_t step, int64_t steps, double loss) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      line.update(fmt::format("step {}/{}  loss {:.4f}  ETA {}", step, steps, loss,
                              format_duration(elapsed / double(step) * double(steps - step))));
    };
    events.on_epoch = [&](const ClassifierEpoch& e) {
      line.finish();
      fmt::print(
          "epoch {}/{}: train loss {:.4f}, train accuracy {:.2f}%, test accuracy {:.2f}% "
          "({})\n",
          e.epoch, e.epochs, e.train_loss, 100 * e.train_accuracy, 100 * e.test_accuracy,
          format_duration(e.seconds));
    };
    auto result = train_fashion_classifier(f.options, train, labels, data.validation,
                                           *data.validation_labels, events);
    save_fashion_classifier(f.out, result.model,
                            {{"test_accuracy", fmt::format("{:.4f}", result.test_accuracy)},
                             {"epochs", std::to_string(f.options.epochs)},
                             {"train_images", std::to_string(train.size(0))},
                             {"seed", std::to_string(f.options.seed)},
                             {"input", "1x32x32 in [-1,1] (Fashion-MNIST 28x28 zero-padded)"},
                             {"trained_by", "ddpm train-classifier"}});
    fmt::print("test accuracy {:.2f}% after {} of training; wrote {}\n", 100 * result.test_accuracy,
               format_duration(result.seconds), f.out);
    if (result.test_accuracy < kRequiredAccuracy)
      fmt::print(stderr,
                 "warning: test accuracy below {:.0f}%; train longer (--epochs) before using these "
                 "weights for FD/KID\n",
                 100 * kRequiredAccuracy);
    return 0;
  };
}

}  // namespace ddpm::cli
