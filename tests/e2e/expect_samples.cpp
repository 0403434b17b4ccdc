// The gtest side of reading a scrape (agent_process.h): only the end-to-end tests link it.
#include <gtest/gtest.h>

#include "agent_process.h"

namespace ipcwatch::testing {

double sampleValue(const std::map<std::string, double>& samples, const std::string& name,
                   const std::map<std::string, std::string>& labels) {
  if (!hasFamily(samples, name)) {
    ADD_FAILURE() << "the scrape has no " << name << " series at all (looked for "
                  << sampleKey(name, labels) << "; " << samples.size() << " samples)";
    return 0;
  }
  return findSample(samples, name, labels).value_or(0);
}

::testing::AssertionResult seriesAbsent(const std::map<std::string, double>& samples,
                                        const std::string& name,
                                        const std::map<std::string, std::string>& labels) {
  if (!hasFamily(samples, name)) {
    return ::testing::AssertionFailure() << "the scrape has no " << name << " family at all";
  }
  const auto value = findSample(samples, name, labels);
  if (value) {
    return ::testing::AssertionFailure() << sampleKey(name, labels) << " is exported: " << *value;
  }
  return ::testing::AssertionSuccess() << sampleKey(name, labels) << " is absent";
}

}  // namespace ipcwatch::testing
