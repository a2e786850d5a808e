// Crash-safe file replacement: write to a temporary sibling, fsync, rename over the target.
// A reader sees either the old file or the new one, never a partial write.
#pragma once
#include <filesystem>
#include <string_view>
#include <vector>

namespace ddpm {

/// Throws std::runtime_error naming the path and the OS error; the temporary file is removed.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

/// The same for bytes given in pieces (written in order, without joining them in memory first).
void write_file_atomic(const std::filesystem::path& path,
                       const std::vector<std::string_view>& pieces);

/// fsync a directory, so that renames inside it survive a power loss.
void sync_directory(const std::filesystem::path& dir);

}  // namespace ddpm
