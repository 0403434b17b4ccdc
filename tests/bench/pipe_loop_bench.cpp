// Measures the cost the agent's syscall tracepoints add to ordinary IPC: a 1-byte pipe
// write+read loop, the worst case for per-syscall overhead. Prints nanoseconds per round trip
// (best of several runs, which filters out scheduling noise on a shared machine).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::atol(argv[1]) : 1000000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("pipe");
    return 1;
  }
  double best = 1e18;
  for (int run = 0; run < runs; ++run) {
    char byte = 'x';
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < iterations; ++i) {
      if (write(fds[1], &byte, 1) != 1 || read(fds[0], &byte, 1) != 1) {
        std::perror("pipe io");
        return 1;
      }
    }
    const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
    best = std::min(best, took.count() / static_cast<double>(iterations));
  }
  std::printf("%.1f\n", best);
  return 0;
}
