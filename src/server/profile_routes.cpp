// /api/profile routes (see profile_routes.h; docs/API.md).
#include "server/profile_routes.h"

#include "core/error.h"
#include "server/services.h"

namespace kioku::server {

using nlohmann::json;

namespace {

double number_field(const json& j, const char* name) {
  if (!j.contains(name) || !j[name].is_number()) throw invalid_input(std::string("'") + name + "' must be a number");
  return j[name].get<double>();
}

ApiResponse get_profile(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  int recent = 20;
  const std::string asked = req.param("recent");
  if (!asked.empty()) {
    try {
      recent = std::stoi(asked);
    } catch (const std::exception&) {
      recent = -1;
    }
    if (recent < 1 || recent > 500) throw invalid_input("recent must be a number from 1 to 500");
  }
  ApiResponse r;
  r.body = ctx->profile().document(ctx->user_id(), recent);
  return r;
}

ApiResponse put_emotion(Services& s, const ApiRequest& req) {
  const json j = req.json();
  if (!j.contains("emotion") || !j["emotion"].is_string()) throw invalid_input("'emotion' must be a string");
  const double intensity = j.contains("intensity") ? number_field(j, "intensity") : 0.6;
  auto ctx = s.context(req);
  ctx->profile().correct_emotion(ctx->user_id(), req.path_params.at(0), j["emotion"].get<std::string>(), intensity);
  ApiResponse r;
  r.body = ctx->profile().document(ctx->user_id());
  return r;
}

ApiResponse delete_emotion(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  if (!ctx->profile().forget_emotion(ctx->user_id(), req.path_params.at(0)))
    throw not_found("no emotion was read for message " + req.path_params.at(0));
  ApiResponse r;
  r.body = {{"forgotten", "emotion"}, {"message_id", req.path_params.at(0)}};
  return r;
}

ApiResponse put_strategy(Services& s, const ApiRequest& req) {
  const double weight = number_field(req.json(), "weight");
  auto ctx = s.context(req);
  ctx->profile().set_strategy_weight(ctx->user_id(), req.path_params.at(0), req.path_params.at(1), weight);
  ApiResponse r;
  r.body = ctx->profile().document(ctx->user_id());
  return r;
}

ApiResponse delete_strategy(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  if (!ctx->profile().forget_strategy(ctx->user_id(), req.path_params.at(0), req.path_params.at(1)))
    throw not_found("nothing was learned about " + req.path_params.at(1) + " for " + req.path_params.at(0));
  ApiResponse r;
  r.body = {{"forgotten", "strategy"}, {"emotion", req.path_params.at(0)}, {"strategy", req.path_params.at(1)}};
  return r;
}

ApiResponse put_pattern(Services& s, const ApiRequest& req) {
  const double affinity = number_field(req.json(), "affinity");
  auto ctx = s.context(req);
  ctx->profile().set_pattern(ctx->user_id(), req.path_params.at(0), req.path_params.at(1), affinity);
  ApiResponse r;
  r.body = ctx->profile().document(ctx->user_id());
  return r;
}

ApiResponse delete_pattern(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  if (!ctx->profile().forget_pattern(ctx->user_id(), req.path_params.at(0), req.path_params.at(1)))
    throw not_found("no pattern " + req.path_params.at(0) + " '" + req.path_params.at(1) + "' was learned");
  ApiResponse r;
  r.body = {{"forgotten", "pattern"}, {"kind", req.path_params.at(0)}, {"value", req.path_params.at(1)}};
  return r;
}

ApiResponse erase_part(Services& s, const ApiRequest& req) {
  auto ctx = s.context(req);
  ctx->profile().erase(ctx->user_id(), req.path_params.at(0));  // kInvalidInput for an unknown part
  ApiResponse r;
  r.body = {{"forgotten", req.path_params.at(0)}};
  return r;
}

}  // namespace

std::vector<Route> profile_routes() {
  const json emotion_schema = {
      {"type", "object"},
      {"required", {"emotion"}},
      {"properties",
       {{"emotion",
         {{"type", "string"}, {"enum", {"joy", "gratitude", "sadness", "anger", "anxiety", "loneliness", "neutral"}}}},
        {"intensity", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}}}}};
  const json weight_schema = {{"type", "object"},
                              {"required", {"weight"}},
                              {"properties", {{"weight", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}}}}};
  const json affinity_schema = {
      {"type", "object"},
      {"required", {"affinity"}},
      {"properties", {{"affinity", {{"type", "number"}, {"minimum", -0.95}, {"maximum", 0.95}}}}}};
  std::vector<Route> r;
  r.push_back({"GET",
               "/api/profile",
               "What the companion learned: emotions, support strategies (with weight history), importance "
               "patterns, conversation state",
               "profile",
               true,
               {{"recent", "integer", "emotion readings to include (1-500, default 20)"}},
               nullptr,
               false,
               false,
               get_profile});
  r.push_back({"PUT",
               "/api/profile/emotions/{message_id}",
               "Correct the emotion read in a message",
               "profile",
               true,
               {},
               emotion_schema,
               false,
               false,
               put_emotion});
  r.push_back({"DELETE",
               "/api/profile/emotions/{message_id}",
               "Forget the emotion read in a message",
               "profile",
               true,
               {},
               nullptr,
               false,
               false,
               delete_emotion});
  r.push_back({"PUT",
               "/api/profile/strategies/{emotion}/{strategy}",
               "Set how well a support strategy works (0-1)",
               "profile",
               true,
               {},
               weight_schema,
               false,
               false,
               put_strategy});
  r.push_back({"DELETE",
               "/api/profile/strategies/{emotion}/{strategy}",
               "Forget a strategy's learned weight and its history",
               "profile",
               true,
               {},
               nullptr,
               false,
               false,
               delete_strategy});
  r.push_back({"PUT",
               "/api/profile/patterns/{kind}/{value}",
               "Say how much a kind of memory matters (affinity -0.95..0.95)",
               "profile",
               true,
               {},
               affinity_schema,
               false,
               false,
               put_pattern});
  r.push_back({"DELETE",
               "/api/profile/patterns/{kind}/{value}",
               "Forget an importance pattern",
               "profile",
               true,
               {},
               nullptr,
               false,
               false,
               delete_pattern});
  r.push_back({"DELETE",
               "/api/profile/{part}",
               "Erase a part of the profile: emotions, strategies, patterns, conversation or all",
               "profile",
               true,
               {},
               nullptr,
               false,
               false,
               erase_part});
  return r;
}

}  // namespace kioku::server
