// The API's routes without cpp-httplib: handlers see an ApiRequest and give an
// ApiResponse, so only server.cpp includes <httplib.h> (it is heavy to
// compile) and handlers stay testable on their own.
// Handlers throw kioku::Error for failures; server.cpp turns every exception
// into a JSON error body.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kioku::server {

struct UploadedFile {
  std::string field;
  std::string filename;
  std::string content_type;
  std::string content;
};

struct ApiRequest {
  std::string method;
  std::string path;
  std::vector<std::string> path_params;  // the {placeholders} of the route, in order
  std::multimap<std::string, std::string> query;
  std::map<std::string, std::string> form;  // plain multipart fields
  std::vector<UploadedFile> files;
  std::string body;
  bool wants_event_stream = false;  // Accept: text/event-stream or ?stream=1
  std::map<std::string, std::string> headers;  // names lower-cased (Authorization is not copied)
  // Who the request's token belongs to (set by the server before routing;
  // every handler reads and writes this user's data only).
  std::string user_id;
  bool admin = false;

  // A request header by lower-case name, or "".
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }

  // The query parameter, or fallback when absent.
  std::string param(const std::string& name, const std::string& fallback = "") const;
  // All values of a repeatable parameter, commas split too ("a,b" == a&b).
  std::vector<std::string> params(const std::string& name) const;
  // Parses the body as a JSON object (kInvalidInput otherwise).
  nlohmann::json json() const;
};

// Writes Server-Sent Events. write() returns false once the client is gone;
// callers finish their work (it is stored) but stop writing.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual bool write(std::string_view event, std::string_view data) = 0;
};

struct ApiResponse {
  int status = 200;
  nlohmann::json body = nlohmann::json::object();
  // When set, the response is an SSE stream produced by calling this on the
  // worker thread after the handler returned.
  std::function<void(EventSink&)> stream;
  // When content_type is set, raw is sent as is instead of body (media files).
  std::string content_type;
  std::string raw;
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers
};

class Services;  // per-server state: context pools, settings (api_routes.cpp)

struct QueryParamDoc {
  std::string name;
  std::string type = "string";  // OpenAPI scalar type
  std::string description;
};

struct Route {
  std::string method;  // GET POST PUT DELETE
  std::string path;    // OpenAPI style: /api/memory/{id}
  std::string summary;
  std::string tag;
  bool auth = true;
  std::vector<QueryParamDoc> query;
  nlohmann::json request_schema;  // null = no body
  bool multipart = false;
  bool streams = false;  // may answer text/event-stream
  std::function<ApiResponse(Services&, const ApiRequest&)> handler;
  bool admin_only = false;  // 403 for a token of a user who is not an admin
};

// Under <data>/uploads: files of uploads whose memories are not committed
// yet. Whatever is there when a server starts was left by a crash.
inline constexpr const char* kIncomingUploads = ".incoming";
// Removes what interrupted uploads left behind (returns how many files).
int sweep_interrupted_uploads(const std::filesystem::path& data_dir);

struct ServicesConfig;
// Every API route, in the order they are registered.
std::vector<Route> api_routes();
// The OpenAPI 3 document for routes.
nlohmann::json openapi_document(const std::vector<Route>& routes, const std::string& version);

}  // namespace kioku::server
