#include "io/torch_pickle.h"

#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

namespace ddpm {

namespace fs = std::filesystem;

namespace {

/// The values the pickle VM builds. Lists and dicts are shared (the memo refers to them).
struct PyObject;
using Obj = std::shared_ptr<PyObject>;
struct PyObject {
  enum Kind { none, boolean, integer, real, string, tuple, list, dict, tensor, global, storage };
  Kind kind = none;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string s;                        ///< string; global: "module.name"; storage: its dtype
  std::vector<Obj> items;               ///< tuple, list
  std::vector<std::pair<Obj, Obj>> kv;  ///< dict, in insertion order
  torch::Tensor t;                      ///< tensor; storage: the flat 1-d storage
};

Obj make(PyObject::Kind k) {
  auto o = std::make_shared<PyObject>();
  o->kind = k;
  return o;
}

const char* kind_name(PyObject::Kind k) {
  static const char* names[] = {"None", "bool", "int",    "float",  "str",    "tuple",
                                "list", "dict", "tensor", "global", "storage"};
  return names[k];
}

/// torch/storage.py's legacy typed storages, by class name.
std::optional<torch::ScalarType> storage_dtype(const std::string& name) {
  static const std::map<std::string, torch::ScalarType> table{
      {"FloatStorage", torch::kFloat32}, {"DoubleStorage", torch::kFloat64},
      {"HalfStorage", torch::kFloat16},  {"BFloat16Storage", torch::kBFloat16},
      {"LongStorage", torch::kInt64},    {"IntStorage", torch::kInt32},
      {"ShortStorage", torch::kInt16},   {"CharStorage", torch::kInt8},
      {"ByteStorage", torch::kUInt8},    {"BoolStorage", torch::kBool}};
  auto it = table.find(name);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

class Unpickler {
 public:
  Unpickler(const char* data, size_t size, caffe2::serialize::PyTorchStreamReader& archive,
            std::string where)
      : p_(data), end_(data + size), archive_(archive), where_(std::move(where)) {}

  Obj run() {
    while (true) {
      const uint8_t op = u8();
      switch (op) {
        case 0x80:
          u8();
          break;  // PROTO
        case 0x95:
          bytes(8);
          break;  // FRAME (protocol 4): the length only
        case '(':
          marks_.push_back(stack_.size());
          break;  // MARK
        case '.':
          return pop();  // STOP
        case 'N':
          push(make(PyObject::none));
          break;
        case 0x88:
          push(boolean(true));
          break;  // NEWTRUE
        case 0x89:
          push(boolean(false));
          break;  // NEWFALSE
        case 'J':
          push(integer(int32_t(le(4))));
          break;  // BININT
        case 'K':
          push(integer(int64_t(le(1))));
          break;  // BININT1
        case 'M':
          push(integer(int64_t(le(2))));
          break;  // BININT2
        case 0x8a:
          push(integer(long_int(size_t(le(1)))));
          break;  // LONG1
        case 0x8b:
          push(integer(long_int(size_t(le(4)))));
          break;  // LONG4
        case 'G':
          push(real_be());
          break;  // BINFLOAT
        case 'X':
          push(text(size_t(le(4))));
          break;  // BINUNICODE
        case 0x8c:
          push(text(size_t(le(1))));
          break;  // SHORT_BINUNICODE
        case 'T':
          push(text(size_t(le(4))));
          break;  // BINSTRING
        case 'U':
          push(text(size_t(le(1))));
          break;  // SHORT_BINSTRING
        case ']':
          push(make(PyObject::list));
          break;  // EMPTY_LIST
        case '}':
          push(make(PyObject::dict));
          break;  // EMPTY_DICT
        case ')':
          push(make(PyObject::tuple));
          break;     // EMPTY_TUPLE
        case 'l': {  // LIST
          auto o = make(PyObject::list);
          o->items = pop_mark();
          push(o);
          break;
        }
        case 't': {  // TUPLE
          auto o = make(PyObject::tuple);
          o->items = pop_mark();
          push(o);
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          auto o = make(PyObject::tuple);
          o->items.resize(op - 0x84);
          for (size_t k = o->items.size(); k-- > 0;) o->items[k] = pop();
          push(o);
          break;
        }
        case 'd': {  // DICT
          auto o = make(PyObject::dict);
          auto items = pop_mark();
          set_items(o, items);
          push(o);
          break;
        }
        case 'a': {  // APPEND
          auto v = pop();
          as(top(), PyObject::list, "APPEND")->items.push_back(v);
          break;
        }
        case 'e': {  // APPENDS
          auto items = pop_mark();
          auto& l = as(top(), PyObject::list, "APPENDS")->items;
          l.insert(l.end(), items.begin(), items.end());
          break;
        }
        case 's': {  // SETITEM
          auto v = pop();
          auto k = pop();
          set_items(as(top(), PyObject::dict, "SETITEM"), {k, v});
          break;
        }
        case 'u': {  // SETITEMS
          auto items = pop_mark();
          set_items(as(top(), PyObject::dict, "SETITEMS"), items);
          break;
        }
        case 'q':
          memo_[le(1)] = top();
          break;  // BINPUT
        case 'r':
          memo_[le(4)] = top();
          break;  // LONG_BINPUT
        case 0x94:
          memo_[memo_.size()] = top();
          break;  // MEMOIZE
        case 'h':
          push(memo(le(1)));
          break;  // BINGET
        case 'j':
          push(memo(le(4)));
          break;     // LONG_BINGET
        case 'c': {  // GLOBAL
          const std::string module = line(), name = line();
          push(global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          auto name = as(pop(), PyObject::string, "STACK_GLOBAL");
          auto module = as(pop(), PyObject::string, "STACK_GLOBAL");
          push(global(module->s, name->s));
          break;
        }
        case 'Q':
          push(persistent(pop()));
          break;     // BINPERSID
        case 'R': {  // REDUCE
          auto args = as(pop(), PyObject::tuple, "REDUCE");
          auto callable = as(pop(), PyObject::global, "REDUCE");
          push(reduce(callable->s, args->items));
          break;
        }
        case 0x81: {  // NEWOBJ: cls.__new__(cls, *args); only OrderedDict is built that way
          auto args = as(pop(), PyObject::tuple, "NEWOBJ");
          auto cls = as(pop(), PyObject::global, "NEWOBJ");
          push(reduce(cls->s, args->items));
          break;
        }
        case 'b': {  // BUILD: an OrderedDict's instance attributes (a state dict's _metadata)
          pop();
          as(top(), PyObject::dict, "BUILD");
          break;
        }
        default:
          fail(fmt::format("pickle opcode 0x{:02x} at byte {} is not one that builds plain data",
                           op, size_t(p_ - 1 - begin())));
      }
    }
  }

 private:
  const char* p_;
  const char* end_;
  const char* begin_ = p_;
  caffe2::serialize::PyTorchStreamReader& archive_;
  std::string where_;
  std::vector<Obj> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, Obj> memo_;
  std::map<std::string, Obj> storages_;

  const char* begin() const { return begin_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(where_ + ": " + what);
  }

  const char* bytes(size_t n) {
    if (size_t(end_ - p_) < n) fail("the pickle ends in the middle of a value");
    const char* at = p_;
    p_ += n;
    return at;
  }
  uint8_t u8() { return uint8_t(*bytes(1)); }
  uint64_t le(size_t n) {
    const char* b = bytes(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= uint64_t(uint8_t(b[k])) << (8 * k);
    return v;
  }
  int64_t long_int(size_t n) {
    if (n > 8) fail("an integer wider than 64 bits");
    const char* b = bytes(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= uint64_t(uint8_t(b[k])) << (8 * k);
    if (n > 0 && n < 8 && (uint8_t(b[n - 1]) & 0x80)) v |= ~uint64_t(0) << (8 * n);  // sign
    return int64_t(v);
  }
  std::string line() {
    const char* nl = static_cast<const char*>(std::memchr(p_, '\n', size_t(end_ - p_)));
    if (!nl) fail("the pickle ends inside a GLOBAL name");
    std::string s(p_, nl);
    p_ = nl + 1;
    return s;
  }

  static Obj boolean(bool v) {
    auto o = make(PyObject::boolean);
    o->b = v;
    return o;
  }
  static Obj integer(int64_t v) {
    auto o = make(PyObject::integer);
    o->i = v;
    return o;
  }
  Obj real_be() {
    const char* b = bytes(8);
    uint64_t bits = 0;
    for (int k = 0; k < 8; ++k) bits = (bits << 8) | uint8_t(b[k]);
    auto o = make(PyObject::real);
    std::memcpy(&o->d, &bits, 8);
    return o;
  }
  Obj text(size_t n) {
    const char* data = bytes(n);
    auto o = make(PyObject::string);
    o->s.assign(data, n);
    return o;
  }

  void push(Obj o) {
    if (stack_.size() > 1000000) fail("more than a million values on the pickle stack");
    stack_.push_back(std::move(o));
  }
  Obj pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
      fail("the pickle pops an empty stack");
    auto o = stack_.back();
    stack_.pop_back();
    return o;
  }
  Obj& top() {
    if (stack_.empty()) fail("the pickle reads an empty stack");
    return stack_.back();
  }
  std::vector<Obj> pop_mark() {
    if (marks_.empty()) fail("the pickle closes a MARK it never opened");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Obj> items(stack_.begin() + std::ptrdiff_t(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  Obj memo(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("the pickle refers to a memo entry it never stored");
    return it->second;
  }
  Obj as(const Obj& o, PyObject::Kind k, const char* op) {
    if (o->kind != k)
      fail(fmt::format("{} expects a {}, found a {}", op, kind_name(k), kind_name(o->kind)));
    return o;
  }
  void set_items(const Obj& dict, const std::vector<Obj>& items) {
    if (items.size() % 2) fail("a dict gets an odd number of keys and values");
    for (size_t k = 0; k < items.size(); k += 2) {
      const auto& key = items[k];
      if (key->kind != PyObject::string && key->kind != PyObject::integer)
        fail(fmt::format("a dict key is a {} (only str and int keys are read)",
                         kind_name(key->kind)));
      dict->kv.emplace_back(key, items[k + 1]);
    }
  }

  Obj global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    const bool known =
        full == "collections.OrderedDict" || full == "torch._utils._rebuild_tensor_v2" ||
        full == "torch._utils._rebuild_tensor" || full == "torch._utils._rebuild_parameter" ||
        (module == "torch" && storage_dtype(name));
    if (!known)
      fail("holds a " + full +
           " object; only tensors, dicts, lists, tuples, numbers, strings and None are read "
           "(no pickled code is run)");
    auto o = make(PyObject::global);
    o->s = full;
    return o;
  }

  /// torch.save's persistent ids: ('storage', storage_type, key, location, numel).
  Obj persistent(const Obj& pid) {
    as(pid, PyObject::tuple, "BINPERSID");
    const auto& f = pid->items;
    if (f.size() != 5 || f[0]->kind != PyObject::string || f[0]->s != "storage" ||
        f[1]->kind != PyObject::global || f[2]->kind != PyObject::string ||
        f[4]->kind != PyObject::integer)
      fail("a persistent id that is not torch.save's ('storage', type, key, location, numel)");
    const auto dot = f[1]->s.rfind('.');
    const auto dtype = storage_dtype(f[1]->s.substr(dot + 1));
    if (!dtype) fail("persistent id of a " + f[1]->s + ", not a tensor storage");
    const std::string& key = f[2]->s;
    if (auto it = storages_.find(key); it != storages_.end()) return it->second;
    const std::string record = "data/" + key;
    if (!archive_.hasRecord(record)) fail("the archive has no record " + record);
    auto [data, size] = archive_.getRecord(record);
    const int64_t element = int64_t(c10::elementSize(*dtype));
    const int64_t numel = f[4]->i;
    if (numel < 0 || int64_t(size) < numel * element)
      fail(fmt::format("storage {} holds {} bytes, fewer than its {} elements of {} bytes", key,
                       size, numel, element));
    auto flat = torch::empty({numel}, torch::TensorOptions().dtype(*dtype));
    std::memcpy(flat.data_ptr(), data.get(), size_t(numel * element));
    auto o = make(PyObject::storage);
    o->t = flat;
    storages_[key] = o;
    return o;
  }

  static bool int_tuple(const Obj& o, std::vector<int64_t>& out) {
    if (o->kind != PyObject::tuple && o->kind != PyObject::list) return false;
    for (const auto& e : o->items) {
      if (e->kind != PyObject::integer) return false;
      out.push_back(e->i);
    }
    return true;
  }

  Obj reduce(const std::string& callable, const std::vector<Obj>& args) {
    if (callable == "collections.OrderedDict") {
      if (!args.empty()) fail("collections.OrderedDict called with arguments");
      return make(PyObject::dict);
    }
    if (callable == "torch._utils._rebuild_parameter") {  // (data, requires_grad, hooks)
      if (args.empty() || args[0]->kind != PyObject::tensor)
        fail("_rebuild_parameter without a tensor");
      return args[0];
    }
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata])
    std::vector<int64_t> size, stride;
    if (args.size() < 4 || args[0]->kind != PyObject::storage ||
        args[1]->kind != PyObject::integer || !int_tuple(args[2], size) ||
        !int_tuple(args[3], stride) || size.size() != stride.size())
      fail(callable + " with arguments that are not (storage, offset, size, stride)");
    const auto& flat = args[0]->t;
    const int64_t offset = args[1]->i;
    int64_t last = offset;  // the largest element index the view reaches
    bool empty = false;
    for (size_t k = 0; k < size.size(); ++k) {
      if (size[k] < 0 || stride[k] < 0) fail("a tensor with a negative size or stride");
      if (size[k] == 0)
        empty = true;
      else if (stride[k] > 0 && size[k] - 1 > (INT64_MAX - last) / stride[k])
        fail("a tensor view overflows");
      else
        last += (size[k] - 1) * stride[k];
    }
    if (offset < 0 || (!empty && last >= flat.numel()))
      fail(fmt::format("a tensor of size {} reaches beyond its storage of {} elements",
                       fmt::join(size, "x"), flat.numel()));
    auto o = make(PyObject::tensor);
    o->t = flat.as_strided(size, stride, offset);
    return o;
  }
};

c10::IValue to_ivalue(const Obj& o, const std::string& where, int depth) {
  if (depth > 64) throw std::runtime_error(where + ": nested more than 64 levels deep");
  switch (o->kind) {
    case PyObject::none:
      return c10::IValue();
    case PyObject::boolean:
      return o->b;
    case PyObject::integer:
      return o->i;
    case PyObject::real:
      return o->d;
    case PyObject::string:
      return o->s;
    case PyObject::tensor:
      return o->t;
    case PyObject::tuple: {
      std::vector<c10::IValue> items;
      for (const auto& e : o->items) items.push_back(to_ivalue(e, where, depth + 1));
      return c10::ivalue::Tuple::create(std::move(items));
    }
    case PyObject::list: {
      c10::impl::GenericList list(c10::AnyType::get());
      for (const auto& e : o->items) list.push_back(to_ivalue(e, where, depth + 1));
      return list;
    }
    case PyObject::dict: {
      c10::impl::GenericDict dict(c10::AnyType::get(), c10::AnyType::get());
      for (const auto& [k, v] : o->kv)
        dict.insert_or_assign(to_ivalue(k, where, depth + 1), to_ivalue(v, where, depth + 1));
      return dict;
    }
    case PyObject::global:
    case PyObject::storage:
      break;
  }
  throw std::runtime_error(where + ": holds a bare " + kind_name(o->kind) +
                           " outside a tensor (only tensors and containers are read)");
}

bool starts_with(const std::vector<char>& data, std::initializer_list<unsigned char> prefix) {
  if (data.size() < prefix.size()) return false;
  size_t i = 0;
  for (unsigned char c : prefix)
    if (static_cast<unsigned char>(data[i++]) != c) return false;
  return true;
}

}  // namespace

c10::IValue read_torch_pickle(const fs::path& path) {
  const std::string where = path.string();
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw std::runtime_error(where + ": cannot read (" + ec.message() + ")");
  if (int64_t(size) > kMaxTorchPickleBytes)
    throw std::runtime_error(fmt::format("{}: {} bytes, more than the {} read at most", where, size,
                                         kMaxTorchPickleBytes));
  std::vector<char> head(16);
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(where + ": cannot read");
    in.read(head.data(), std::streamsize(head.size()));
    head.resize(size_t(in.gcount()));
  }
  // torch/serialization.py: _is_zipfile checks the local-file-header signature; the legacy format
  // starts with the pickled MAGIC_NUMBER 0x1950a86a20f9469cfc6c (protocol 2, LONG1).
  if (!starts_with(head, {'P', 'K', 0x03, 0x04})) {
    if (starts_with(head, {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8}))
      throw std::runtime_error(
          where +
          ": a torch.save file in the legacy format (PyTorch < 1.6), which is not read here; "
          "re-save it in the zip format with PyTorch >= 1.6: python3 -c \"import torch, sys; "
          "torch.save(torch.load(sys.argv[1], map_location='cpu'), sys.argv[2])\" OLD NEW");
    throw std::runtime_error(where +
                             ": not a torch.save file (expected a zip archive, as torch.save "
                             "writes since PyTorch 1.6)");
  }
  try {
    caffe2::serialize::PyTorchStreamReader archive(where);
    if (!archive.hasRecord("data.pkl"))
      throw std::runtime_error(where + ": a zip archive without data.pkl (not a torch.save file)");
    auto [pickle, pickle_size] = archive.getRecord("data.pkl");
    Unpickler unpickler(static_cast<const char*>(pickle.get()), pickle_size, archive, where);
    return to_ivalue(unpickler.run(), where, 0);
  } catch (const c10::Error& e) {  // the zip reader's faults
    std::string msg = e.what_without_backtrace();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    throw std::runtime_error(where + ": not a readable torch.save archive (" + msg + ")");
  }
}

std::string describe_ivalue(const c10::IValue& v) {
  if (v.isGenericDict()) return fmt::format("dict of {}", v.toGenericDict().size());
  if (v.isList()) return fmt::format("list of {}", v.toListRef().size());
  if (v.isTuple()) return fmt::format("tuple of {}", v.toTupleRef().elements().size());
  if (v.isTensor()) return "tensor";
  return v.tagKind();
}

TensorMap tensor_dict(const c10::IValue& value, const std::string& origin) {
  if (!value.isGenericDict())
    throw std::runtime_error(origin + ": expected a state dict (a dict of name → tensor), found " +
                             describe_ivalue(value));
  TensorMap out;
  for (const auto& e : value.toGenericDict()) {
    if (!e.key().isString())
      throw std::runtime_error(origin + ": a state-dict key is a " +
                               std::string(e.key().tagKind()) + ", not a string");
    const std::string& name = e.key().toStringRef();
    if (!e.value().isTensor())
      throw std::runtime_error(origin + ": '" + name + "' is a " + describe_ivalue(e.value()) +
                               ", not a tensor");
    out[name] = e.value().toTensor();
  }
  return out;
}

}  // namespace ddpm
