// File-system primitives with the durability and secrecy guarantees the
// agent relies on: a crash at any instant leaves either the old or the new
// file, never a torn one, and secrets are never readable by others.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace daneroll {

// An owned POSIX file descriptor.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    ~UniqueFd();

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    int release() noexcept;
    // close(2) with its result checked: a failing close can mean lost data.
    void close_checked(const std::filesystem::path& what);

  private:
    int fd_ = -1;
};

enum class Overwrite { No, Yes };

// Writes `content` to `path` atomically and durably: a temporary file in the
// same directory (created with `mode`, which umask cannot widen), write,
// fsync, rename into place (RENAME_NOREPLACE when overwriting is refused),
// then fsync the directory. On any failure the temporary file is removed and
// `path` is untouched. Throws Error(Io), or Error(Input) if the file exists
// and Overwrite::No.
// `group`, if not -1, becomes the file's group (e.g. so an MTA that reads
// its key as an unprivileged user can, with mode 0640).
void write_file_atomic(const std::filesystem::path& path, std::string_view content, mode_t mode,
                       Overwrite overwrite, gid_t group = static_cast<gid_t>(-1));

// The two halves of write_file_atomic, for replacing several files with
// their renames as close together as possible (a key and its chain):
// write_temp_beside writes and fsyncs a temporary file next to `path` and
// returns its name; commit_temp renames it over `path` and fsyncs the
// directory; discard_temp removes it.
std::filesystem::path write_temp_beside(const std::filesystem::path& path, std::string_view content,
                                        mode_t mode, gid_t group = static_cast<gid_t>(-1));
void commit_temp(const std::filesystem::path& temp, const std::filesystem::path& path);
void discard_temp(const std::filesystem::path& temp) noexcept;

// Reads a whole regular file, refusing files larger than `max_bytes`.
std::string read_file(const std::filesystem::path& path, std::size_t max_bytes = 16U << 20U);

// Creates `dir` (and parents) with mode 0700 if missing.
void ensure_private_directory(const std::filesystem::path& dir);

// Throws Error(Config) if `path` (holding a secret) can be read or written by
// group or others, naming the file and the fix.
void require_private_file(const std::filesystem::path& path);

// The gid of a group name; throws Error(Config) if there is no such group.
gid_t group_id(const std::string& name);

// True if group or others have any access to `path`.
bool accessible_by_others(const std::filesystem::path& path);

}  // namespace daneroll
