#include "daneroll/mta/installer.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "daneroll/common/error.hpp"
#include "daneroll/common/files.hpp"
#include "test_support.hpp"

namespace daneroll::mta {
namespace {

struct FileMode {
    mode_t mode;
    gid_t gid;
};

FileMode mode_of(const std::filesystem::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return {st.st_mode & 07777, st.st_gid};
}

config::Service service(const test::TempDir& dir, bool combined) {
    config::Service s;
    s.id = "mx1";
    s.host = "mx1.example.test";
    s.mta.type = combined ? config::MtaType::Postfix : config::MtaType::Exim;
    if (combined) {
        s.mta.combined_file = (dir / "{algorithm}.pem").string();
    } else {
        s.mta.key_file = (dir / "mx.key").string();
        s.mta.chain_file = (dir / "mx.crt").string();
    }
    return s;
}

TEST(Installer, CombinedFileIsReplacedWithABackupAndReadBack) {
    test::TempDir dir;
    const auto svc = service(dir, true);
    Installer inst(svc, KeyAlgorithm::EcdsaP256);
    EXPECT_FALSE(inst.read_installed().has_value());
    const auto old_pki = test::make_pki(KeyAlgorithm::EcdsaP256, 2);
    inst.install(old_pki.keys[0], old_pki.chain);
    const auto live = dir / "ecdsa-p256.pem";
    EXPECT_EQ(mode_of(live).mode, 0600U);
    const auto first = inst.read_installed();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->chain_pem, chain_to_pem(old_pki.chain));
    EXPECT_EQ(first->key->spki_der(), old_pki.keys[0].spki_der());

    const auto next = test::make_pki(KeyAlgorithm::EcdsaP256, 1);
    inst.install(next.keys[0], next.chain);
    EXPECT_EQ(inst.read_installed()->chain_pem, chain_to_pem(next.chain));
    // A retried install of the same files keeps the backup of the previous.
    inst.install(next.keys[0], next.chain);
    EXPECT_EQ(read_file(live.string() + ".daneroll-previous"),
              old_pki.keys[0].to_pem() + chain_to_pem(old_pki.chain));
    ASSERT_TRUE(inst.restore_backup());
    EXPECT_EQ(inst.read_installed()->chain_pem, chain_to_pem(old_pki.chain));
}

TEST(Installer, SeparateFilesAndAKeyGroupForAnUnprivilegedMta) {
    test::TempDir dir;
    auto svc = service(dir, false);
    svc.mta.key_group = "daemon";  // exists on every Debian system
    Installer inst(svc, KeyAlgorithm::EcdsaP256);
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 2);
    inst.install(pki.keys[0], pki.chain);
    const auto key = mode_of(dir / "mx.key");
    EXPECT_EQ(key.mode, 0640U);
    EXPECT_EQ(key.gid, group_id("daemon"));
    EXPECT_EQ(mode_of(dir / "mx.crt").mode, 0644U);
    EXPECT_EQ(inst.read_installed()->chain_pem, chain_to_pem(pki.chain));
}

TEST(Installer, UnknownKeyGroupIsAConfigError) {
    test::TempDir dir;
    auto svc = service(dir, true);
    svc.mta.key_group = "no-such-group-daneroll";
    Installer inst(svc, KeyAlgorithm::EcdsaP256);
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 1);
    try {
        inst.install(pki.keys[0], pki.chain);
        FAIL() << "installed with an unknown group";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Config);
        EXPECT_NE(std::string(e.what()).find("no-such-group-daneroll"), std::string::npos);
    }
    EXPECT_FALSE(inst.read_installed().has_value()) << "a failed install left a file behind";
}

// The command MTA takes files through its install command (here: a copy
// to where the "MTA" reads them). A rollback must reach the MTA the same
// way, or it keeps serving the chain that failed.
TEST(Installer, CommandMtaRunsTheInstallCommandOnInstallAndOnRestore) {
    test::TempDir dir;
    auto svc = service(dir, false);
    svc.mta.type = config::MtaType::Command;
    const auto served = dir / "what-the-mta-reads.crt";
    svc.mta.install = {"/bin/cp", "{chain}", served.string()};
    Installer inst(svc, KeyAlgorithm::EcdsaP256);
    const auto old_pki = test::make_pki(KeyAlgorithm::EcdsaP256, 2);
    inst.install(old_pki.keys[0], old_pki.chain);
    EXPECT_EQ(read_file(served), chain_to_pem(old_pki.chain));
    const auto next = test::make_pki(KeyAlgorithm::EcdsaP256, 1);
    inst.install(next.keys[0], next.chain);
    EXPECT_EQ(read_file(served), chain_to_pem(next.chain));
    ASSERT_TRUE(inst.restore_backup());
    EXPECT_EQ(read_file(served), chain_to_pem(old_pki.chain))
        << "the rollback never reached the MTA";
}

TEST(Installer, AFailingInstallCommandIsAnErrorNamingIt) {
    test::TempDir dir;
    auto svc = service(dir, false);
    svc.mta.type = config::MtaType::Command;
    svc.mta.install = {"/bin/false", "{chain}"};
    Installer inst(svc, KeyAlgorithm::EcdsaP256);
    const auto pki = test::make_pki(KeyAlgorithm::EcdsaP256, 1);
    try {
        inst.install(pki.keys[0], pki.chain);
        FAIL() << "a failing install command went unnoticed";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Io);
        EXPECT_NE(std::string(e.what()).find("/bin/false"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace daneroll::mta
