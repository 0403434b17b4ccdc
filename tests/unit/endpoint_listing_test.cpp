// The filters and renderings of `ipcwatch endpoints` over hand-made endpoints.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "endpoints/endpoint_listing.h"

namespace ipcwatch {
namespace {

using ::testing::HasSubstr;

ListedEndpoint fifo() {
  ListedEndpoint e;
  e.type = "fifo";
  e.name = "/run/opensips/mi_fifo";
  e.uid = 0;
  e.gid = 0;
  e.mode = 0620;
  e.label = "system_u:object_r:opensips_var_run_t:s0";
  e.ns_kind = "mnt";
  e.ns = 4026531832;
  e.holders = {{2790, "opensips", "system_u:system_r:opensips_t:s0", "read"},
               {2817, "httpd", "system_u:system_r:httpd_t:s0", "write"}};
  return e;
}

ListedEndpoint socket(const std::string& type, const std::string& name) {
  ListedEndpoint e;
  e.type = type;
  e.name = name;
  e.ns_kind = "net";
  e.ns = 4026531840;
  return e;
}

TEST(EndpointListing, FiltersByTypePathPidAndContext) {
  const auto f = fifo();
  EXPECT_TRUE(matchesFilter(f, {}));
  EXPECT_TRUE(matchesFilter(f, {"fifo", "", std::nullopt, ""}));
  EXPECT_FALSE(matchesFilter(f, {"unix", "", std::nullopt, ""}));
  EXPECT_TRUE(matchesFilter(socket("unix_dgram", "/dev/log"), {"unix", "", std::nullopt, ""}));
  EXPECT_FALSE(matchesFilter(socket("unix_dgram", "/dev/log"), {"unix_stream", "", {}, ""}));
  EXPECT_TRUE(matchesFilter(socket("sysv_shm", "0x0001e240"), {"sysv", "", std::nullopt, ""}));
  EXPECT_TRUE(matchesFilter(f, {"", "/run/opensips/", std::nullopt, ""}));
  EXPECT_FALSE(matchesFilter(f, {"", "/tmp/", std::nullopt, ""}));
  EXPECT_TRUE(matchesFilter(f, {"", "", 2817u, ""}));
  EXPECT_FALSE(matchesFilter(f, {"", "", 1u, ""}));
  EXPECT_TRUE(matchesFilter(f, {"", "", std::nullopt, "*:httpd_t:*"}));             // a holder
  EXPECT_TRUE(matchesFilter(f, {"", "", std::nullopt, "*:opensips_var_run_t:*"}));  // the label
  EXPECT_FALSE(matchesFilter(f, {"", "", std::nullopt, "*:sshd_t:*"}));
  // Without SELinux there is no context to match.
  EXPECT_FALSE(matchesFilter(socket("unix_stream", "/run/a.sock"), {"", "", std::nullopt, "*"}));
  EXPECT_TRUE(knownEndpointType("sysv_msg"));
  EXPECT_FALSE(knownEndpointType("pipe"));
}

TEST(EndpointListing, RendersColumnsAndJson) {
  const std::vector<ListedEndpoint> endpoints = {fifo(), socket("unix_stream", "@bus")};
  const std::string text = renderEndpointsText(endpoints);
  EXPECT_THAT(text, HasSubstr("TYPE         NAME                   OWNER  MODE  LABEL"));
  EXPECT_THAT(text, HasSubstr("2790/opensips(read system_u:system_r:opensips_t:s0),"
                              "2817/httpd(write system_u:system_r:httpd_t:s0)"));
  EXPECT_THAT(text, HasSubstr("unix_stream  @bus                   -      -     -"));
  EXPECT_THAT(text, HasSubstr("net:[4026531840]  -\n"));
  const std::string json = renderEndpointsJson(endpoints);
  EXPECT_THAT(json, HasSubstr("{\"type\":\"fifo\",\"name\":\"/run/opensips/mi_fifo\",\"uid\":0,"
                              "\"owner\":\"root\",\"gid\":0,\"mode\":\"0620\""));
  EXPECT_THAT(json, HasSubstr("\"holders\":[{\"pid\":2790,\"comm\":\"opensips\",\"context\":"
                              "\"system_u:system_r:opensips_t:s0\",\"direction\":\"read\"}"));
  EXPECT_THAT(json, HasSubstr("{\"type\":\"unix_stream\",\"name\":\"@bus\",\"label\":\"\","
                              "\"namespace\":{\"kind\":\"net\",\"inode\":4026531840},"
                              "\"holders\":[]}"));
  EXPECT_EQ(renderEndpointsJson({}), "[]\n");
}

}  // namespace
}  // namespace ipcwatch
