#include "daneroll/common/files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "daneroll/common/error.hpp"
#include "test_support.hpp"

namespace daneroll {
namespace {

namespace fs = std::filesystem;

mode_t mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0);
    return st.st_mode & 07777;
}

std::size_t entries(const fs::path& dir) {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(AtomicWrite, CreatesFileWithExactModeDespiteUmask) {
    test::TempDir dir;
    const mode_t old = ::umask(077);
    write_file_atomic(dir / "cert.pem", "hello", 0644, Overwrite::No);
    ::umask(old);
    EXPECT_EQ(read_file(dir / "cert.pem"), "hello");
    EXPECT_EQ(mode_of(dir / "cert.pem"), 0644U);
}

TEST(AtomicWrite, RefusesToOverwriteUnlessAskedAndLeavesNoTemporaryFile) {
    test::TempDir dir;
    write_file_atomic(dir / "k", "one", 0600, Overwrite::No);
    try {
        write_file_atomic(dir / "k", "two", 0600, Overwrite::No);
        FAIL() << "overwrote an existing file";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Input);
        EXPECT_NE(std::string(e.what()).find("already exists"), std::string::npos);
    }
    EXPECT_EQ(read_file(dir / "k"), "one");
    EXPECT_EQ(entries(dir.path()), 1U) << "a temporary file was left behind";
    write_file_atomic(dir / "k", "two", 0600, Overwrite::Yes);
    EXPECT_EQ(read_file(dir / "k"), "two");
    EXPECT_EQ(entries(dir.path()), 1U);
}

TEST(AtomicWrite, FailsCleanlyInMissingDirectory) {
    test::TempDir dir;
    EXPECT_THROW(write_file_atomic(dir / "no" / "such" / "f", "x", 0600, Overwrite::No), Error);
}

TEST(ReadFile, NamesTheFileAndEnforcesTheLimit) {
    test::TempDir dir;
    try {
        read_file(dir / "missing");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos);
    }
    test::write_text(dir / "big", std::string(100, 'x'));
    EXPECT_THROW(read_file(dir / "big", 10), Error);
    EXPECT_THROW(read_file(dir.path()), Error);  // a directory is not a regular file
}

TEST(PrivateFiles, DirectoryIsCreated0700AndOpenFilesAreRefused) {
    test::TempDir dir;
    ensure_private_directory(dir / "a" / "b");
    EXPECT_EQ(mode_of(dir / "a" / "b"), 0700U);
    EXPECT_EQ(mode_of(dir / "a"), 0700U);
    test::write_text(dir / "secret", "s");
    ::chmod((dir / "secret").c_str(), 0600);
    EXPECT_NO_THROW(require_private_file(dir / "secret"));
    ::chmod((dir / "secret").c_str(), 0640);
    try {
        require_private_file(dir / "secret");
        FAIL() << "accepted a group-readable secret";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Config);
        EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos);
    }
    ::chmod((dir / "secret").c_str(), 0604);
    EXPECT_THROW(require_private_file(dir / "secret"), Error);
}

}  // namespace
}  // namespace daneroll
