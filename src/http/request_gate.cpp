#include "http/request_gate.h"

namespace ipcwatch {
namespace {

httplib::Server::HandlerResponse refuse(httplib::Response& response, int status, const char* header,
                                        const char* value, const char* body) {
  response.status = status;
  response.set_header(header, value);
  response.set_content(body, "text/plain; charset=utf-8");
  return httplib::Server::HandlerResponse::Handled;
}

}  // namespace

RequestGate::RequestGate(std::map<std::string, std::string> basic_auth_users)
    : auth_(std::move(basic_auth_users)) {}

httplib::Server::HandlerResponse RequestGate::admit(const httplib::Request& request,
                                                    httplib::Response& response) const {
  if (request.method != "GET" && request.method != "HEAD") {
    return refuse(response, 405, "Allow", "GET, HEAD", "Method Not Allowed\n");
  }
  if (auth_.enabled()) {
    const bool given = request.has_header("Authorization");
    const std::string authorization = request.get_header_value("Authorization");
    if (!auth_.allows(given ? authorization.c_str() : nullptr)) {
      return refuse(response, 401, "WWW-Authenticate",
                    "Basic realm=\"ipcwatch\", charset=\"UTF-8\"", "Unauthorized\n");
    }
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

}  // namespace ipcwatch
