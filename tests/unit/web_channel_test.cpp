// The channel between the web process and the agent: what the agent answers, what it refuses.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "privsep/web_channel.h"
#include "privsep/web_process.h"

namespace ipcwatch {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// The header as the protocol lays it out (web_channel.cpp), for datagrams the tests forge.
struct Header {
  std::uint32_t magic;
  std::uint16_t version;
  std::uint16_t type;
  std::uint64_t id;
  std::uint64_t value;
};
constexpr std::uint32_t kMagic = 0x57435049;

Header header(WebMessage type, std::uint64_t id) {
  return {kMagic, 1, static_cast<std::uint16_t>(type), id, 0};
}

TEST(WebChannel, AMessageArrivesWhole) {
  auto [a, b] = WebChannel::pair();
  ASSERT_TRUE(a.send(WebMessage::kStartFailed, 7, 42, "cannot listen on 127.0.0.1:1"));
  const auto received = b.receive(5s);
  ASSERT_TRUE(received.message) << received.error;
  EXPECT_EQ(received.message->type, WebMessage::kStartFailed);
  EXPECT_EQ(received.message->id, 7u);
  EXPECT_EQ(received.message->value, 42u);
  EXPECT_EQ(received.message->text, "cannot listen on 127.0.0.1:1");
  EXPECT_FALSE(received.message->fd.valid());
}

TEST(WebChannel, ABodyOfManyMegabytesTravelsInAMemfd) {
  auto [a, b] = WebChannel::pair();
  std::string body(6 << 20, 'x');
  body.back() = 'y';
  ASSERT_TRUE(a.sendBody(3, body));
  const auto received = b.receive(5s);
  ASSERT_TRUE(received.message) << received.error;
  EXPECT_EQ(received.message->type, WebMessage::kBody);
  EXPECT_EQ(received.message->value, body.size());
  EXPECT_EQ(WebChannel::readBody(*received.message), body);
}

TEST(WebChannel, ForgedDatagramsAreRefused) {
  auto [a, b] = WebChannel::pair();
  const auto forged = [&a = a, &b = b](const void* data, std::size_t size) {
    EXPECT_EQ(send(a.fd(), data, size, 0), static_cast<ssize_t>(size));
    const auto received = b.receive(5s);
    EXPECT_FALSE(received.message);
    EXPECT_FALSE(received.closed);
    return received.error;
  };
  const char shorter[8] = {};
  EXPECT_THAT(forged(shorter, sizeof shorter), HasSubstr("shorter than a header"));
  Header wrong_magic = header(WebMessage::kGetMetrics, 1);
  wrong_magic.magic = 0;
  EXPECT_THAT(forged(&wrong_magic, sizeof wrong_magic), HasSubstr("not of this protocol"));
  Header wrong_version = header(WebMessage::kGetMetrics, 1);
  wrong_version.version = 2;
  EXPECT_THAT(forged(&wrong_version, sizeof wrong_version), HasSubstr("not of this protocol"));
  Header unknown = header(WebMessage::kGetMetrics, 1);
  unknown.type = 99;
  EXPECT_THAT(forged(&unknown, sizeof unknown), HasSubstr("unknown type 99"));
  std::string larger(sizeof(Header) + WebChannel::kMaxText + 100, 'a');
  const Header valid = header(WebMessage::kGetMetrics, 1);
  std::memcpy(larger.data(), &valid, sizeof valid);
  EXPECT_THAT(forged(larger.data(), larger.size()), HasSubstr("larger than the protocol allows"));
  // A descriptor may only come with a body; one sent with a request is closed, not kept.
  const auto open_descriptors = [] {
    return std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                         std::filesystem::directory_iterator());
  };
  const auto before = open_descriptors();
  ASSERT_TRUE(a.send(WebMessage::kGetMetrics, 2, 0, {}, STDIN_FILENO));
  const auto with_fd = b.receive(5s);
  EXPECT_FALSE(with_fd.message);
  EXPECT_THAT(with_fd.error, HasSubstr("1 descriptors attached"));
  EXPECT_EQ(open_descriptors(), before);
  // After all of that, a valid message still gets through.
  ASSERT_TRUE(a.send(WebMessage::kGetDenials, 3, 0));
  const auto next = b.receive(5s);
  ASSERT_TRUE(next.message) << next.error;
  EXPECT_EQ(next.message->type, WebMessage::kGetDenials);
}

TEST(WebChannel, ClosingOneEndIsSeenAtTheOther) {
  auto [a, b] = WebChannel::pair();
  a = WebChannel();
  const auto received = b.receive(5s);
  EXPECT_TRUE(received.closed);
  EXPECT_FALSE(received.message);
}

TEST(WebChannel, AReceiveTimesOutOrIsWoken) {
  auto [a, b] = WebChannel::pair();
  const auto timed_out = b.receive(10ms);
  EXPECT_FALSE(timed_out.message);
  EXPECT_FALSE(timed_out.closed);
  EXPECT_EQ(timed_out.error, "");
  int wake[2];
  ASSERT_EQ(pipe(wake), 0);
  ASSERT_EQ(write(wake[1], "x", 1), 1);
  const auto woken = b.receive(std::nullopt, wake[0]);
  EXPECT_FALSE(woken.message);
  EXPECT_FALSE(woken.closed);
  close(wake[0]);
  close(wake[1]);
}

TEST(WebRequestServer, AnswersTheRequestsItServesAndRefusesTheRest) {
  auto [agent, web] = WebChannel::pair();
  int metrics_calls = 0;
  WebPages pages;
  pages.metrics = [&metrics_calls] {
    ++metrics_calls;
    return std::string("ipcwatch_build_info 1\n");
  };
  WebRequestServer server(agent, std::move(pages));
  WebClient client(web, 10s);
  EXPECT_EQ(client.fetch(WebMessage::kGetMetrics), "ipcwatch_build_info 1\n");
  EXPECT_EQ(client.fetch(WebMessage::kGetMetrics), "ipcwatch_build_info 1\n");
  EXPECT_EQ(metrics_calls, 2);
  // No /denials page (the selinux collector is off): refused, with the reason.
  try {
    client.fetch(WebMessage::kGetDenials);
    ADD_FAILURE() << "a page the agent does not serve was answered";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("not a request this agent answers"));
  }
  // A message that is not a request is not one either.
  try {
    client.fetch(WebMessage::kServe);
    ADD_FAILURE() << "kServe was answered as a request";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("not a request this agent answers"));
  }
  // A forged datagram gets no answer: the first message back is the answer to the request
  // sent after it. And the server goes on answering.
  const char junk[24] = {};
  ASSERT_EQ(send(web.fd(), junk, sizeof junk, 0), 24);
  ASSERT_TRUE(web.send(WebMessage::kGetMetrics, 99, 0));
  const auto answer = web.receive(10s);
  ASSERT_TRUE(answer.message) << answer.error;
  EXPECT_EQ(answer.message->id, 99u);
  EXPECT_EQ(WebChannel::readBody(*answer.message), "ipcwatch_build_info 1\n");
  EXPECT_EQ(metrics_calls, 3);
}

TEST(WebRequestServer, ARenderingFailureIsAnsweredWithItsReason) {
  auto [agent, web] = WebChannel::pair();
  WebPages pages;
  pages.metrics = []() -> std::string { throw std::runtime_error("the registry is stopping"); };
  pages.denials = [] { return std::string("no denials\n"); };
  WebRequestServer server(agent, std::move(pages));
  WebClient client(web, 10s);
  try {
    client.fetch(WebMessage::kGetMetrics);
    ADD_FAILURE() << "a failed rendering was answered with a body";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("the registry is stopping"));
  }
  EXPECT_EQ(client.fetch(WebMessage::kGetDenials), "no denials\n");
}

TEST(WebClient, AnAnswerToAnotherRequestIsNotTakenForItsOwn) {
  auto [agent, web] = WebChannel::pair();
  WebClient client(web, 10s);
  std::thread agent_side([&agent = agent] {
    const auto request = agent.receive(5s);
    ASSERT_TRUE(request.message);
    // The late answer to a request that had given up, then the answer to this one.
    agent.sendBody(request.message->id - 1, "stale\n");
    agent.sendBody(request.message->id, "fresh\n");
  });
  EXPECT_EQ(client.fetch(WebMessage::kGetMetrics), "fresh\n");
  agent_side.join();
}

TEST(WebClient, ARequestNobodyAnswersTimesOut) {
  auto [agent, web] = WebChannel::pair();
  WebClient client(web, 50ms);
  try {
    client.fetch(WebMessage::kGetMetrics);
    ADD_FAILURE() << "an unanswered request returned";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("did not answer within 50 ms"));
  }
}

TEST(WebClient, AClosedChannelFailsTheRequest) {
  auto [agent, web] = WebChannel::pair();
  WebClient client(web, 10s);
  agent = WebChannel();
  EXPECT_THROW(client.fetch(WebMessage::kGetMetrics), WebChannelClosed);
}

}  // namespace
}  // namespace ipcwatch
