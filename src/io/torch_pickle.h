// Reading the files PyTorch's torch.save writes, for the papers' own checkpoints (ermongroup/ddim's
// ckpt.pth, improved-diffusion's model*.pt). Since PyTorch 1.6 torch.save writes a zip archive
// (<name>/data.pkl, the pickle, and <name>/data/<key>, one raw storage each; torch/serialization.py
// _save). The archive is read with LibTorch's own zip reader (caffe2::serialize::
// PyTorchStreamReader); the pickle with the small data-only unpickler here, not with
// torch::pickle_load: LibTorch 1.13's unpickler turns every collections.OrderedDict into None
// (torch/csrc/jit/serialization/unpickler.cpp, readGlobal: "OrderedDicts only appear in tensor
// deserialization and their value is never used"), and a state dict is an OrderedDict, so
// pickle_load fails on every state dict torch.save writes ("Expected GenericDict but got None").
// This unpickler runs no pickled code: it implements the opcodes of pickle protocols 2–4 that
// build plain data, and of the globals only collections.OrderedDict, torch._utils'
// _rebuild_tensor_v2 / _rebuild_tensor / _rebuild_parameter and the torch.*Storage types; any
// other class is an error naming it.
//
//   auto value = read_torch_pickle("ckpt.pth");              // [model, optimizer, epoch, step,
//   ema] TensorMap weights = tensor_dict(value.toList().get(0), "ckpt.pth[0]");
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "io/safetensors.h"

namespace ddpm {

/// Largest torch.save file read (a bound on what a file can make us allocate): 16 GiB, far above
/// the largest released improved-diffusion checkpoint (~2.2 GB).
inline constexpr int64_t kMaxTorchPickleBytes = int64_t(16) << 30;

/// Reads a torch.save file in the zip format as an IValue of tensors (CPU, on their own storage
/// copies), GenericDicts, GenericLists, tuples, ints, doubles, strings, bools and None. Throws
/// std::runtime_error naming the file when it is in the legacy (pre-1.6) format (with the
/// one-line re-save command), is not a torch.save file, or holds anything else (naming the class).
c10::IValue read_torch_pickle(const std::filesystem::path& path);

/// A state dict: a dict (or OrderedDict) of string → tensor, as CPU float32-or-wider tensors by
/// name. Throws std::runtime_error naming `origin` and the offending key when the value is not a
/// dict, a key is not a string or a value is not a tensor.
TensorMap tensor_dict(const c10::IValue& value, const std::string& origin);

/// One line describing a value's type for error messages: "dict of 144", "list of 5", "int", ...
std::string describe_ivalue(const c10::IValue& value);

}  // namespace ddpm
