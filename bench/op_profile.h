// Per-operator breakdown of a piece of work, from LibTorch's own profiler (the legacy event
// lists behind torch.autograd.profiler, with input shapes and FLOP estimates), so that the
// bench can say where the time goes and how far each kind of operator is from the machine's
// matrix-multiply peak.
//
//   auto profile = profile_ops([&] { train_step(); }, /*repeats=*/3);
//   for (const auto& op : profile.ops) ...   // sorted by self time, slowest first
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace ddpm::bench {

struct OpStats {
  std::string name;      ///< ATen operator, e.g. "aten::mkldnn_convolution"
  std::string category;  ///< convolution, attention, linear, normalization, ...
  double self_ms = 0;    ///< time inside the operator itself, per repeat
  int64_t calls = 0;     ///< per repeat
  double gflop = 0;  ///< FLOPs per repeat: the profiler's estimate (conv, mm, bmm, add, mul) and
                     ///< convolution_backward's from its shapes
};

struct OpProfile {
  std::vector<OpStats> ops;         ///< slowest first
  std::vector<OpStats> categories;  ///< the same, summed by category, slowest first
  double total_ms = 0;              ///< wall time per repeat (profiler on, shapes off)
};

/// Runs `work` `repeats` times under the profiler and aggregates per operator, then once more
/// with the input shapes recorded for the FLOPs. Self time is the
/// operator's range minus the ranges nested inside it on the same thread.
OpProfile profile_ops(const std::function<void()>& work, int repeats);

/// The category an ATen operator counts towards in the README's table.
std::string op_category(const std::string& name);

/// Measured single-precision matrix-multiply rate (GFLOP/s) of an n×n·n×n product on the
/// current threads: the peak the achieved figures are compared with.
double measure_sgemm_gflops(int64_t n = 1024, int repeats = 10);

}  // namespace ddpm::bench
