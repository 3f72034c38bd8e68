#include "daneroll/common/files.hpp"

#include <fcntl.h>
#include <grp.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE (glibc >= 2.28)
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "daneroll/common/error.hpp"

namespace daneroll {

namespace fs = std::filesystem;

namespace {

std::string errno_text(int err) {
    return std::strerror(err);
}

[[noreturn]] void fail_io(const std::string& what, const fs::path& path, int err) {
    fail(ErrorKind::Io, what + " " + path.string() + ": " + errno_text(err));
}

std::string random_suffix() {
    static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::random_device rd;
    std::string s;
    for (int i = 0; i < 12; ++i) {
        s.push_back(kChars[rd() % (sizeof(kChars) - 1)]);
    }
    return s;
}

void write_all(int fd, std::string_view content, const fs::path& path) {
    const char* p = content.data();
    std::size_t left = content.size();
    while (left > 0) {
        const ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail_io("cannot write", path, errno);
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

void fsync_directory(const fs::path& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) {
        fail_io("cannot open directory", dir, errno);
    }
    if (::fsync(fd.get()) != 0) {
        fail_io("cannot fsync directory", dir, errno);
    }
    fd.close_checked(dir);
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = other.release();
    }
    return *this;
}

UniqueFd::~UniqueFd() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

int UniqueFd::release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
}

void UniqueFd::close_checked(const fs::path& what) {
    const int fd = release();
    if (fd >= 0 && ::close(fd) != 0) {
        fail_io("cannot close", what, errno);
    }
}

fs::path write_temp_beside(const fs::path& path, std::string_view content, mode_t mode,
                           gid_t group) {
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    const fs::path tmp = dir / ("." + path.filename().string() + ".tmp-" + random_suffix());
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
    if (!fd.valid()) {
        fail_io("cannot create", tmp, errno);
    }
    try {
        // The umask may have narrowed `mode`, never widened it; fchmod makes
        // the result exact (e.g. 0644 for a certificate under umask 077).
        if (group != static_cast<gid_t>(-1) &&
            ::fchown(fd.get(), static_cast<uid_t>(-1), group) != 0) {
            fail_io("cannot change the group of", tmp, errno);
        }
        if (::fchmod(fd.get(), mode) != 0) {
            fail_io("cannot chmod", tmp, errno);
        }
        write_all(fd.get(), content, tmp);
        if (::fsync(fd.get()) != 0) {
            fail_io("cannot fsync", tmp, errno);
        }
        fd.close_checked(tmp);
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    return tmp;
}

void commit_temp(const fs::path& temp, const fs::path& path) {
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        fail_io("cannot rename into place", path, err);
    }
    fsync_directory(path.has_parent_path() ? path.parent_path() : fs::path("."));
}

void discard_temp(const fs::path& temp) noexcept {
    ::unlink(temp.c_str());
}

void write_file_atomic(const fs::path& path, std::string_view content, mode_t mode,
                       Overwrite overwrite, gid_t group) {
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    const fs::path tmp = write_temp_beside(path, content, mode, group);
    try {
        if (overwrite == Overwrite::Yes) {
            if (::rename(tmp.c_str(), path.c_str()) != 0) {
                fail_io("cannot rename into place", path, errno);
            }
        } else if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) !=
                   0) {
            const int err = errno;
            if (err == EEXIST) {
                fail(ErrorKind::Input,
                     path.string() + " already exists; refusing to overwrite it (use --force)");
            }
            fail_io("cannot rename into place", path, err);
        }
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    fsync_directory(dir);
}

std::string read_file(const fs::path& path, std::size_t max_bytes) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        fail_io("cannot open", path, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        fail_io("cannot stat", path, errno);
    }
    if (!S_ISREG(st.st_mode)) {
        fail(ErrorKind::Io, path.string() + " is not a regular file");
    }
    if (static_cast<std::size_t>(st.st_size) > max_bytes) {
        fail(ErrorKind::Input, path.string() + " is larger than " + std::to_string(max_bytes) +
                                   " bytes; refusing to read it");
    }
    std::string out;
    std::array<char, 8192> buf{};
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail_io("cannot read", path, errno);
        }
        if (n == 0) {
            break;
        }
        out.append(buf.data(), static_cast<std::size_t>(n));
        if (out.size() > max_bytes) {
            fail(ErrorKind::Input, path.string() + " grew beyond " + std::to_string(max_bytes) +
                                       " bytes while being read");
        }
    }
    return out;
}

void ensure_private_directory(const fs::path& dir) {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) {
        return;
    }
    if (dir.has_parent_path() && dir.parent_path() != dir) {
        ensure_private_directory(dir.parent_path());
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        fail_io("cannot create directory", dir, errno);
    }
}

gid_t group_id(const std::string& name) {
    std::vector<char> buf(16384);
    struct group grp {};
    struct group* found = nullptr;
    if (::getgrnam_r(name.c_str(), &grp, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
        fail(ErrorKind::Config, "there is no group '" + name + "' on this host");
    }
    return found->gr_gid;
}

bool accessible_by_others(const fs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        fail_io("cannot stat", path, errno);
    }
    return (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
}

void require_private_file(const fs::path& path) {
    if (accessible_by_others(path)) {
        fail(ErrorKind::Config, path.string() +
                                    " holds a secret but is accessible by group or others; "
                                    "run: chmod 600 " +
                                    path.string());
    }
}

}  // namespace daneroll
