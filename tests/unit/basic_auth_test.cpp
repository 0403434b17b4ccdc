#include <crypt.h>
#include <openssl/evp.h>

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "web/basic_auth.h"
#include "web/bcrypt.h"
#include "web/credential_cache.h"

namespace ipcwatch {
namespace {

// A fresh bcrypt hash of `password` from the system's crypt(), at the cheapest cost.
std::string bcryptHash(const std::string& password, const char* prefix = "$2y$") {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn(prefix, 4, nullptr, 0, setting, sizeof setting), nullptr);
  auto data = std::make_unique<crypt_data>();
  return crypt_r(password.c_str(), setting, data.get());
}

std::string basicHeader(const std::string& credentials) {
  std::string encoded((credentials.size() + 2) / 3 * 4 + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                     reinterpret_cast<const unsigned char*>(credentials.data()),
                                     static_cast<int>(credentials.size()));
  encoded.resize(static_cast<std::size_t>(length));
  return "Basic " + encoded;
}

TEST(BcryptTest, RecognisesBcryptHashesOnly) {
  EXPECT_TRUE(isBcryptHash(bcryptHash("pw")));
  EXPECT_TRUE(isBcryptHash(bcryptHash("pw", "$2b$")));
  EXPECT_FALSE(isBcryptHash(""));
  EXPECT_FALSE(isBcryptHash("$1$abc$defdefdefdef"));                   // MD5-crypt
  EXPECT_FALSE(isBcryptHash(bcryptHash("pw").substr(0, 59)));          // truncated
  EXPECT_FALSE(isBcryptHash("$2y$99$" + bcryptHash("pw").substr(7)));  // cost out of range
  EXPECT_FALSE(isBcryptHash("$2y$04$" + std::string(53, '!')));        // not bcrypt base64
}

TEST(BcryptTest, MatchesOnlyTheRightPassword) {
  const std::string hash = bcryptHash("correct horse");
  EXPECT_TRUE(bcryptMatches("correct horse", hash));
  EXPECT_FALSE(bcryptMatches("correct horsE", hash));
  EXPECT_FALSE(bcryptMatches("", hash));
  EXPECT_FALSE(bcryptMatches(std::string("correct horse\0x", 15), hash));  // embedded NUL
  EXPECT_FALSE(bcryptMatches("correct horse", "$2y$04$invalid"));
}

TEST(BasicAuthTest, DisabledWithoutUsers) {
  EXPECT_FALSE(BasicAuth({}).enabled());
}

TEST(BasicAuthTest, AllowsTheRightCredentialsOnly) {
  const BasicAuth auth({{"prometheus", bcryptHash("s3cr:et")}, {"bob", bcryptHash("b")}});
  ASSERT_TRUE(auth.enabled());
  EXPECT_TRUE(auth.allows(basicHeader("prometheus:s3cr:et").c_str()));  // ':' in a password
  EXPECT_TRUE(auth.allows(basicHeader("bob:b").c_str()));
  EXPECT_FALSE(auth.allows(basicHeader("prometheus:wrong").c_str()));
  EXPECT_FALSE(auth.allows(basicHeader("prometheus:").c_str()));
  EXPECT_FALSE(auth.allows(basicHeader("bob:s3cr:et").c_str()));  // another user's password
  EXPECT_FALSE(auth.allows(basicHeader("mallory:b").c_str()));    // unknown user
  EXPECT_FALSE(auth.allows(basicHeader("prometheus").c_str()));   // no ':'
  EXPECT_FALSE(auth.allows(nullptr));
  EXPECT_FALSE(auth.allows(""));
  EXPECT_FALSE(auth.allows("Bearer abc"));
  EXPECT_FALSE(auth.allows("Basic !!!!"));
  EXPECT_FALSE(auth.allows(("Basic " + std::string(4096, 'A')).c_str()));
  EXPECT_TRUE(auth.allows(("basic " + basicHeader("bob:b").substr(6)).c_str()));  // scheme case
}

TEST(BasicAuthTest, RightCredentialsAreRememberedWrongOnesNever) {
  const BasicAuth auth({{"prometheus", bcryptHash("pw")}, {"bob", bcryptHash("b")}});
  EXPECT_TRUE(auth.allows(basicHeader("prometheus:pw").c_str()));
  EXPECT_EQ(auth.bcryptChecks(), 1u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(auth.allows(basicHeader("prometheus:pw").c_str()));
  }
  EXPECT_EQ(auth.bcryptChecks(), 1u);  // the repeats came from the cache
  for (int i = 0; i < 2; ++i) {
    EXPECT_FALSE(auth.allows(basicHeader("prometheus:pW").c_str()));
    EXPECT_FALSE(auth.allows(basicHeader("bob:pw").c_str()));  // the cached password, other user
    EXPECT_FALSE(auth.allows(basicHeader("nobody:pw").c_str()));
  }
  EXPECT_EQ(auth.bcryptChecks(), 7u);  // every refusal paid for its bcrypt
}

TEST(CredentialCacheTest, KeepsTheNewestEntriesOnly) {
  CredentialCache cache;
  const std::string hash = "$2y$04$" + std::string(53, 'a');
  EXPECT_FALSE(cache.contains("u", "p0", hash));
  for (std::size_t i = 0; i <= CredentialCache::kSlots; ++i) {
    cache.add("u", "p" + std::to_string(i), hash);
  }
  EXPECT_FALSE(cache.contains("u", "p0", hash));  // the oldest made room
  EXPECT_TRUE(cache.contains("u", "p1", hash));
  EXPECT_TRUE(cache.contains("u", "p" + std::to_string(CredentialCache::kSlots), hash));
  EXPECT_FALSE(cache.contains("u", "p1", "$2y$04$" + std::string(53, 'b')));  // hash changed
  EXPECT_FALSE(cache.contains("up", "1", hash));  // the same bytes split differently
}

}  // namespace
}  // namespace ipcwatch
