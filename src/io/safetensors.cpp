// safetensors reader and writer following the format section of
// https://github.com/huggingface/safetensors (README) and its Rust reference (safetensors/src/
// tensor.rs): header length ≤ 100 MB, header starts with '{', no duplicate keys, the byte buffer
// entirely indexed (no holes, no overlaps), header padded with spaces to a multiple of 8 bytes.
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/atomic_file.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian");

namespace ddpm {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the Rust reference's MAX_HEADER_SIZE

struct DtypeName {
  const char* name;
  torch::ScalarType type;
};

constexpr DtypeName kDtypes[] = {
    {"F64", torch::kFloat64},   {"F32", torch::kFloat32}, {"F16", torch::kFloat16},
    {"BF16", torch::kBFloat16}, {"I64", torch::kInt64},   {"I32", torch::kInt32},
    {"I16", torch::kInt16},     {"I8", torch::kInt8},     {"U8", torch::kUInt8},
    {"BOOL", torch::kBool},
};

std::string known_dtypes() {
  std::string s;
  for (const auto& d : kDtypes) s += (s.empty() ? "" : ", ") + std::string(d.name);
  return s;
}

/// A private copy-on-write mapping of a whole file; the descriptor is closed once mapped. The
/// pages are prefaulted read-only (MAP_POPULATE on a read-only mapping, then made writable):
/// reading tensors costs no page faults, and a write copies only the page it touches, privately.
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(path.string() + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      throw std::runtime_error(path.string() + ": cannot stat: " + std::strerror(err));
    }
    size_ = size_t(st.st_size);
    if (size_ > 0) {
      // Populating a writable private mapping would copy every page (the kernel breaks COW
      // when it prefaults one), so map read-only, populate, and only then allow writes.
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        throw std::runtime_error(path.string() + ": cannot mmap: " + std::strerror(err));
      }
      data_ = static_cast<uint8_t*>(p);
      if (::mprotect(p, size_, PROT_READ | PROT_WRITE) != 0) {
        const int err = errno;
        ::munmap(p, size_);
        ::close(fd);
        throw std::runtime_error(path.string() + ": cannot mprotect: " + std::strerror(err));
      }
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_) ::munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

struct Entry {
  std::string name;
  torch::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

/// Parses the header JSON, rejecting duplicate top-level keys (the spec disallows them; a plain
/// parse would keep the last one silently).
nlohmann::json parse_header(const char* begin, size_t size, const std::string& where) {
  std::set<std::string> seen;
  std::string duplicate;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (depth == 1 && event == nlohmann::json::parse_event_t::key &&
        !seen.insert(parsed.get<std::string>()).second && duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(begin, begin + size, callback);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(where + ": header is not valid JSON (" + e.what() + ")");
  }
  if (!duplicate.empty())
    throw std::runtime_error(where + ": header has the key '" + duplicate + "' twice");
  if (!header.is_object())
    throw std::runtime_error(where + ": header must be a JSON object, found " +
                             std::string(header.type_name()));
  return header;
}

Entry parse_entry(const std::string& name, const nlohmann::json& info, uint64_t data_size,
                  const std::string& where) {
  const std::string at = where + ": tensor '" + name + "': ";
  if (!info.is_object())
    throw std::runtime_error(at + "expected an object with dtype, shape, data_offsets, found " +
                             info.dump());
  Entry e{name, torch::kFloat32, {}, 0, 0};

  auto dtype = info.find("dtype");
  if (dtype == info.end() || !dtype->is_string())
    throw std::runtime_error(at + "expected a string dtype, found " +
                             (dtype == info.end() ? "none" : dtype->dump()));
  const auto* known = std::find_if(std::begin(kDtypes), std::end(kDtypes),
                                   [&](const auto& d) { return *dtype == d.name; });
  if (known == std::end(kDtypes))
    throw std::runtime_error(at + "unsupported dtype " + dtype->dump() +
                             " (supported: " + known_dtypes() + ")");
  e.dtype = known->type;

  auto shape = info.find("shape");
  if (shape == info.end() || !shape->is_array())
    throw std::runtime_error(at + "expected shape as a list of non-negative integers, found " +
                             (shape == info.end() ? "none" : shape->dump()));
  for (const auto& dim : *shape) {
    if (!dim.is_number_unsigned() || dim.get<uint64_t>() > uint64_t(INT64_MAX))
      throw std::runtime_error(at + "expected shape as a list of non-negative integers, found " +
                               shape->dump());
    e.shape.push_back(dim.get<int64_t>());
  }
  // Checked even past a zero dimension: torch's strides multiply the other dimensions too.
  uint64_t bytes = torch::elementSize(e.dtype);
  for (const int64_t dim : e.shape)
    if (__builtin_mul_overflow(bytes, uint64_t(std::max<int64_t>(dim, 1)), &bytes) ||
        bytes > uint64_t(INT64_MAX))
      throw std::runtime_error(at + "shape " + shape->dump() + " overflows the byte count");
  if (std::count(e.shape.begin(), e.shape.end(), 0) > 0) bytes = 0;

  auto offsets = info.find("data_offsets");
  if (offsets == info.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
    throw std::runtime_error(at + "expected data_offsets as [begin, end], found " +
                             (offsets == info.end() ? "none" : offsets->dump()));
  e.begin = (*offsets)[0].get<uint64_t>();
  e.end = (*offsets)[1].get<uint64_t>();
  if (e.begin > e.end)
    throw std::runtime_error(at + "data_offsets " + offsets->dump() + " begin after they end");
  if (e.end > data_size)
    throw std::runtime_error(at + "data_offsets " + offsets->dump() +
                             " out of bounds of the data section (" + std::to_string(data_size) +
                             " bytes)");
  if (e.end - e.begin != bytes)
    throw std::runtime_error(at + "data_offsets " + offsets->dump() + " span " +
                             std::to_string(e.end - e.begin) + " bytes, but " + dtype->dump() +
                             " " + shape->dump() + " needs " + std::to_string(bytes));
  return e;
}

std::map<std::string, std::string> parse_metadata(const nlohmann::json& meta,
                                                  const std::string& where) {
  if (!meta.is_object())
    throw std::runtime_error(where + ": __metadata__ must be an object of strings, found " +
                             meta.dump());
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : meta.items()) {
    if (!value.is_string())
      throw std::runtime_error(where + ": __metadata__ '" + key + "' must be a string, found " +
                               value.dump());
    out[key] = value.get<std::string>();
  }
  return out;
}

const char* dtype_name(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (d.type == type) return d.name;
  return nullptr;
}

}  // namespace

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  const std::string where = path.string();
  // Shared by every tensor read from it: the mapping lives as long as the last of them.
  const auto mapping = std::make_shared<const MappedFile>(path);
  const MappedFile& file = *mapping;
  if (file.size() < 8)
    throw std::runtime_error(where + ": file is " + std::to_string(file.size()) +
                             " bytes, too short for the 8-byte header length");
  uint64_t header_size = 0;
  std::memcpy(&header_size, file.data(), 8);
  if (header_size > kMaxHeaderBytes || header_size > file.size() - 8)
    throw std::runtime_error(where + ": header length " + std::to_string(header_size) +
                             " exceeds the file (" + std::to_string(file.size()) +
                             " bytes) or the 100 MB limit");
  const char* header_text = reinterpret_cast<const char*>(file.data() + 8);
  if (header_size == 0 || header_text[0] != '{')
    throw std::runtime_error(where + ": header must start with '{'");
  const nlohmann::json header = parse_header(header_text, header_size, where);

  uint8_t* data = file.data() + 8 + header_size;
  const uint64_t data_size = file.size() - 8 - header_size;
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__")
      out.metadata = parse_metadata(info, where);
    else
      entries.push_back(parse_entry(name, info, data_size, where));
  }

  // The buffer must be entirely indexed: sorted by offset, each tensor starts where the last ended.
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
  });
  uint64_t cursor = 0;
  for (const Entry* e : by_offset) {
    if (e->begin != cursor)
      throw std::runtime_error(
          where + ": tensor '" + e->name + "' starts at byte " + std::to_string(e->begin) +
          " of the data section, expected " + std::to_string(cursor) +
          (e->begin < cursor ? " (overlaps the previous tensor)" : " (hole between tensors)"));
    cursor = e->end;
  }
  if (cursor != data_size)
    throw std::runtime_error(where + ": tensors cover " + std::to_string(cursor) +
                             " bytes, but the data section holds " + std::to_string(data_size));

  // Tensors view the mapping where their bytes are aligned for their dtype (every file this
  // project or the safetensors library writes); a misaligned tensor gets a copy.
  for (const auto& e : entries) {
    uint8_t* src = data + e.begin;
    const auto options = torch::TensorOptions().dtype(e.dtype);
    if (e.dtype == torch::kBool &&
        std::any_of(src, src + (e.end - e.begin), [](uint8_t b) { return b > 1; }))
      throw std::runtime_error(where + ": tensor '" + e.name +
                               "' is BOOL but holds bytes other than 0 and 1");
    torch::Tensor t;
    if (e.end > e.begin && reinterpret_cast<uintptr_t>(src) % torch::elementSize(e.dtype) == 0) {
      t = torch::from_blob(
          src, e.shape, [mapping](void*) {}, options);
    } else {
      t = torch::empty(e.shape, options);
      if (e.end > e.begin) std::memcpy(t.data_ptr(), src, e.end - e.begin);
    }
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

void write_safetensors(const std::filesystem::path& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Tensors by name, then __metadata__: the layout of the safetensors release that wrote the
  // diffusers fixtures, so a file read and written again is identical byte for byte.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  std::vector<torch::Tensor> cpu;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    const std::string at = path.string() + ": tensor '" + name + "' ";
    if (name == "__metadata__")
      throw std::invalid_argument(at + "uses the reserved name of the metadata entry");
    if (!tensor.defined()) throw std::invalid_argument(at + "is undefined");
    if (tensor.layout() != torch::kStrided)
      throw std::invalid_argument(at + "must be dense (strided), found a sparse layout");
    const char* dtype = dtype_name(tensor.scalar_type());
    if (!dtype)
      throw std::invalid_argument(at + "has dtype " +
                                  std::string(c10::toString(tensor.scalar_type())) +
                                  "; supported: " + known_dtypes());
    cpu.push_back(tensor.detach().to(torch::kCPU).contiguous());
    const uint64_t bytes = cpu.back().nbytes();
    header[name] = {{"dtype", dtype},
                    {"shape", tensor.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // names or metadata that are not UTF-8
    throw std::invalid_argument(path.string() + ": cannot encode the header: " + e.what());
  }
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  const uint64_t header_size = header_text.size();
  char length[8];
  std::memcpy(length, &header_size, 8);
  std::vector<std::string_view> pieces{{length, 8}, header_text};
  for (const auto& t : cpu) pieces.emplace_back(static_cast<const char*>(t.data_ptr()), t.nbytes());
  write_file_atomic(path, pieces);
}

}  // namespace ddpm
