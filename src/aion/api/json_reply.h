// The JSON reply every route sends: a Response with the value serialized, bytes that are not
// UTF-8 (log lines, job output and names) replaced rather than failing the request. Internal
// to the api module's route files. A pure function; thread-safe.
#pragma once

#include "aion/api/http.h"
#include "aion/core/json.h"

namespace aion::api {

inline Response json_reply(int status, const Json& j) {
  return Response::json_text(status, j.dump(-1, ' ', false, Json::error_handler_t::replace));
}

}  // namespace aion::api
