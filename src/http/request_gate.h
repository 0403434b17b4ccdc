#pragma once

#include <map>
#include <string>

#include <httplib.h>

#include "web/basic_auth.h"

namespace ipcwatch {

// What every request passes before a page sees it: the method (GET and HEAD only) and, when
// basic_auth_users is set, the credentials. Refusals carry none of the agent's content.
class RequestGate {
 public:
  explicit RequestGate(std::map<std::string, std::string> basic_auth_users);

  // The server's pre-routing handler: Unhandled passes the request on to its page, Handled
  // means `response` is the refusal.
  httplib::Server::HandlerResponse admit(const httplib::Request& request,
                                         httplib::Response& response) const;

  const BasicAuth& auth() const { return auth_; }

 private:
  BasicAuth auth_;
};

}  // namespace ipcwatch
